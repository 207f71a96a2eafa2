"""Reading a BPMN process as the engine sees it: its states and the ways out of each.

Owns the walk over the sequence flows of one ``bpmn:process`` for ``engine.bpmn_import``: which
elements are states (ids ``state_<name>``), and for each state its *doors* (a task outcome, a
message, a timer): the event each fires, the state it leads to through joining and guard gateways,
and the guards those gateways test; and the automatic events tried on entering a state (the
conditional flows ``flow_<event>__<state>__auto`` of the gateway ``auto_<state>`` whose default
flow leads into the state). What the engine cannot run is refused with ``BpmnImportError`` naming
the element: an element of another kind, a flow that splits without a gateway, a guard gateway
whose refusal does not return to the state, a condition in another language.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine import bpmn_ext as ext
from engine.bpmn_expr import ExpressionError, parse_condition
from engine.bpmn_model import Condition

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FLOW_EVENT = re.compile(r"^flow_([a-z][a-z0-9_]*?)__([a-z][a-z0-9_]*)$")
SUPPORTED = (
    "startEvent",
    "endEvent",
    "userTask",
    "receiveTask",
    "exclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
)
IGNORED = ("sequenceFlow", "documentation", "extensionElements", "textAnnotation", "association")


class BpmnImportError(ValueError):
    """The file cannot become a definition; ``element`` is the id of the element at fault."""

    def __init__(self, element: str | None, problem: str) -> None:
        super().__init__(f"{element}: {problem}" if element else problem)
        self.element = element
        self.problem = problem


def b_tag(tag: str) -> str:
    return f"{{{BPMN}}}{tag}"


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str | None
    other: str | None
    condition: str | None


@dataclass
class Door:
    """One way out of a state found in the diagram."""

    state: str
    event: str
    target: str
    guards: tuple[str, ...]
    element: str
    kind: str  # "task", "message", "timer", "auto"
    label: tuple[str | None, str | None] = (None, None)  # (export language, other)
    timer: ET.Element | None = None


@dataclass
class Reader:
    process: ET.Element
    lang: str
    messages: dict[str, str]
    nodes: dict[str, ET.Element] = field(default_factory=dict)
    flows: dict[str, _Flow] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for child in self.process:
            kind = local(child.tag)
            ident = child.get("id", "")
            if kind == "sequenceFlow":
                doc = child.find(b_tag("documentation"))
                cond = child.find(b_tag("conditionExpression"))
                self.flows[ident] = _Flow(
                    ident,
                    child.get("sourceRef", ""),
                    child.get("targetRef", ""),
                    child.get("name"),
                    doc.text if doc is not None else None,
                    (cond.text or "").strip() if cond is not None else None,
                )
            elif kind in SUPPORTED:
                self.nodes[ident] = child
            elif kind not in IGNORED:
                raise BpmnImportError(
                    ident or kind,
                    f"the engine cannot run a bpmn:{kind}; it runs "
                    + ", ".join(f"bpmn:{k}" for k in SUPPORTED),
                )
        for flow in self.flows.values():
            for end in (flow.source, flow.target):
                if end not in self.nodes:
                    raise BpmnImportError(flow.id, f"the flow's end {end!r} is not a flow node")

    # -- graph -------------------------------------------------------------------------------

    def kind(self, node: str) -> str:
        return local(self.nodes[node].tag)

    def out(self, node: str) -> list[_Flow]:
        return [f for f in self.flows.values() if f.source == node]

    def state_of(self, node: str) -> str | None:
        if node.startswith("state_") and self.kind(node) != "exclusiveGateway":
            return node[len("state_") :]
        return None

    def is_auto(self, node: str) -> bool:
        """Whether ``node`` is the gateway a state with automatic events is entered through."""
        return node.startswith("auto_") and self.kind(node) == "exclusiveGateway"

    def auto_state(self, gateway: str) -> str:
        """The state an automatic gateway's default flow leads into (where the instance waits
        when no automatic event fires)."""
        default = self.nodes[gateway].get("default")
        found = self.state_of(self.arrive(self.flows[default].target)) if default else None
        if default not in self.flows or found is None:
            raise BpmnImportError(
                gateway,
                "an automatic gateway (auto_<state>) has a default flow into its state, taken "
                "when no automatic event fires",
            )
        return found

    def auto_doors(self, gateway: str) -> Iterator[Door]:
        """The automatic events tried on entering a state: one conditional flow each."""
        state = self.auto_state(gateway)
        default = self.nodes[gateway].get("default")
        for flow in self.out(gateway):
            if flow.id == default:
                continue
            cond = self.condition(flow)
            if cond.outcome or cond.start_state:
                raise BpmnImportError(flow.id, "an automatic gateway tests guards only")
            prefix, suffix = "flow_", f"__{state}__auto"
            event = flow.id[len(prefix) : -len(suffix)]
            if not (flow.id.startswith(prefix) and flow.id.endswith(suffix) and NAME.match(event)):
                raise BpmnImportError(
                    flow.id,
                    f"which automatic event is this? give the flow the id flow_<event>{suffix}",
                )
            yield Door(
                state,
                event,
                self.target(flow),
                cond.guards,
                flow.id,
                "auto",
                (flow.name, flow.other),
            )

    def one_out(self, node: str) -> _Flow:
        flows = self.out(node)
        if len(flows) != 1:
            raise BpmnImportError(
                node, f"expected one outgoing flow, found {len(flows)} (split with a gateway)"
            )
        return flows[0]

    def arrive(self, node: str) -> str:
        """Through joining gateways to the next element that is not one."""
        seen = set()
        while self.kind(node) == "exclusiveGateway" and len(self.out(node)) == 1:
            if node in seen:
                raise BpmnImportError(node, "joining gateways that loop on themselves")
            seen.add(node)
            node = self.out(node)[0].target
        return node

    def condition(self, flow: _Flow) -> Condition:
        try:
            return parse_condition(flow.condition or "")
        except ExpressionError as exc:
            raise BpmnImportError(flow.id, str(exc)) from None

    def lead(self, door: str, state: str) -> tuple[str, tuple[str, ...], _Flow]:
        """Where the one flow out of a door leads: (target state, guards, accepted flow); a
        guard gateway's default flow must return to ``state``; "@done" for an end of its own."""
        flow = self.one_out(door)
        node = self.arrive(flow.target)
        if self.kind(node) == "exclusiveGateway" and not self.is_auto(node):
            accepted, guards = self.guarded(node, state)
            return self.target(accepted), guards, accepted
        if self.kind(node) == "endEvent" and self.state_of(node) is None:
            return "@done", (), flow
        return self.target(flow), (), flow

    def guarded(self, gateway: str, state: str) -> tuple[_Flow, tuple[str, ...]]:
        default = self.nodes[gateway].get("default")
        conditional = [f for f in self.out(gateway) if f.id != default]
        if default is None or len(conditional) != 1:
            raise BpmnImportError(
                gateway, "a guard gateway has one conditional flow and a default flow back"
            )
        self.returns(self.flows[default], state)
        cond = self.condition(conditional[0])
        if cond.outcome or cond.start_state:
            raise BpmnImportError(conditional[0].id, "a guard gateway tests guards only")
        return conditional[0], cond.guards

    def returns(self, flow: _Flow, state: str) -> None:
        if self.target(flow) != state:
            raise BpmnImportError(
                flow.id,
                f"a refused event stays in its state: this default flow must lead back "
                f"to state_{state}",
            )

    def target(self, flow: _Flow) -> str:
        node = self.arrive(flow.target)
        found = self.auto_state(node) if self.is_auto(node) else self.state_of(node)
        if found is None:
            raise BpmnImportError(node, "expected a state here (an element with id state_<name>)")
        return found

    # -- doors -------------------------------------------------------------------------------

    def doors(self, state: str, element: ET.Element) -> Iterator[Door]:
        kind = local(element.tag)
        ident = element.get("id", "")
        if kind == "userTask":
            yield from self.task_doors(state, ident)
            for node in self.nodes.values():
                if node.get("attachedToRef") == ident:
                    yield self.door(state, node, boundary=True)
        elif kind == "receiveTask":
            message = self.messages.get(element.get("messageRef", ""))
            if message is None:
                raise BpmnImportError(ident, "a receive task names the message it waits for")
            target, guards, flow = self.lead(ident, state)
            yield Door(state, message, target, guards, ident, "message")
        elif kind == "eventBasedGateway":
            for flow in self.out(ident):
                if self.kind(flow.target) != "intermediateCatchEvent":
                    raise BpmnImportError(flow.target, "an event-based gateway waits for events")
                yield self.door(state, self.nodes[flow.target])
        elif kind == "intermediateCatchEvent":
            yield self.door(state, element, at_state=True)

    def door(
        self, state: str, node: ET.Element, *, boundary: bool = False, at_state: bool = False
    ) -> Door:
        ident = node.get("id", "")
        found = [c for c in node if local(c.tag).endswith("EventDefinition")]
        kinds = [local(c.tag) for c in found]
        if kinds not in (["messageEventDefinition"], ["timerEventDefinition"]):
            raise BpmnImportError(ident, "an event waits for exactly one message or one timer")
        message = found[0] if kinds == ["messageEventDefinition"] else None
        timer = found[0] if message is None else None
        if message is not None:
            name = self.messages.get(message.get("messageRef", ""), "")
            if not name:
                raise BpmnImportError(ident, "a message event names its message (messageRef)")
            kind = "message"
        else:
            fired = ext.words(ext.find(node, "timer"), "event")
            if not fired:
                raise BpmnImportError(
                    ident, "a timer says which event it fires (shebao:timer event=...)"
                )
            name, kind = fired[0], "timer"
        target, guards, _ = self.lead(ident, state)
        if boundary:
            interrupting = node.get("cancelActivity", "true") != "false"
            if interrupting == (target == "@done"):
                raise BpmnImportError(
                    ident,
                    "a boundary event that interrupts its task leads to a state; one that does "
                    "not (a reminder) ends in an end event of its own",
                )
        if target == "@done":
            target = state
        label = (None, None) if at_state else names(node)
        return Door(state, name, target, guards, ident, kind, label, timer)

    def ends(self, task: str) -> bool:
        """Whether a user task's one flow leads to an end event of its own (a final state's
        task: the instance rests in the state)."""
        node = self.arrive(self.one_out(task).target)
        return self.kind(node) == "endEvent" and self.state_of(node) is None

    def task_doors(self, state: str, task: str) -> Iterator[Door]:
        if self.ends(task):
            return
        flow = self.one_out(task)
        node = self.arrive(flow.target)
        declared = ext.words(ext.find(self.nodes[task], "task"), "events")
        decides = self.kind(node) == "exclusiveGateway" and not self.is_auto(node)
        if not (decides and len(self.out(node)) > 1):
            yield Door(
                state, self.single(flow, declared, task), self.target(flow), (), task, "task"
            )
            return
        default = self.nodes[node].get("default")
        for out in self.out(node):
            if out.id == default:
                self.returns(out, state)
                continue
            cond = self.condition(out)
            event = cond.outcome or self.single(out, declared, node)
            yield Door(
                state, event, self.target(out), cond.guards, out.id, "task", (out.name, out.other)
            )

    def single(self, flow: _Flow, declared: tuple[str, ...], where: str) -> str:
        found = _FLOW_EVENT.match(flow.id)
        if len(declared) == 1:
            return declared[0]
        if found:
            return found.group(1)
        raise BpmnImportError(where, 'which event ends this task? test outcome == "<event>"')


def names(node: ET.Element) -> tuple[str | None, str | None]:
    doc = node.find(b_tag("documentation"))
    return node.get("name"), doc.text if doc is not None else None


def label_of(node: ET.Element, lang: str, where: str) -> dict[str, str]:
    name, other = names(node)
    if not name or not name.strip():
        raise BpmnImportError(where, "needs a name (its label)")
    other = other if other and other.strip() else name
    return {"zh": name, "en": other} if lang == "zh" else {"zh": other, "en": name}
