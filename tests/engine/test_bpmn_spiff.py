"""Another engine runs our processes: SpiffWorkflow builds a workflow from every export and runs it,
and a differential test drives the same event sequences through our engine and through
SpiffWorkflow and compares, after every step, the state reached and the open user tasks.

The sequences are every path of each definition's graph from each initial state that takes no
door twice (a door: one event leaving one state as a task outcome, a message or a timer), up to its
end, and for every guarded door a path that reaches it, has the event refused, and goes on. Time is skipped, never waited for: our engine
runs on a ``SimulatedClock`` and SpiffWorkflow's timer module reads the same simulated now. Guards
are the variables ``guard_<name>`` the export's gateways test; here every guard passes unless the
step refuses the event, in both engines.

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
from engine.bpmn_model import ProcessModel, build_model, doors, timer_id
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import ProcessDefinition, load_definition, load_definitions
from engine.errors import TransitionRefused
from engine.registry import Registry, TransitionContext
from engine.runtime import Engine
from engine.specs import FormField
from engine.timers import TimerSweep
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
    door: str  # "task", "message" or "timer"
    refused: bool = False

    def __str__(self) -> str:
        return f"{self.event}({self.door}{', refused' if self.refused else ''})"


def paths(definition: ProcessDefinition) -> list[tuple[str, list[Step]]]:
    """The paths both engines go through, each from an initial state: every maximal path that
    takes no door twice, and for every guarded door one path that reaches it by the shortest way,
    has the event refused there, and goes on to an end."""
    found = [
        (start, path) for start in definition.initial for path in _walks(definition, start, [])
    ]
    for state in definition.states:
        for door in doors(definition, state):
            if not door.event.guards or door.kind == "timer":
                continue
            start, prefix = _shortest(definition, state)
            refused = Step(state, door.event.name, door.kind, refused=True)
            suffix = next(_walks(definition, state, [*prefix, refused]))
            found.append((start, suffix))
    return found


def _walks(definition: ProcessDefinition, state: str, path: list[Step]) -> Iterator[list[Step]]:
    """Maximal continuations of ``path`` (in ``state``) that take no door twice."""
    taken = set(path)
    nexts = [
        Step(state, d.event.name, d.kind)
        for d in doors(definition, state)
        if Step(state, d.event.name, d.kind) not in taken
    ]
    if not nexts:
        yield path
    for step in nexts:
        yield from _walks(definition, definition.events[step.event].target, [*path, step])


def _shortest(definition: ProcessDefinition, state: str) -> tuple[str, list[Step]]:
    """The shortest accepted path from an initial state to ``state``."""
    best: dict[str, tuple[str, list[Step]]] = {s: (s, []) for s in definition.initial}
    frontier = list(definition.initial)
    while state not in best:
        following = []
        for here in frontier:
            for d in doors(definition, here):
                target = d.event.target
                if target not in best:
                    start, path = best[here]
                    best[target] = (start, [*path, Step(here, d.event.name, d.kind)])
                    following.append(target)
        frontier = following
    return best[state]


def sample(field: FormField, refs: dict[str, int]) -> Any:
    return {
        "choice": field.options[0][0] if field.options else "x",
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
        self.sending: str | None = None
        self.automatic = {
            e.name for d in definitions.values() for e in d.events.values() if e.automatic
        }
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
            if ctx.event in self.automatic and ctx.event != self.sending:
                # The export carries an automatic event as a message door (README, BPMN): the
                # other engine takes it only when the path sends it, so here it holds only then.
                return False
            return name not in self.refused

        return check

    def start(self, definition: ProcessDefinition, state: str) -> dict[str, int]:
        """Start an instance (and the instances its reference fields name); returns the refs."""
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
        self.instance = self.engine.start(
            definition.key, state=state, business_key=f"I{self.count}", variables=variables
        ).instance_id
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
        event = definition.events[step.event]
        self.refused = set(event.guards) if step.refused else set()
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
                self.sending = step.event
                self.engine.fire(self.instance, step.event, data=data_for(event.fields, refs))
            assert not step.refused, f"{step} was not refused"
        except TransitionRefused:
            assert step.refused, f"{step} was refused"
        finally:
            self.sending = None

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

    def start(self, state: str) -> None:
        self.now[0] = T0
        self.workflow = BpmnWorkflow(self.spec)
        for task in self.workflow.get_tasks(state=TaskState.READY):
            task.data.update({"start_state": state, **self.guard_data()})
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
        event = definition.events[step.event]
        guards = self.guard_data(event.guards if step.refused else ())
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
        theirs.start(state)
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
    for start, path in every:
        refs = ours.start(definition, start)
        theirs.start(start)
        trail = [f"start {start}"]
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
        taken = {(s.state, s.event, s.door) for _, path in paths(definition) for s in path}
        every = {
            (state, d.event.name, d.kind)
            for state in definition.states
            for d in doors(definition, state)
        }
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
