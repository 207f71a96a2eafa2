"""The BPMN semantic model of a definition, as plain data: its nodes, sequence flows and the
conditions they test (``ProcessModel``), the stable ids of its elements, and a state's doors (every
way out of it while an instance waits there).

``engine.bpmn_build`` makes the model from a definition (and says which elements each state, event
and timer become); the XML writer (``engine.bpmn``), the layout (``engine.bpmn_layout``), the
labels, the routes, the reader and the tests read it. It writes no XML and knows no coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.specs import EventSpec, Label, ProcessDefinition


@dataclass(frozen=True)
class Condition:
    """What a conditional sequence flow tests: the task's outcome, guards that passed, or the state
    an instance starts in. Each dialect writes it in its own expression language."""

    outcome: str | None = None
    guards: tuple[str, ...] = ()
    start_state: str | None = None


@dataclass
class Node:
    """One BPMN flow node.

    Attributes:
        id: the element id (stable: ``state_<name>``, ``timer_<state>_<i>``, ...).
        kind: the BPMN element (``userTask``, ``eventBasedGateway``, ...).
        role: what it is for us: ``state``, ``start``, ``initial``, ``join``, ``decide``, ``guard``,
            ``auto`` (the automatic events tried on entering a state), ``catch`` (a message or
            timer that ends a wait), ``done`` (where a reminder's token ends) or ``end`` (after a
            final state that has a task).
        name: its label in both languages (joins have none).
        state: the state it belongs to (the one it waits in, for states and catches).
        event: the event a catch, guard or done node stands for.
        message: the message a receive task or message event waits for.
        timer: the index of the state's timer a timer event stands for.
        attached_to: the activity a boundary event sits on.
        interrupting: for boundary events: whether it ends the task.
        default: the id of a gateway's default flow.
    """

    id: str
    kind: str
    role: str
    name: Label | None = None
    state: str | None = None
    event: str | None = None
    message: str | None = None
    timer: int | None = None
    attached_to: str | None = None
    interrupting: bool = True
    default: str | None = None


@dataclass
class SeqFlow:
    """One sequence flow; ``event`` is the definition event it completes (its accepted branch)."""

    id: str
    source: str
    target: str
    name: Label | None = None
    condition: Condition | None = None
    event: str | None = None


@dataclass
class ProcessModel:
    """The BPMN semantic model of one definition."""

    definition: ProcessDefinition
    nodes: dict[str, Node] = field(default_factory=dict)
    flows: list[SeqFlow] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    """Event names sent as messages, in event order."""

    def outgoing(self, node: str) -> list[SeqFlow]:
        return [f for f in self.flows if f.source == node]

    def incoming(self, node: str) -> list[SeqFlow]:
        return [f for f in self.flows if f.target == node]

    def boundaries(self, host: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.attached_to == host]

    def waits_in(self) -> dict[str, str]:
        """Element id -> state, for every element a token waits at while the instance is in that
        state (the state's element and its catch events; a final state's end event)."""
        return {
            n.id: n.state for n in self.nodes.values() if n.state and n.role in ("state", "catch")
        }


def state_id(state: str) -> str:
    return f"state_{state}"


def timer_id(state: str, index: int) -> str:
    return f"timer_{state}_{index}"


def message_id(event: str) -> str:
    return f"message_{event}"


def auto_id(state: str) -> str:
    return f"auto_{state}"


def auto_flow_id(event: str, state: str) -> str:
    return f"flow_{event}__{state}__auto"


@dataclass(frozen=True)
class Door:
    """One way an event leaves a state: a task outcome, a message or a timer."""

    event: EventSpec
    kind: str  # "task", "message" or "timer"
    timer: int | None = None
    secondary: bool = False
    """A second door of the same event from the same state: a task outcome that outside callers
    may send as a message too."""

    @property
    def suffix(self) -> str:
        """What the ids of a secondary door end with."""
        return "__message" if self.kind == "message" and self.secondary else ""


def doors(definition: ProcessDefinition, state: str) -> list[Door]:
    """Every way out of ``state`` while an instance waits in it, in the order of the state's
    events (timers by timer order): an ``automatic`` event is no message (nobody sends it), it is
    tried on entering the state (``auto_<state>``)."""
    spec = definition.states[state]
    timers = {t.event: i for i, t in enumerate(spec.timers)}
    task_events = spec.task.events if spec.task else ()
    found: list[Door] = []
    for name in definition.outgoing(state):
        event = definition.events[name]
        if name in timers:
            found.append(Door(event, "timer", timers[name]))
            continue
        if name in task_events:
            found.append(Door(event, "task"))
            if event.senders:
                found.append(Door(event, "message", secondary=True))
            continue
        if not event.automatic:
            found.append(Door(event, "message"))
    return found
