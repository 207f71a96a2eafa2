"""The parsed, immutable form of a process definition: the specs that nothing changes at run time.

``engine.definition`` builds them from a file; the machine, the runtime, the timers, the diagrams
and the BPMN export all read them. Instances point back to a spec by (process key, version, state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from engine.durations import Duration


def _any(_event: EventSpec) -> bool:
    return True


@dataclass(frozen=True)
class Label:
    """A label in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


CANCELLED = "_cancelled_by_supervisor"
"""The engine's reserved terminal state of an instance a supervisor cancelled."""
CANCELLED_LABEL = Label(zh="已由主管终止", en="Cancelled by a supervisor")


@dataclass(frozen=True)
class Reference:
    """What a ``reference`` field may name: an instance of ``process`` in a state tagged ``tag``
    whose business key equals the variable ``business_key_from`` of the instance asking."""

    process: str
    tag: str | None = None
    business_key_from: str | None = None


@dataclass(frozen=True)
class FormField:
    """One field of a user task's form, or of an event's data."""

    name: str
    label: Label
    type: str = "text"
    required: bool = True
    options: tuple[tuple[str, Label], ...] = ()
    """For a ``choice`` or ``choices`` field: the values it may take, each with its label."""
    references: Reference | None = None
    """For a ``reference`` field: which instances it may name."""
    options_from: str | None = None
    """Instead of listed options: the registry's option source (``options: {from: name}``)
    that gives each instance its own (``Registry.add_options``); none resolved, none allowed."""

    def allows(self, value: str) -> bool:
        if self.options_from is not None:
            return value in {v for v, _ in self.options}
        return not self.options or value in {v for v, _ in self.options}


@dataclass(frozen=True)
class Fact:
    """A fact a task shows beside its form: a dotted path into the instance's variables."""

    path: str
    label: Label


@dataclass(frozen=True)
class TaskSpec:
    """A user task: who may take it (candidate group, scope) and how it ends (events)."""

    name: str
    label: Label
    candidate_group: str
    scope: str | None
    form: tuple[FormField, ...]
    events: tuple[str, ...]
    due: Duration | None
    facts: tuple[Fact, ...] = ()
    """What the decision depends on, shown on the task's page (refund evidence, ...)."""
    due_policy: str | None = None
    """Instead of ``due``: the dotted path of a policy value (``card.loss_report_lapses_after``)
    the registry resolves for the instance as it enters the state, as a timer's ``policy``: a
    duration from then, or a date."""


@dataclass(frozen=True)
class RetrySpec:
    """How often a failing step (a timer's event) is tried, and the pause before the next try:
    ``backoff`` doubles after every failed attempt. After ``times`` attempts, an incident."""

    times: int
    backoff: Duration

    @property
    def describe(self) -> str:
        return f"R{self.times}/{self.backoff.text}"


@dataclass(frozen=True)
class TimerSpec:
    """A boundary timer: after a duration from entering the state, or at a policy date, or after
    a duration the policy gives (``policy_duration``)."""

    event: str
    after: Duration | None = None
    policy: str | None = None
    policy_duration: bool = False
    retry: RetrySpec | None = None
    """This timer's retry policy; None: the event's, else the engine's default."""

    @property
    def describe(self) -> str:
        if self.after:
            return self.after.text
        return f"policy {'duration' if self.policy_duration else 'date'}: {self.policy}"


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: Label
    final: bool = False
    task: TaskSpec | None = None
    timers: tuple[TimerSpec, ...] = ()
    tags: frozenset[str] = frozenset()
    """What the state means to rules outside the engine (``usable``, ``paid``, ...): code asks the
    definition which states carry a tag instead of keeping its own list of state names."""


@dataclass(frozen=True)
class NoticeSpec:
    """A notice an event writes to the outbox, in the event's own transaction.

    ``text`` holds templates in Chinese and English whose ``{name}`` placeholders are filled from
    the event's data (its ``fields:``, or the form of the task it ends), the facts the domain
    registers (``Registry.add_fact``) and the instance's variables (``{variables.path}``).
    """

    kind: str
    """What the notice says (``card_ready``, ``year_lapsed``...): shown in lists, and incidents."""
    to: str
    """The dotted path of the instance variable that names the recipient (``id_number``)."""
    text: Label
    channel: str = "sms"
    """Which kind of channel it is meant for; the delivery worker's channel receives every one."""


@dataclass(frozen=True)
class EventSpec:
    """A sequence flow from one or more states to one state."""

    name: str
    label: Label
    sources: tuple[str, ...]
    target: str
    guards: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    """Which outside callers may send the event (API scopes: ``factory``, ``bank``, ``tax``...);
    none: only the engine's own doors (timers, tasks, domain operations) fire it."""
    fields: tuple[FormField, ...] = ()
    """The data the event carries, checked by type at every outside door; nothing else passes."""
    notices: tuple[NoticeSpec, ...] = ()
    """What the event tells people (the notification outbox), written with its transition."""
    retry: RetrySpec | None = None
    """When a timer fires the event: how its failures are retried (unless the timer says)."""
    automatic: bool = False
    """Fired by the engine itself as soon as an instance enters one of its sources, in the same
    transaction, when its guards hold (a refusal only means "not now"): BPMN's conditional event
    after a state, such as a year with nothing left to pay being paid at once. Tried on the
    single-instance paths (start, fire, task completion, follow-ups); nobody sends it."""

    def is_internal_from(self, state: str) -> bool:
        """True when firing from ``state`` stays in it (a non-interrupting event)."""
        return self.target == state


@dataclass(frozen=True)
class ProcessDefinition:
    """One version of one process, as declared in its file."""

    key: str
    version: int
    label: Label
    initial: tuple[str, ...]
    states: Mapping[str, StateSpec]
    events: Mapping[str, EventSpec]
    source: str = "<string>"
    _outgoing: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    history_ttl: Duration | None = None
    """How long a finished instance and its history are kept (``history_ttl: P3650D``, in days
    like Camunda's ``historyTimeToLive``); None: for ever."""

    def outgoing(self, state: str) -> tuple[str, ...]:
        """Names of the events allowed from ``state``, in file order."""
        return self._outgoing.get(state, ())

    @cached_property
    def _leaving(self) -> dict[str, frozenset[str]]:
        return {state: frozenset(self.outgoing(state)) for state in self.states}

    def events_from(self, state: str) -> frozenset[str]:
        """The events allowed from ``state`` as a set (made once per state and version)."""
        return self._leaving.get(state, frozenset())

    @cached_property
    def _automatic(self) -> dict[str, tuple[str, ...]]:
        return {
            state: found
            for state in self.states
            if (found := tuple(e for e in self.outgoing(state) if self.events[e].automatic))
        }

    def automatic_from(self, state: str) -> tuple[str, ...]:
        """The ``automatic`` events leaving ``state``, in file order (usually none)."""
        return self._automatic.get(state, ())

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.states.items() if spec.final)

    def tagged(self, tag: str) -> tuple[str, ...]:
        """The states carrying ``tag``, in file order."""
        return tuple(name for name, spec in self.states.items() if tag in spec.tags)

    @property
    def tags(self) -> frozenset[str]:
        """Every tag some state of this definition carries."""
        return frozenset(tag for spec in self.states.values() for tag in spec.tags)

    def outcome_only_fields(self, state: str) -> dict[str, tuple[str, ...]]:
        """The fields of ``state``'s task form that only some of its outcomes carry (an event's
        ``fields:`` that another outcome lacks), each with those outcomes, in file order:
        approving asks for the document checked, rejecting only for the reason."""
        task = self.states[state].task
        if task is None:
            return {}
        carried = {e: {f.name for f in self.events[e].fields} for e in task.events}
        found: dict[str, tuple[str, ...]] = {}
        for f in task.form:
            by = tuple(e for e in task.events if f.name in carried[e])
            if by and len(by) < len(task.events):
                found[f.name] = by
        return found

    def outcome_form(self, state: str, event: str) -> tuple[FormField, ...]:
        """The fields completing ``state``'s task with ``event`` asks for: its form but for the
        fields only other outcomes carry."""
        task = self.states[state].task
        if task is None:
            return ()
        others = self.outcome_only_fields(state)
        return tuple(f for f in task.form if event in others.get(f.name, (event,)))

    def sendable(self) -> dict[str, tuple[str, ...]]:
        """Events outside callers may send, with who may send each (``senders:``)."""
        return {name: e.senders for name, e in self.events.items() if e.senders}

    def path_to(
        self, target: str, start: str | None = None, passable: Callable[[EventSpec], bool] = _any
    ) -> tuple[str, ...] | None:
        """The shortest chain of events from ``start`` (the first initial state) to ``target``
        through events ``passable`` accepts; None when there is none. Self-loops never help."""
        begin = start or self.initial[0]
        paths: dict[str, tuple[str, ...]] = {begin: ()}
        frontier = [begin]
        while frontier:
            following = []
            for state in frontier:
                for name in self.outgoing(state):
                    event = self.events[name]
                    if event.target in paths or not passable(event):
                        continue
                    paths[event.target] = paths[state] + (name,)
                    following.append(event.target)
            frontier = following
        return paths.get(target)
