"""Export a process definition as BPMN 2.0 XML, laid out from Graphviz so that modellers show it.

Owns the mapping from a definition to BPMN's semantic model and its diagram interchange (DI):
a state with a task is a ``userTask`` (candidate group as ``potentialOwner`` and Camunda's
``candidateGroups``), a state that waits for an outside message a ``receiveTask``, a final state
without a task a plain ``task`` followed by an ``endEvent``; initial states follow ``startEvent``s;
each event from each source is a ``sequenceFlow``; timers are ``boundaryEvent``s with a
``timeDuration`` or a policy ``timeDate``. Shapes and edges come from ``dot -Tjson`` of the same
graph ``engine.diagram`` draws.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from engine.definition import ProcessDefinition, TimerSpec
from engine.diagram import Flow, flows_of, run_dot, state_id, timer_id, to_dot

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
TARGET_NAMESPACE = "urn:shebao-workflow:processes"
BOUNDARY_SIZE = 24.0
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

Point = tuple[float, float]


@dataclass(frozen=True)
class Layout:
    """Where Graphviz put things, in BPMN's coordinates (points, y pointing down).

    Attributes:
        shapes: node id -> (x, y, width, height) of its bounds.
        edges: flow id -> waypoints.
    """

    shapes: dict[str, tuple[float, float, float, float]]
    edges: dict[str, list[Point]]


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _spline(pos: str, flip: float) -> list[Point]:
    """Waypoints of a Graphviz spline: each Bézier segment's ends and middle, then the arrow tip."""
    tip: Point | None = None
    points: list[Point] = []
    for token in pos.split():
        if token.startswith(("e,", "s,")):
            x, y = token[2:].split(",")
            if token[0] == "e":
                tip = (float(x), float(y))
            continue
        x, y = token.split(",")
        points.append((float(x), float(y)))
    out = [points[0]]
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[i : i + 4]
        mid_x = (p0[0] + 3 * p1[0] + 3 * p2[0] + p3[0]) / 8  # the curve at t = 1/2
        mid_y = (p0[1] + 3 * p1[1] + 3 * p2[1] + p3[1]) / 8
        out += [(mid_x, mid_y), p3]
    if tip:
        out.append(tip)
    return [(round(x, 2), round(flip - y, 2)) for x, y in out]


def layout(definition: ProcessDefinition, lang: str = "zh") -> Layout:
    """Lay out the diagram's graph with ``dot -Tjson`` and place boundary timers on their states."""
    graph = json.loads(run_dot(to_dot(definition, lang), "json"))
    height = float(graph["bb"].split(",")[3])
    shapes: dict[str, tuple[float, float, float, float]] = {}
    for node in graph.get("objects", []):
        x, y = (float(v) for v in node["pos"].split(","))
        w, h = float(node["width"]) * 72, float(node["height"]) * 72
        shapes[node["name"]] = (
            round(x - w / 2, 2),
            round(height - y - h / 2, 2),
            round(w, 2),
            round(h, 2),
        )
    edges = {edge["id"]: _spline(edge["pos"], height) for edge in graph.get("edges", [])}
    for flow in flows_of(definition):
        if flow.timer is None or flow.source_state is None:
            continue
        x, y, w, h = shapes[flow.source]
        centre_x, centre_y = edges[flow.id][0][0], y + h
        half = BOUNDARY_SIZE / 2
        shapes[timer_id(flow.source_state, flow.timer)] = (
            round(centre_x - half, 2),
            round(centre_y - half, 2),
            BOUNDARY_SIZE,
            BOUNDARY_SIZE,
        )
        edges[flow.id][0] = (centre_x, centre_y + half)
    return Layout(shapes, edges)


def _sub(
    parent: ET.Element, prefix: str, tag: str, text: str | None = None, /, **attrs: str
) -> ET.Element:
    element = ET.SubElement(parent, _q(prefix, tag), attrs)
    if text is not None:
        element.text = text
    return element


def _expression(parent: ET.Element, name: str, text: str) -> None:
    _sub(parent, "bpmn", name, text, **{_q("xsi", "type"): "bpmn:tFormalExpression"})


def _timer(
    process: ET.Element, state: str, index: int, timer: TimerSpec, internal: bool
) -> ET.Element:
    boundary = _sub(
        process,
        "bpmn",
        "boundaryEvent",
        id=timer_id(state, index),
        attachedToRef=state_id(state),
        cancelActivity="false" if internal else "true",
    )
    if timer.policy:
        what = "duration" if timer.policy_duration else "date"
        _sub(
            boundary, "bpmn", "documentation", f"policy {what}: {timer.policy} (region policy file)"
        )
    return boundary


def _flow_ends(flows: list[Flow]) -> dict[str, tuple[str, str]]:
    """flow id -> (BPMN source id, BPMN target id): timer flows leave from their boundary event."""
    return {
        f.id: (
            timer_id(f.source_state, f.timer)
            if f.timer is not None and f.source_state
            else f.source,
            f.target,
        )
        for f in flows
    }


def to_bpmn(definition: ProcessDefinition, lang: str = "zh", where: Layout | None = None) -> bytes:
    """The definition as a BPMN 2.0 document (UTF-8 bytes), with DI shapes and edges.

    Args:
        definition: the process.
        lang: ``zh`` or ``en`` for every ``name``.
        where: a layout to use (laid out with Graphviz when not given).
    """
    where = where or layout(definition, lang)
    flows = flows_of(definition)
    ends = _flow_ends(flows)
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for flow_id, (source, target) in ends.items():
        outgoing.setdefault(source, []).append(flow_id)
        incoming.setdefault(target, []).append(flow_id)

    def links(element: ET.Element, node: str) -> None:
        for flow_id in incoming.get(node, []):
            _sub(element, "bpmn", "incoming", flow_id)
        for flow_id in outgoing.get(node, []):
            _sub(element, "bpmn", "outgoing", flow_id)

    root = ET.Element(
        _q("bpmn", "definitions"),
        {
            "id": f"definitions_{definition.key}",
            "targetNamespace": TARGET_NAMESPACE,
            "exporter": "shebao-workflow",
            "exporterVersion": str(definition.version),
        },
    )
    process_id = f"process_{definition.key}"
    process = _sub(
        root,
        "bpmn",
        "process",
        id=process_id,
        name=definition.label.get(lang),
        isExecutable="false",
    )
    for state in definition.initial:
        links(_sub(process, "bpmn", "startEvent", id=f"start_{state}"), f"start_{state}")
    for name, spec in definition.states.items():
        kind = "userTask" if spec.task else "task" if spec.final else "receiveTask"
        attrs = {"id": state_id(name), "name": spec.label.get(lang)}
        if spec.task:
            attrs[_q("camunda", "candidateGroups")] = spec.task.candidate_group
        activity = _sub(process, "bpmn", kind, **attrs)
        if spec.task:
            _sub(
                activity, "bpmn", "documentation", f"{spec.task.name}: {spec.task.label.get(lang)}"
            )
        links(activity, state_id(name))
        if spec.task:
            owner = _sub(activity, "bpmn", "potentialOwner", id=f"owner_{name}")
            assignment = _sub(owner, "bpmn", "resourceAssignmentExpression")
            _expression(assignment, "formalExpression", spec.task.candidate_group)
        for index, timer in enumerate(spec.timers):
            internal = definition.events[timer.event].is_internal_from(name)
            boundary = _timer(process, name, index, timer, internal)
            links(boundary, timer_id(name, index))
            definition_el = _sub(boundary, "bpmn", "timerEventDefinition")
            if timer.after:
                _expression(definition_el, "timeDuration", timer.after.text)
            elif timer.policy_duration:
                _expression(definition_el, "timeDuration", f"${{policy:{timer.policy}}}")
            else:
                _expression(definition_el, "timeDate", f"${{policy:{timer.policy}}}")
    for state in definition.final_states:
        links(_sub(process, "bpmn", "endEvent", id=f"end_{state}"), f"end_{state}")
    for flow in flows:
        source, target = ends[flow.id]
        attrs = {"id": flow.id, "sourceRef": source, "targetRef": target}
        event = definition.events[flow.event] if flow.event else None
        if event:
            attrs["name"] = event.label.get(lang)
        element = _sub(process, "bpmn", "sequenceFlow", **attrs)
        if event and event.guards:
            _sub(element, "bpmn", "documentation", "guard: " + ", ".join(event.guards))
        if event and flow.timer is None:
            _expression(element, "conditionExpression", f"${{event == '{event.name}'}}")

    diagram = _sub(root, "bpmndi", "BPMNDiagram", id=f"diagram_{definition.key}")
    plane = _sub(
        diagram, "bpmndi", "BPMNPlane", id=f"plane_{definition.key}", bpmnElement=process_id
    )
    for node, (x, y, w, h) in where.shapes.items():
        shape = _sub(plane, "bpmndi", "BPMNShape", id=f"{node}_di", bpmnElement=node)
        _sub(shape, "dc", "Bounds", x=f"{x:g}", y=f"{y:g}", width=f"{w:g}", height=f"{h:g}")
    for flow_id, points in where.edges.items():
        edge = _sub(plane, "bpmndi", "BPMNEdge", id=f"{flow_id}_di", bpmnElement=flow_id)
        for x, y in points:
            _sub(edge, "di", "waypoint", x=f"{x:g}", y=f"{y:g}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
