"""Another engine runs our processes: SpiffWorkflow builds a workflow from every export and runs it,
and a differential test drives the same event sequences through our engine and through
SpiffWorkflow and compares, after every step, the state reached and the open user tasks.

The sequences are every path of each definition's graph from each initial state that takes no
door twice (a door: one event leaving one state as a task outcome, a message or a timer, or an
automatic event tried on entering its state), up to its end, and for every guarded door a path
that reaches it, has the event refused, and goes on. Time is skipped, never waited for: our engine
runs on a ``SimulatedClock`` and SpiffWorkflow's timer module reads the same simulated now. Guards
are the variables ``guard_<name>`` the export's gateways test; here every guard passes unless the
step refuses the event, in both engines. A step that enters a state with automatic events also
says which of their guards fail (``held``), so a path either takes one automatic event at once
(our engine fires it, SpiffWorkflow's gateway ``auto_<state>`` takes its flow) or waits there.

One difference is by design and kept out of the paths: a refused event leaves our state as it is,
timers included, while in BPMN the refusal loops back into the state, so its timers start again.
The refusals here come at the instant the state was entered (by the shortest way, before any
reminder fires), where both agree.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import queries
from engine.bpmn import to_bpmn
from engine.bpmn_build import build_model
from engine.bpmn_model import ProcessModel, doors, timer_id
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import ProcessDefinition, load_definition, load_definitions, parse_definition
from engine.errors import TransitionRefused
from engine.registry import Registry
from engine.runtime import Engine
from engine.specs import FormField
from engine.timers import TimerSweep
from engine.transition_context import TransitionContext
from web.cli.diagrams import policy_values
from workflows.domain import Domain

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("card", "card_review", "enrollment", "person", "edge_cases")
POLICY = "huian-2023"
T0 = datetime(2022, 10, 1, 2, 0, tzinfo=UTC)  # inside Hui'an's 2023 payment period
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")

spiff_timer = pytest.importorskip("SpiffWorkflow.bpmn.specs.event_definitions.timer")
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator  # noqa: E402
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition  # noqa: E402
from SpiffWorkflow.bpmn.util import BpmnEvent  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402


@dataclass(frozen=True)
class Step:
    state: str
    event: str
    door: str  # "start", "task", "message", "timer" or "auto" (fired on entering ``state``)
    refused: bool = False
    held: tuple[str, ...] = ()
    """Guards of the automatic events of the state this step enters that fail meanwhile."""

    def __str__(self) -> str:
        held = f", held {'/'.join(self.held)}" if self.held else ""
        return f"{self.event}({self.door}{', refused' if self.refused else ''}{held})"

    @property
    def door_key(self) -> tuple[str, str, str]:
        return (self.state, self.event, self.door)


def paths(definition: ProcessDefinition) -> list[list[Step]]:
    """The paths both engines go through, each from a start step in an initial state: every
    maximal path that takes no door twice, and for every guarded door one path that reaches it by
    the shortest way, has the event refused there, and goes on to an end."""
    found = [
        path
        for start in definition.initial
        for held, autos, state in _arrivals(definition, start, (), set())
        for path in _walks(definition, state, [Step(start, "", "start", held=held), *autos])
    ]
    for state in definition.states:
        for door in doors(definition, state):
            if not door.event.guards or door.kind == "timer":
                continue
            prefix = _shortest(definition, state)
            refused = Step(state, door.event.name, door.kind, refused=True)
            found.append(next(_walks(definition, state, [*prefix, refused])))
    return found


def _arrivals(
    definition: ProcessDefinition, state: str, keep: tuple[str, ...], taken: set[Any]
) -> list[tuple[tuple[str, ...], list[Step], str]]:
    """The ways an instance entering ``state`` (by an event whose guards ``keep`` pass) goes on:
    the guards of its automatic events that fail (so each earlier one is refused), the
    automatic events that fire (the first whose guards hold; a chain goes on with the same
    guards), and the state it then waits in. No automatic event twice on one path."""
    autos = definition.automatic_from(state)
    found: list[tuple[tuple[str, ...], list[Step], str]] = []
    for i, chosen in enumerate([*autos, None]):
        if chosen is not None and (state, chosen, "auto") in taken:
            continue
        passing = set(keep) | set(definition.events[chosen].guards if chosen else ())
        held = [[g for g in definition.events[e].guards if g not in passing] for e in autos[:i]]
        if not all(held):
            continue  # an earlier automatic event cannot fail here
        failing = tuple(dict.fromkeys(g for gs in held for g in gs))
        fired: list[Step] = []
        here = state
        while chosen is not None:
            fired.append(Step(here, chosen, "auto"))
            target = definition.events[chosen].target
            if target == here:
                break  # an automatic event that keeps its state is tried once
            here = target
            chosen = next(
                (
                    e
                    for e in definition.automatic_from(here)
                    if not set(definition.events[e].guards) & set(failing)
                ),
                None,
            )
        found.append((failing, fired, here))
    return found


def _walks(definition: ProcessDefinition, state: str, path: list[Step]) -> Iterator[list[Step]]:
    """Maximal continuations of ``path`` (in ``state``) that take no door twice."""
    taken = {s.door_key for s in path}
    nexts: list[tuple[list[Step], str]] = []
    for d in doors(definition, state):
        event = d.event
        if (state, event.name, d.kind) in taken:
            continue
        if _after_a_later_timer(definition, state, d, taken):
            continue
        if event.target == state:  # stays: no automatic event is tried
            nexts.append(([Step(state, event.name, d.kind)], state))
            continue
        for held, autos, rest in _arrivals(definition, event.target, event.guards, taken):
            nexts.append(([Step(state, event.name, d.kind, held=held), *autos], rest))
    if not nexts:
        yield path
    for steps, rest in nexts:
        yield from _walks(definition, rest, [*path, *steps])


def _after_a_later_timer(
    definition: ProcessDefinition, state: str, door: Any, taken: set[Any]
) -> bool:
    """Whether ``door`` is a timer listed before one of the state's timers already taken: a
    state lists its timers in the order they come due (a reminder, a take-back, a seal), and a
    sweep that fires a later one has fired the earlier ones with it."""
    if door.timer is None:
        return False
    later = definition.states[state].timers[door.timer + 1 :]
    return any((state, t.event, "timer") in taken for t in later)


def _waits(definition: ProcessDefinition, state: str, keep: tuple[str, ...]) -> Any:
    """The guards that must fail for an instance entering ``state`` to wait there (None: it
    cannot)."""
    for held, autos, _rest in _arrivals(definition, state, keep, set()):
        if not autos:
            return held
    return None


def _shortest(definition: ProcessDefinition, state: str) -> list[Step]:
    """The shortest accepted path from an initial state to waiting in ``state``."""
    best: dict[str, list[Step]] = {}
    for start in definition.initial:
        held = _waits(definition, start, ())
        if held is not None:
            best.setdefault(start, [Step(start, "", "start", held=held)])
    frontier = list(best)
    while state not in best:
        assert frontier, f"{definition.key}: no way to wait in {state}"
        following = []
        for here in frontier:
            for d in doors(definition, here):
                target = d.event.target
                held = _waits(definition, target, d.event.guards)
                if target not in best and held is not None:
                    best[target] = [*best[here], Step(here, d.event.name, d.kind, held=held)]
                    following.append(target)
        frontier = following
    return best[state]


def sample(field: FormField, refs: dict[str, int]) -> Any:
    return {
        "choice": field.options[0][0] if field.options else "x",
        "choices": [field.options[0][0]] if field.options else [],
        "boolean": "true",
        "amount": "360.00",
        "integer": "1",
        "date": "2022-10-01",
        "datetime": "2022-10-01T10:00:00+08:00",
        "id_number": "11010519491231002X",
        "reference": refs.get(field.name, 0),
    }.get(field.type, "x")


def data_for(fields: tuple[FormField, ...], refs: dict[str, int]) -> dict[str, Any]:
    return {f.name: sample(f, refs) for f in fields}


# -- the two engines ---------------------------------------------------------------------------


class Ours:
    """Our engine on SQLite, a simulated clock, the real policy resolution, and guards that pass
    unless a step refuses them."""

    def __init__(self, url: str, definitions: dict[str, ProcessDefinition], domain: Domain) -> None:
        self.refused: set[str] = set()
        registry = Registry()
        for definition in definitions.values():
            for event in definition.events.values():
                for guard in event.guards:
                    if not registry.has_guard(guard):
                        registry.add_guard(guard, self.guard(guard))
                for action in event.actions:
                    if not registry.has_action(action):
                        registry.add_action(action, lambda ctx: None)
        registry.add_field_type("id_number", lambda value: value)
        registry.set_policy_date_resolver(domain.policy_date)
        registry.set_policy_ref_resolver(domain.policy_ref_date)
        self.clock = SimulatedClock(T0)
        self.engine = Engine(make_engine(url), definitions.values(), registry, self.clock)
        self.sweep = TimerSweep(self.engine)
        self.count = 0

    def guard(self, name: str) -> Any:
        def check(ctx: TransitionContext) -> bool:
            return name not in self.refused

        return check

    def start(
        self, definition: ProcessDefinition, state: str, held: tuple[str, ...] = ()
    ) -> dict[str, int]:
        """Start an instance (and the instances its reference fields name), the guards ``held``
        failing as it enters ``state``; returns the refs."""
        self.clock.set(T0)
        self.count += 1
        key = f"K{self.count}"
        refs = {}
        for field in all_fields(definition):
            ref = field.references
            if ref is not None:
                target = self.engine.definition(ref.process)
                tagged = target.tagged(ref.tag) if ref.tag else target.initial
                done = self.engine.start(ref.process, business_key=key, variables=self.variables())
                assert done.to_state in tagged
                refs[field.name] = done.instance_id
        variables = {**self.variables(), "card_key": key}
        self.refused = set(held)
        try:
            self.instance = self.engine.start(
                definition.key, state=state, business_key=f"I{self.count}", variables=variables
            ).instance_id
        finally:
            self.refused = set()
        return refs

    @staticmethod
    def variables() -> dict[str, Any]:
        return {"policy": POLICY, "region": "huian", "bank": "icbc"}

    def due(self, event: str) -> datetime:
        pending = [
            t
            for t in queries.timers_of(self.engine.db, self.instance, "pending")
            if t["event"] == event
        ]
        assert len(pending) == 1, pending
        return pending[0]["due_at"]  # type: ignore[no-any-return]

    def step(
        self, definition: ProcessDefinition, step: Step, refs: dict[str, int], now: datetime | None
    ) -> None:
        if step.door == "auto":
            return  # fired by the step that entered the state
        event = definition.events[step.event]
        self.refused = (set(event.guards) if step.refused else set()) | set(step.held)
        try:
            if step.door == "timer":
                assert now is not None
                self.clock.set(now)
                self.sweep.sweep()
            elif step.door == "task":
                task = queries.tasks_of(self.engine.db, self.instance, "open")[0]
                form = definition.states[step.state].task.form  # type: ignore[union-attr]
                self.engine.complete_task(
                    task["id"], actor="t", data=data_for(form, refs), outcome=step.event
                )
            else:
                self.engine.fire(self.instance, step.event, data=data_for(event.fields, refs))
            assert not step.refused, f"{step} was not refused"
        except TransitionRefused:
            assert step.refused, f"{step} was refused"
        finally:
            self.refused = set()

    def observe(self, definition: ProcessDefinition) -> tuple[str, tuple[str, ...]]:
        row = queries.instance(self.engine.db, self.instance)
        assert row is not None
        tasks = tuple(
            sorted(t["name"] for t in queries.tasks_of(self.engine.db, self.instance, "open"))
        )
        return row["state"], tasks


def all_fields(definition: ProcessDefinition) -> list[FormField]:
    fields = [f for e in definition.events.values() for f in e.fields]
    return fields + [f for s in definition.states.values() if s.task for f in s.task.form]


class Theirs:
    """SpiffWorkflow on the default export, its timers reading the simulated now."""

    def __init__(self, definition: ProcessDefinition, xml: bytes, now: list[datetime]) -> None:
        parser = BpmnParser(validator=BpmnValidator())
        parser.add_bpmn_str(xml)
        self.spec = parser.get_spec(f"process_{definition.key}")
        self.model: ProcessModel = build_model(definition)
        self.waits = self.model.waits_in()
        self.guards = sorted({g for e in definition.events.values() for g in e.guards})
        self.now = now

    def guard_data(self, refused: tuple[str, ...] = ()) -> dict[str, bool]:
        return {f"guard_{g}": g not in refused for g in self.guards}

    def start(self, state: str, held: tuple[str, ...] = ()) -> None:
        self.now[0] = T0
        self.workflow = BpmnWorkflow(self.spec)
        for task in self.workflow.get_tasks(state=TaskState.READY):
            task.data.update({"start_state": state, **self.guard_data(held)})
        self.workflow.do_engine_steps()

    def due(self, state: str, index: int) -> datetime:
        """When SpiffWorkflow's timer is due: its boundary (or catch) event's, or, after an
        event-based gateway, the gateway's (SpiffWorkflow keeps its children's events there)."""
        idents = (timer_id(state, index), f"state_{state}")
        for task in self.workflow.get_tasks(state=TaskState.WAITING):
            if task.task_spec.bpmn_id in idents and task._get_internal_data("event_value"):
                return datetime.fromisoformat(task._get_internal_data("event_value"))
        raise AssertionError(f"SpiffWorkflow does not wait at {idents[0]}")

    def step(
        self, definition: ProcessDefinition, step: Step, refs: dict[str, int], now: datetime | None
    ) -> None:
        if step.door == "auto":
            return  # the gateway auto_<state> took it as the step before entered the state
        event = definition.events[step.event]
        guards = self.guard_data((event.guards if step.refused else ()) + step.held)
        if step.door == "timer":
            assert now is not None
            for task in self.workflow.get_tasks(state=TaskState.WAITING):
                task.data.update(guards)
            self.now[0] = now
            self.workflow.refresh_timers()
        elif step.door == "task":
            spec = definition.states[step.state].task
            assert spec is not None
            ready = [
                t
                for t in self.workflow.get_tasks(state=TaskState.READY)
                if t.task_spec.manual and t.task_spec.bpmn_id == f"state_{step.state}"
            ]
            assert len(ready) == 1
            ready[0].data.update({**guards, **data_for(spec.form, refs), "outcome": step.event})
            ready[0].run()
        else:
            payload = {**guards, **data_for(event.fields, refs)}
            self.workflow.send_event(BpmnEvent(MessageEventDefinition(step.event), payload))
        self.workflow.do_engine_steps()

    def observe(self, definition: ProcessDefinition) -> tuple[str, tuple[str, ...]]:
        live = [
            t
            for t in self.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
            if t.task_spec.bpmn_id in self.waits
        ]
        states = {self.waits[t.task_spec.bpmn_id] for t in live}
        if not states and self.workflow.is_completed():
            ends = self.workflow.get_tasks(state=TaskState.COMPLETED)
            states = {
                self.waits[t.task_spec.bpmn_id]
                for t in ends
                if t.task_spec.bpmn_id in self.waits
                and definition.states[self.waits[t.task_spec.bpmn_id]].final
            }
        assert len(states) == 1, f"SpiffWorkflow waits in {states}"
        (state,) = states
        tasks = tuple(
            sorted(
                definition.states[self.waits[t.task_spec.bpmn_id]].task.name  # type: ignore[union-attr]
                for t in live
                if t.state == TaskState.READY and t.task_spec.manual
            )
        )
        return state, tasks


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def definitions() -> dict[str, ProcessDefinition]:
    """The shipped processes, and one with the shapes they do not have (fixtures/)."""
    found = load_definitions(ROOT / "definitions")
    found["edge_cases"] = load_definition(Path(__file__).parent / "fixtures" / "edge_cases.yaml")
    return found


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain(ROOT / "definitions" / "policies")


@pytest.fixture(scope="module")
def exports(definitions: dict[str, ProcessDefinition], domain: Domain) -> dict[str, bytes]:
    return {
        key: to_bpmn(definitions[key], policy=policy_values(domain, POLICY, definitions[key]))
        for key in KEYS
    }


@pytest.fixture(scope="module")
def spiff_now() -> Iterator[list[datetime]]:
    """SpiffWorkflow's timers read this simulated now (its timer module's ``datetime.now``);
    its task-by-task INFO log is silenced for the run."""
    now = [T0]
    spiff_log = logging.getLogger("spiff")
    level = spiff_log.level
    spiff_log.setLevel(logging.WARNING)

    class Simulated(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return now[0] if tz is not None else now[0].replace(tzinfo=None)

    patch = pytest.MonkeyPatch()
    patch.setattr(spiff_timer, "datetime", Simulated)
    yield now
    patch.undo()
    spiff_log.setLevel(level)


@pytest.fixture(scope="module")
def ours(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    definitions: dict[str, ProcessDefinition],
    domain: Domain,
) -> Ours:
    path = tmp_path_factory.mktemp("differential") / "shebao.db"
    shutil.copy(sqlite_template, path)
    return Ours(f"sqlite:///{path}", definitions, domain)


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_spiffworkflow_builds_and_runs_every_export(
    exports: dict[str, bytes],
    definitions: dict[str, ProcessDefinition],
    spiff_now: list[datetime],
    key: str,
) -> None:
    definition = definitions[key]
    theirs = Theirs(definition, exports[key], spiff_now)
    for state in definition.initial:
        theirs.start(state, _waits(definition, state, ()))  # no automatic event fires
        assert theirs.observe(definition)[0] == state
        assert not theirs.workflow.is_completed()


@pytest.mark.parametrize("key", KEYS)
def test_both_engines_reach_the_same_states_and_tasks_on_every_path(
    exports: dict[str, bytes],
    definitions: dict[str, ProcessDefinition],
    spiff_now: list[datetime],
    ours: Ours,
    key: str,
    record_property: Any,
) -> None:
    definition = definitions[key]
    theirs = Theirs(definition, exports[key], spiff_now)
    timers = {
        (s, t.event): i for s, spec in definition.states.items() for i, t in enumerate(spec.timers)
    }
    every = paths(definition)
    steps = 0
    for start, *path in every:
        refs = ours.start(definition, start.state, start.held)
        theirs.start(start.state, start.held)
        trail = [f"start {start.state}{f' held {start.held}' if start.held else ''}"]
        assert ours.observe(definition) == theirs.observe(definition), trail
        for step in path:
            now = None
            if step.door == "timer":
                due = ours.due(step.event)
                assert theirs.due(step.state, timers[(step.state, step.event)]) == due, (
                    trail,
                    step,
                )
                now = due + timedelta(seconds=1)
            ours.step(definition, step, refs, now)
            theirs.step(definition, step, refs, now)
            trail.append(str(step))
            assert ours.observe(definition) == theirs.observe(definition), trail
        steps += len(path)
    record_property("paths", len(every))
    record_property("steps", steps)
    print(f"{key}: {len(every)} paths, {steps} steps compared")
    assert every and steps


def test_the_paths_cover_every_door(definitions: dict[str, ProcessDefinition]) -> None:
    for definition in definitions.values():
        taken = {s.door_key for path in paths(definition) for s in path if s.door != "start"}
        every = {
            (state, d.event.name, d.kind)
            for state in definition.states
            for d in doors(definition, state)
        } | {(s, e, "auto") for s in definition.states for e in definition.automatic_from(s)}
        assert taken == every, definition.key


def test_a_refused_guard_keeps_the_state_in_both(
    exports: dict[str, bytes],
    definitions: dict[str, ProcessDefinition],
    spiff_now: list[datetime],
    ours: Ours,
) -> None:
    card = definitions["card"]
    theirs = Theirs(card, exports["card"], spiff_now)
    refs = ours.start(card, "applied")
    theirs.start("applied")
    for step in (
        Step("applied", "issue_on_the_spot", "message", refused=True),
        Step("applied", "produce", "message"),
        Step("produced", "notify_holder", "message"),
        Step("awaiting_activation", "activate", "task", refused=True),
    ):
        ours.step(card, step, refs, None)
        theirs.step(card, step, refs, None)
    assert ours.observe(card) == theirs.observe(card) == ("awaiting_activation", ("activate_card",))


def test_spiffworkflow_takes_an_automatic_event_without_guards_at_once(
    spiff_now: list[datetime],
) -> None:
    """As our engine does: ``paid`` has no guard (its flow's condition is True), so an instance
    never waits in ``sorting``; the message ``cancel`` is there for whoever reaches it else."""
    definition = parse_definition(
        {
            "process": "sorting",
            "version": 1,
            "label": {"zh": "分", "en": "Sorting"},
            "initial": "sorting",
            "states": {
                "sorting": {"label": {"zh": "分", "en": "Sorting"}},
                "paid_up": {"label": {"zh": "付", "en": "Paid"}, "final": True},
                "done": {"label": {"zh": "完", "en": "Done"}, "final": True},
            },
            "events": {
                "paid": {
                    "label": {"zh": "付", "en": "Paid"},
                    "from": "sorting",
                    "to": "paid_up",
                    "automatic": True,
                },
                "cancel": {"label": {"zh": "撤", "en": "Cancel"}, "from": "sorting", "to": "done"},
            },
        }
    )
    theirs = Theirs(definition, to_bpmn(definition), spiff_now)
    theirs.start("sorting")
    assert theirs.observe(definition) == ("paid_up", ())
