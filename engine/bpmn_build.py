"""The executable BPMN shape of a definition: which BPMN elements a state, an event and a timer become.

Owns the mapping: ``build_model`` makes a definition's ``ProcessModel`` (the plain data of
``engine.bpmn_model``) that the XML writer (``engine.bpmn``), the layout (``engine.bpmn_layout``)
and the tests read; it writes no XML and knows no coordinates.

Each state is one element, ``state_<name>``, named by the state's label:

- a state with a task is a ``userTask``; the task ends through its events (a gateway ``decide_<state>``
  chooses by the task's ``outcome`` when it has several, or checks the guards), outside messages while
  it is open are interrupting boundary message events, its timers boundary timer events; an event
  that leaves and re-enters the state (a reminder) is a *non-interrupting* boundary event that ends
  in an end event of its own, so the task is not created twice;
- a state without a task waits for outside messages: a ``receiveTask`` with ``messageRef`` when one
  message is all it waits for, an ``eventBasedGateway`` followed by one intermediate catch event per
  message and per timer when the next step is whichever comes first, an intermediate timer catch
  event when a timer is all it waits for;
- a final state without a task is an ``endEvent``; one with a task, its ``userTask`` followed by an
  ``endEvent`` of its own (``end_<state>``).

Every event that is not a timer of its source state, not a task outcome there and not
``automatic`` is an outside message (``message`` element named as the event), and so is a task
outcome that outside callers may send too (``senders:``, e.g. the bank's "account closed"). Guards
are domain code: a gateway ``guard_<event>__<state>`` tests the process variables ``guard_<name>``
that the engine sets when the guard passes; its default flow goes back to the state (the event was
refused, the instance stays).

A state with ``automatic`` events is entered through an exclusive gateway ``auto_<state>`` (the
engine fires the first automatic event whose guards hold as the instance enters the state): a
conditional flow ``flow_<event>__<state>__auto`` per automatic event, in file order, testing its
guards (an event without guards: ``True``, always taken), and a default flow ``flow_wait__<state>``
into the state's element. Flows that stay in the state (a refused event, an event that keeps the
state) go straight back to its element, as the engine tries automatic events only when the state
changes. A state with several incoming flows gets a joining gateway ``join_<state>`` (before the
element; ``enter_<state>`` before ``auto_<state>``); several initial states a gateway ``initial``
that starts in the one the ``start_state`` variable names (the first by default).
"""

from __future__ import annotations

from engine.bpmn_model import (
    Condition,
    Door,
    Node,
    ProcessModel,
    SeqFlow,
    auto_flow_id,
    auto_id,
    doors,
    state_id,
    timer_id,
)
from engine.specs import Label, ProcessDefinition, StateSpec

WORDS: dict[str, Label] = {
    "start": Label("开始", "Start"),
    "initial": Label("起始状态？", "Start in which state?"),
    "outcome": Label("办理结果？", "Outcome?"),
    "guard": Label("条件满足？", "Conditions met?"),
    "met": Label("条件满足", "Conditions met"),
    "done": Label("（完成）", " (done)"),
    "auto": Label("自动办理？", "Handled automatically?"),
}


class _Builder:
    def __init__(self, definition: ProcessDefinition) -> None:
        self.d = definition
        self.model = ProcessModel(definition)
        self.pending: list[SeqFlow] = []  # flows whose target is still a state name

    def node(self, node: Node) -> Node:
        self.model.nodes[node.id] = node
        return node

    def flow(self, flow: SeqFlow) -> None:
        self.pending.append(flow)

    def to_state(
        self,
        flow_id: str,
        source: str,
        state: str,
        *,
        name: Label | None = None,
        condition: Condition | None = None,
        event: str | None = None,
    ) -> SeqFlow:
        made = SeqFlow(flow_id, source, f"@{state}", name, condition, event)
        self.flow(made)
        return made

    def build(self) -> ProcessModel:
        d = self.d
        self.node(Node("start", "startEvent", "start", WORDS["start"]))
        if len(d.initial) == 1:
            self.to_state(f"flow_start__{d.initial[0]}", "start", d.initial[0])
        else:
            gateway = self.node(Node("initial", "exclusiveGateway", "initial", WORDS["initial"]))
            self.flow(SeqFlow("flow_start", "start", "initial"))
            for i, state in enumerate(d.initial):
                label = d.states[state].label
                condition = None if i == 0 else Condition(start_state=state)
                made = self.to_state(
                    f"flow_start__{state}", "initial", state, name=label, condition=condition
                )
                if i == 0:
                    gateway.default = made.id
        for name, spec in d.states.items():
            self.automatic(name)
            self.state(name, spec)
        self.model.messages = [
            e
            for e in d.events
            if any(n.message == e for n in self.model.nodes.values() if n.message)
        ]
        self.resolve()
        return self.model

    # -- states ------------------------------------------------------------------------------

    def automatic(self, state: str) -> None:
        """The gateway an instance enters ``state`` through when it has automatic events: the
        first event whose guards hold is taken (an exclusive gateway takes the first condition
        that holds, in order), else the instance waits in the state."""
        names = self.d.automatic_from(state)
        if not names:
            return
        gateway = self.node(
            Node(auto_id(state), "exclusiveGateway", "auto", WORDS["auto"], state=state)
        )
        for name in names:
            event = self.d.events[name]
            self.to_state(
                auto_flow_id(name, state),
                gateway.id,
                event.target,
                name=event.label,
                condition=Condition(guards=event.guards),
                event=name,
            )
        gateway.default = f"flow_wait__{state}"
        self.to_state(gateway.default, gateway.id, state)

    def state(self, name: str, spec: StateSpec) -> None:
        element = state_id(name)
        exits = doors(self.d, name)
        if spec.task is not None:
            self.node(Node(element, "userTask", "state", spec.label, state=name))
            self.task_exits(name, spec, exits)
            if spec.final:
                self.node(Node(f"end_{name}", "endEvent", "end", spec.label, state=name))
                self.flow(SeqFlow(f"flow_end__{name}", element, f"end_{name}"))
            return
        if spec.final:
            self.node(Node(element, "endEvent", "state", spec.label, state=name))
            return
        if len(exits) == 1 and exits[0].kind == "message":
            event = exits[0].event
            self.node(
                Node(element, "receiveTask", "state", spec.label, state=name, message=event.name)
            )
            self.leave(name, element, exits[0])
            return
        if len(exits) == 1:  # one timer and nothing else to wait for
            door = exits[0]
            self.node(
                Node(
                    element,
                    "intermediateCatchEvent",
                    "state",
                    spec.label,
                    state=name,
                    event=door.event.name,
                    timer=door.timer,
                )
            )
            self.leave(name, element, door)
            return
        self.node(Node(element, "eventBasedGateway", "state", spec.label, state=name))
        for door in exits:
            catch = self.catch(name, door, "intermediateCatchEvent")
            self.flow(SeqFlow(f"flow_wait_{catch.id}", element, catch.id))
            self.leave(name, catch.id, door)

    def catch(self, state: str, door: Door, kind: str, host: str | None = None) -> Node:
        event = door.event
        if door.kind == "timer":
            assert door.timer is not None
            ident = timer_id(state, door.timer)
        else:
            ident = f"catch_{event.name}__{state}{door.suffix}"
        return self.node(
            Node(
                ident,
                kind,
                "catch",
                event.label,
                state=state,
                event=event.name,
                message=event.name if door.kind == "message" else None,
                timer=door.timer,
                attached_to=host,
                interrupting=not event.is_internal_from(state) if host else True,
            )
        )

    def task_exits(self, name: str, spec: StateSpec, exits: list[Door]) -> None:
        element = state_id(name)
        outcomes = [door for door in exits if door.kind == "task"]
        if len(outcomes) == 1 and not outcomes[0].event.guards:
            event = outcomes[0].event
            self.to_state(f"flow_{event.name}__{name}", element, event.target, event=event.name)
        elif outcomes:
            decide = self.node(
                Node(f"decide_{name}", "exclusiveGateway", "decide", WORDS["outcome"], state=name)
            )
            self.flow(SeqFlow(f"flow_done__{name}", element, decide.id))
            several = len(outcomes) > 1
            for door in outcomes:
                event = door.event
                self.to_state(
                    f"flow_{event.name}__{name}",
                    decide.id,
                    event.target,
                    name=event.label,
                    condition=Condition(event.name if several else None, event.guards),
                    event=event.name,
                )
            if any(door.event.guards for door in outcomes):
                decide.default = f"flow_refused__{name}"
                self.to_state(decide.default, decide.id, name)
        for door in exits:
            if door.kind == "task":
                continue
            boundary = self.catch(name, door, "boundaryEvent", host=element)
            self.leave(name, boundary.id, door)

    def leave(self, state: str, source: str, door: Door) -> None:
        """Flows from a door (a catch event, a boundary event, a receive task) to where its event
        leads: through a guard gateway when the event has guards, to an end of its own when a
        boundary event does not interrupt (the instance stays in the state)."""
        event = door.event
        base = f"flow_{event.name}__{state}{door.suffix}"
        node = self.model.nodes[source]
        if node.kind == "boundaryEvent" and not node.interrupting:
            done = self.node(
                Node(
                    f"done_{event.name}__{state}{door.suffix}",
                    "endEvent",
                    "done",
                    Label(event.label.zh + WORDS["done"].zh, event.label.en + WORDS["done"].en),
                    state=state,
                    event=event.name,
                )
            )
            self.flow(SeqFlow(base, source, done.id, event=event.name))
            return
        if not event.guards:
            self.to_state(base, source, event.target, event=event.name)
            return
        guard = self.node(
            Node(
                f"guard_{event.name}__{state}{door.suffix}",
                "exclusiveGateway",
                "guard",
                WORDS["guard"],
                state=state,
                event=event.name,
            )
        )
        self.flow(SeqFlow(f"{base}__check", source, guard.id))
        self.to_state(
            base,
            guard.id,
            event.target,
            name=WORDS["met"],
            condition=Condition(guards=event.guards),
            event=event.name,
        )
        guard.default = f"{base}__refused"
        self.to_state(guard.default, guard.id, state)

    # -- joins -------------------------------------------------------------------------------

    def resolve(self) -> None:
        """Point flows at their states' elements, through a joining gateway where several meet."""
        into: dict[str, list[SeqFlow]] = {}
        for flow in self.pending:
            if flow.target.startswith("@"):
                into.setdefault(flow.target[1:], []).append(flow)
        for state in self.d.states:
            arriving = into.get(state, [])
            element = state_id(state)
            if auto_id(state) not in self.model.nodes:
                self.join(state, arriving, element, f"join_{state}", f"flow_enter__{state}")
                continue
            # entering tries the automatic events; staying in the state (a refused event, an
            # event that keeps it, the gateway's default) does not
            staying = [f for f in arriving if self.model.nodes[f.source].state == state]
            entering = [f for f in arriving if self.model.nodes[f.source].state != state]
            self.join(state, staying, element, f"join_{state}", f"flow_enter__{state}")
            self.join(
                state, entering, auto_id(state), f"enter_{state}", f"flow_enter_auto__{state}"
            )
        self.model.flows = self.pending

    def join(self, state: str, flows: list[SeqFlow], target: str, join: str, flow: str) -> None:
        """Point ``flows`` at ``target``, through a joining gateway ``join`` when several."""
        if len(flows) > 1:
            self.node(Node(join, "exclusiveGateway", "join", state=state))
            self.pending.append(SeqFlow(flow, join, target))
            target = join
        for made in flows:
            made.target = target


def build_model(definition: ProcessDefinition) -> ProcessModel:
    """The BPMN elements and flows of ``definition``."""
    return _Builder(definition).build()
