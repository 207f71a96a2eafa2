"""The parsed, immutable form of a process definition: the specs that nothing changes at run time.

``engine.definition`` builds them from a file; the machine, the runtime, the timers, the diagrams
and the BPMN export all read them. Instances point back to a spec by (process key, version, state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.durations import Duration


@dataclass(frozen=True)
class Label:
    """A label in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class FormField:
    """One field of a user task's form."""

    name: str
    label: Label
    type: str = "text"
    required: bool = True
    options: tuple[tuple[str, Label], ...] = ()
    """For a ``choice`` field: the values it may take, each with its label."""

    def allows(self, value: str) -> bool:
        return not self.options or value in {v for v, _ in self.options}


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


@dataclass(frozen=True)
class TimerSpec:
    """A boundary timer: after a duration from entering the state, or at a policy date."""

    event: str
    after: Duration | None = None
    policy: str | None = None

    @property
    def describe(self) -> str:
        return self.after.text if self.after else f"policy: {self.policy}"


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: Label
    final: bool = False
    task: TaskSpec | None = None
    timers: tuple[TimerSpec, ...] = ()


@dataclass(frozen=True)
class EventSpec:
    """A sequence flow from one or more states to one state."""

    name: str
    label: Label
    sources: tuple[str, ...]
    target: str
    guards: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

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

    def outgoing(self, state: str) -> tuple[str, ...]:
        """Names of the events allowed from ``state``, in file order."""
        return self._outgoing.get(state, ())

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.states.items() if spec.final)
