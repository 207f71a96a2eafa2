"""Export a process definition as executable BPMN 2.0 XML, laid out for modellers.

Owns writing the document: the semantic model of ``engine.bpmn_model`` as BPMN elements (an
executable ``process``, ``message`` elements, user tasks with their candidate group, gateways with
conditions, boundary and catch events with ISO 8601 timers), our extension (``engine.bpmn_ext``) so
the file imports back (``engine.bpmn_import``), and the diagram interchange of ``engine.bpmn_layout``.

Two dialects. ``default``: standard BPMN with Python expressions (SpiffWorkflow evaluates them; the
definitions' ``expressionLanguage`` says so): conditions such as ``outcome == "reject_refund"`` or
``guard_within_payment_period == True``, timer values as Python string literals (``"P30D"``), candidate
groups as ``potentialOwner``. ``camunda7`` (``engine.bpmn_camunda``): JUEL expressions (``${...}``),
bare ISO 8601 timer values, ``camunda:candidateGroups``/``dueDate``/``formData``,
``camunda:historyTimeToLive`` and ``modeler:executionPlatform``. Guards are domain code: a gateway
tests ``guard_<name>``, a variable the engine running the process sets when the guard passes.

Timers that name the region's policy (``policy: payment_period.end``, ``after: {policy: ...}``) carry
the policy's real value: the caller resolves them (``PolicyValues``; the engine knows no policy file)
and ``shebao:timer`` records which policy value it was, so an import can tell a changed duration.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from engine import bpmn_camunda as camunda
from engine import bpmn_ext as ext
from engine.bpmn_build import build_model
from engine.bpmn_expr import CAMUNDA, DIALECTS, PYTHON, PYTHON_LANGUAGE, condition, timer_value
from engine.bpmn_layout import Layout, layout
from engine.bpmn_model import Node, ProcessModel, SeqFlow, doors, message_id
from engine.specs import Label, ProcessDefinition, TimerSpec

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "camunda": camunda.CAMUNDA,
    "modeler": camunda.MODELER,
    "shebao": ext.URI,
}
TARGET_NAMESPACE = "urn:shebao-workflow:processes"
EXPORTER_VERSION = "3"
for _prefix in ("bpmn", "bpmndi", "dc", "di", "xsi"):
    ET.register_namespace(_prefix, NS[_prefix])


class BpmnExportError(ValueError):
    """The definition cannot be exported as asked (a policy timer and no policy to resolve it)."""


@dataclass(frozen=True)
class PolicyValues:
    """A region's policy values for the export's timers.

    Attributes:
        policy: the policy's id (``huian-2023``).
        values: dotted path -> ISO 8601 text: an instant for a date (``payment_period.end`` ->
            ``2023-01-01T00:00:00+08:00``), a duration for a duration (``P30D``).
    """

    policy: str
    values: Mapping[str, str]


def timer_text(timer: TimerSpec, policy: PolicyValues | None, where: str) -> str:
    """The ISO 8601 value of one timer (its duration, or the policy's date or duration)."""
    if timer.after is not None:
        return timer.after.text
    assert timer.policy is not None
    if policy is None or timer.policy not in policy.values:
        named = f"policy {policy.policy!r}" if policy else "no policy"
        raise BpmnExportError(
            f"{where}: the timer needs {timer.policy!r} from a region's policy ({named} given); "
            "export with a policy (shebao bpmn PROCESS --policy REGION-YEAR)"
        )
    return policy.values[timer.policy]


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _sub(
    parent: ET.Element, prefix: str, tag: str, text: str | None = None, /, **attrs: str
) -> ET.Element:
    element = ET.SubElement(parent, _q(prefix, tag), attrs)
    if text is not None:
        element.text = text
    return element


def _expression(parent: ET.Element, name: str, text: str) -> None:
    _sub(parent, "bpmn", name, text, **{_q("xsi", "type"): "bpmn:tFormalExpression"})


class _Writer:
    def __init__(
        self, model: ProcessModel, lang: str, dialect: str, policy: PolicyValues | None
    ) -> None:
        self.model, self.d = model, model.definition
        self.lang, self.dialect, self.policy = lang, dialect, policy
        self.other = "en" if lang == "zh" else "zh"
        self.policy_id = policy.policy if policy else None

    def named(self, element: ET.Element, label: Label | None) -> None:
        if label is not None:
            element.set("name", label.get(self.lang))
            _sub(element, "bpmn", "documentation", label.get(self.other))

    def extensions(self, element: ET.Element) -> ET.Element:
        found = element.find(_q("bpmn", "extensionElements"))
        return found if found is not None else _sub(element, "bpmn", "extensionElements")

    def document(self, where: Layout) -> ET.Element:
        attrs = {
            "id": f"definitions_{self.d.key}",
            "targetNamespace": TARGET_NAMESPACE,
            "exporter": "shebao-workflow",
            "exporterVersion": EXPORTER_VERSION,
        }
        if self.dialect == PYTHON:
            attrs["expressionLanguage"] = PYTHON_LANGUAGE
        else:
            attrs.update(camunda.definitions_attrs())
        root = ET.Element(_q("bpmn", "definitions"), attrs)
        for event in self.model.messages:
            _sub(root, "bpmn", "message", id=message_id(event), name=event)
        self.process(root)
        self.diagram(root, where)
        return root

    def process(self, root: ET.Element) -> None:
        attrs = {"id": f"process_{self.d.key}", "isExecutable": "true"}
        if self.dialect == CAMUNDA:
            attrs.update(camunda.process_attrs(self.d.history_ttl))
        process = _sub(root, "bpmn", "process", **attrs)
        self.named(process, self.d.label)
        extensions = self.extensions(process)
        ext.write_process(extensions, self.d.version, self.lang, self.policy_id, self.d.history_ttl)
        for event in self.d.events.values():
            ext.write_event(extensions, event)
        for node in self.model.nodes.values():
            self.node(process, node)
        for flow in self.model.flows:
            self.flow(process, flow)

    def node(self, process: ET.Element, node: Node) -> None:
        element = _sub(process, "bpmn", node.kind, id=node.id)
        self.named(element, node.name)
        spec = self.d.states.get(node.state or "") if node.role == "state" else None
        if spec is not None and spec.task is not None and self.dialect == CAMUNDA:
            named = spec.task.due_policy
            policy_due = self.policy.values.get(named) if self.policy and named else None
            for key, value in camunda.task_attrs(spec.task, policy_due).items():
                element.set(key, value)
            outcomes = [self.d.events[e] for e in spec.task.events]
            camunda.form_data(self.extensions(element), spec.task, outcomes, self.lang)
        if spec is not None and spec.tags:
            ext.write_state(self.extensions(element), spec.tags)
        if spec is not None and spec.task is not None:
            ext.write_task(self.extensions(element), spec.task)
        if node.timer is not None:
            assert node.state is not None
            timer = self.d.states[node.state].timers[node.timer]
            value = timer_text(timer, self.policy, f"{self.d.key}: state {node.state!r}")
            ext.write_timer(self.extensions(element), timer, self.policy_id, value)
        if node.attached_to:
            element.set("attachedToRef", node.attached_to)
            element.set("cancelActivity", "true" if node.interrupting else "false")
        if node.default:
            element.set("default", node.default)
        if node.kind == "receiveTask":
            assert node.message is not None
            element.set("messageRef", message_id(node.message))
        for flow in self.model.incoming(node.id):
            _sub(element, "bpmn", "incoming", flow.id)
        for flow in self.model.outgoing(node.id):
            _sub(element, "bpmn", "outgoing", flow.id)
        if spec is not None and spec.task is not None and self.dialect == PYTHON:
            owner = _sub(element, "bpmn", "potentialOwner", id=f"owner_{node.state}")
            assignment = _sub(owner, "bpmn", "resourceAssignmentExpression")
            _sub(assignment, "bpmn", "formalExpression", spec.task.candidate_group)
        if node.kind in ("intermediateCatchEvent", "boundaryEvent"):
            self.event_definition(element, node)

    def event_definition(self, element: ET.Element, node: Node) -> None:
        if node.message is not None:
            _sub(
                element,
                "bpmn",
                "messageEventDefinition",
                id=f"{node.id}_message",
                messageRef=message_id(node.message),
            )
            return
        assert node.state is not None and node.timer is not None
        timer = self.d.states[node.state].timers[node.timer]
        value = timer_text(timer, self.policy, f"{self.d.key}: state {node.state!r}")
        definition = _sub(element, "bpmn", "timerEventDefinition", id=f"{node.id}_timer")
        kind = "timeDate" if timer.policy and not timer.policy_duration else "timeDuration"
        _expression(definition, kind, timer_value(value, self.dialect))

    def flow(self, process: ET.Element, flow: SeqFlow) -> None:
        element = _sub(
            process,
            "bpmn",
            "sequenceFlow",
            id=flow.id,
            sourceRef=flow.source,
            targetRef=flow.target,
        )
        self.named(element, flow.name)
        if flow.condition is not None:
            _expression(element, "conditionExpression", condition(flow.condition, self.dialect))

    def diagram(self, root: ET.Element, where: Layout) -> None:
        diagram = _sub(root, "bpmndi", "BPMNDiagram", id=f"diagram_{self.d.key}")
        plane = _sub(
            diagram,
            "bpmndi",
            "BPMNPlane",
            id=f"plane_{self.d.key}",
            bpmnElement=f"process_{self.d.key}",
        )
        for node in self.model.nodes.values():
            attrs = {"id": f"{node.id}_di", "bpmnElement": node.id}
            if node.kind == "exclusiveGateway":
                attrs["isMarkerVisible"] = "true"
            shape = _sub(plane, "bpmndi", "BPMNShape", **attrs)
            _bounds(shape, where.shapes[node.id])
            if node.id in where.labels:
                _bounds(_sub(shape, "bpmndi", "BPMNLabel"), where.labels[node.id])
        for flow in self.model.flows:
            edge = _sub(plane, "bpmndi", "BPMNEdge", id=f"{flow.id}_di", bpmnElement=flow.id)
            for x, y in where.edges[flow.id]:
                _sub(edge, "di", "waypoint", x=f"{x:g}", y=f"{y:g}")
            if flow.id in where.labels:
                _bounds(_sub(edge, "bpmndi", "BPMNLabel"), where.labels[flow.id])


def _bounds(parent: ET.Element, box: tuple[float, float, float, float]) -> None:
    x, y, w, h = box
    _sub(parent, "dc", "Bounds", x=f"{x:g}", y=f"{y:g}", width=f"{w:g}", height=f"{h:g}")


def to_bpmn(
    definition: ProcessDefinition,
    lang: str = "zh",
    *,
    dialect: str = PYTHON,
    policy: PolicyValues | None = None,
    where: Layout | None = None,
) -> bytes:
    """The definition as a BPMN 2.0 document (UTF-8 bytes) with its diagram.

    Args:
        definition: the process.
        lang: ``zh`` or ``en`` for every ``name`` (the other language goes to ``documentation``).
        dialect: ``default`` (Python expressions) or ``camunda7`` (JUEL, Camunda attributes).
        policy: the region's values for timers that name the policy.
        where: a layout to use (laid out with Graphviz when not given).

    Raises:
        BpmnExportError: a timer names the policy and ``policy`` does not give its value.
        GraphvizMissing: no layout given and Graphviz's ``dot`` is not installed.
    """
    if dialect not in DIALECTS:
        raise BpmnExportError(f"unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    for name, spec in definition.states.items():
        if definition.automatic_from(name) and not spec.final and not doors(definition, name):
            raise BpmnExportError(
                f"{definition.key}: state {name!r} is left only by automatic events, so when "
                "none of them fires an instance waits there for nothing BPMN can say; give it a "
                "task, a timer or an event outside callers send, or let the events that enter it "
                "lead where its automatic events do"
            )
    model = build_model(definition)
    writer = _Writer(model, lang, dialect, policy)
    for name, spec in definition.states.items():
        for timer in spec.timers:
            timer_text(timer, policy, f"{definition.key}: state {name!r}")
    root = writer.document(where or layout(model, lang))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
