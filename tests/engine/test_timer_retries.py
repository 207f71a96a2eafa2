"""Timer leases, retries with backoff and incidents: what an operator sees when a deadline's step
fails or a scheduler hangs (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.errors import DefinitionError, IncidentNotFound, IncidentNotOpen
from engine.incidents import list_incidents, redact, resolve_incident, retry_incident
from engine.registry import Registry
from engine.runtime import Engine
from engine.timers import TimerSweep
from engine.transition_context import TransitionContext

JOB = """
process: job
version: 1
label: {zh: 作业, en: Job}
initial: [flaky, stubborn, overridden]
states:
  flaky:
    label: {zh: 偶尔失败, en: Flaky}
    timers:
      - {after: P1D, event: run_flaky}
  stubborn:
    label: {zh: 总是失败, en: Stubborn}
    timers:
      - {after: P1D, event: run_stubborn}
  overridden:
    label: {zh: 定时器自定, en: Overridden}
    timers:
      - {after: P1D, event: run_stubborn, retry: {times: 2, backoff: PT1M}}
  done:
    label: {zh: 完成, en: Done}
    final: true
events:
  run_flaky: {label: {zh: 执行, en: Run}, from: flaky, to: done, action: flaky_step,
              retry: {times: 3, backoff: PT5M}}
  run_stubborn: {label: {zh: 执行, en: Run}, from: [stubborn, overridden], to: done,
                 action: stubborn_step, retry: {times: 3, backoff: PT5M}}
"""

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DUE = START + timedelta(days=1)


class Steps:
    """Actions whose failures a test controls."""

    def __init__(self) -> None:
        self.flaky_failures = 2
        self.calls = {"flaky": 0, "stubborn": 0}
        self.fixed = False

    def flaky(self, ctx: TransitionContext) -> None:
        self.calls["flaky"] += 1
        if self.flaky_failures:
            self.flaky_failures -= 1
            raise RuntimeError("the card factory did not answer")

    def stubborn(self, ctx: TransitionContext) -> None:
        self.calls["stubborn"] += 1
        if not self.fixed:
            raise RuntimeError("bank account 6222021234567890123 refused")


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
def engine(db_url: str, steps: Steps) -> Iterator[Engine]:
    registry = Registry()
    registry.add_action("flaky_step", steps.flaky)
    registry.add_action("stubborn_step", steps.stubborn)
    definition = parse_definition(yaml.safe_load(JOB), "job.yaml", registry)
    eng = Engine(make_engine(db_url), [definition], registry, clock=SimulatedClock(START))
    yield eng
    eng.db.dispose()


def start(engine: Engine, state: str, n: int = 1) -> list[int]:
    definition = engine.definition("job")

    def work(tx: Any) -> list[int]:
        return [
            engine.start_in(tx, definition, state, f"j-{state}-{i}", {}, "test").instance_id
            for i in range(n)
        ]

    return engine.transaction(work)


def timer_of(engine: Engine, iid: int) -> dict[str, Any]:
    (timer,) = queries.timers_of(engine.db, iid)
    return timer


def state_of(engine: Engine, iid: int) -> str:
    instance = queries.instance(engine.db, iid)
    assert instance is not None
    return str(instance["state"])


def test_an_action_failing_twice_fires_on_the_third_try_after_its_backoff(
    engine: Engine, steps: Steps
) -> None:
    (iid,) = start(engine, "flaky")
    sweep = TimerSweep(engine)
    first = sweep.sweep(DUE)
    assert (first.claimed, first.fired, first.retried, first.failed) == (1, 0, 1, 0)
    assert state_of(engine, iid) == "flaky" and steps.calls["flaky"] == 1
    # Backoff 5 minutes after the first failure: nothing to do a minute before.
    assert sweep.sweep(DUE + timedelta(minutes=4)).claimed == 0
    second = sweep.sweep(DUE + timedelta(minutes=5))
    assert (second.retried, steps.calls["flaky"]) == (1, 2)
    # Doubled: 10 minutes after the second failure.
    assert sweep.sweep(DUE + timedelta(minutes=14)).claimed == 0
    third_at = DUE + timedelta(minutes=15)
    third = sweep.sweep(third_at)
    assert (third.fired, third.retried, third.failed) == (1, 0, 0)
    assert state_of(engine, iid) == "done" and steps.calls["flaky"] == 3
    last = queries.history(engine.db, iid)[-1]
    assert (last["event"], last["due_at"], last["occurred_at"]) == ("run_flaky", DUE, third_at)
    assert list_incidents(engine) == []


def test_an_action_that_always_fails_becomes_an_incident_retried_by_hand(
    engine: Engine, steps: Steps
) -> None:
    (iid,) = start(engine, "stubborn")
    sweep = TimerSweep(engine)
    for minutes in (0, 5, 15):
        sweep.sweep(DUE + timedelta(minutes=minutes))
    assert steps.calls["stubborn"] == 3
    assert timer_of(engine, iid)["status"] == "failed"
    (incident,) = list_incidents(engine)
    assert (incident.kind, incident.instance_id, incident.process, incident.state) == (
        "timer",
        iid,
        "job",
        "stubborn",
    )
    assert (incident.step, incident.attempts, incident.status) == ("run_stubborn", 3, "open")
    assert "6222021234567890123" not in incident.error and "RuntimeError" in incident.error
    # Nothing more happens on its own.
    assert sweep.sweep(DUE + timedelta(days=30)).claimed == 0
    steps.fixed = True
    retried = retry_incident(engine, incident.id, actor="boss")
    assert (retried.status, retried.resolution, retried.resolved_by) == (
        "closed",
        "retry",
        "boss",
    )
    assert timer_of(engine, iid)["status"] == "pending"
    report = sweep.sweep(DUE + timedelta(days=30))
    assert report.fired == 1 and state_of(engine, iid) == "done"
    assert list_incidents(engine) == []
    with pytest.raises(IncidentNotOpen):
        retry_incident(engine, incident.id, actor="boss")
    with pytest.raises(IncidentNotFound):
        resolve_incident(engine, incident.id + 1000, actor="boss")


def test_resolving_an_incident_leaves_its_timer_failed(engine: Engine) -> None:
    (iid,) = start(engine, "overridden")
    sweep = TimerSweep(engine)
    sweep.sweep(DUE)
    sweep.sweep(DUE + timedelta(minutes=1))  # the timer's own policy: 2 tries, 1 minute apart
    (incident,) = list_incidents(engine)
    assert incident.attempts == 2
    closed = resolve_incident(engine, incident.id, actor="boss")
    assert closed.resolution == "resolve"
    assert timer_of(engine, iid)["status"] == "failed"
    assert sweep.sweep(DUE + timedelta(days=1)).claimed == 0
    assert [i.id for i in list_incidents(engine, status="closed")] == [incident.id]


def test_a_lease_that_ran_out_is_taken_and_the_stalled_scheduler_fires_nothing(
    engine: Engine, steps: Steps
) -> None:
    iids = start(engine, "flaky", 4)
    steps.flaky_failures = 0
    lease = timedelta(minutes=5)
    stalled = TimerSweep(engine, name="stalled", lease=lease)
    other = TimerSweep(engine, name="other", lease=lease)
    leased = stalled._lease(DUE)  # noqa: SLF001 - leased, then the process hangs
    assert len(leased) == 4
    assert {timer_of(engine, i)["locked_by"] for i in iids} == {"stalled"}
    assert other.sweep(DUE + timedelta(minutes=4)).claimed == 0  # the lease holds
    taken_at = DUE + lease
    report = other.sweep(taken_at)
    assert (report.claimed, report.fired) == (4, 4)
    assert {timer_of(engine, i)["locked_by"] for i in iids} == {"other"}
    # The stalled one resumes and fires what it had leased: fenced, nothing happens.
    resumed = engine.transaction(lambda tx: stalled._chunk(tx, DUE, leased))  # noqa: SLF001
    assert (resumed.claimed, resumed.fired) == (0, 0)
    for iid in iids:
        assert [h["event"] for h in queries.history(engine.db, iid)] == ["start", "run_flaky"]
        assert queries.history(engine.db, iid)[-1]["occurred_at"] == taken_at


def test_each_chunk_records_its_own_firing_time(engine: Engine, steps: Steps) -> None:
    iids = start(engine, "flaky", 4)
    steps.flaky_failures = 0
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(DUE)

    def a_minute_per_chunk(_: Any) -> None:
        clock.advance(timedelta(minutes=1))

    report = TimerSweep(engine, chunk=2).sweep(on_chunk=a_minute_per_chunk)
    assert (report.fired, report.chunks) == (4, 2)
    fired = sorted(queries.history(engine.db, i)[-1]["occurred_at"] for i in iids)
    assert fired == [DUE, DUE, DUE + timedelta(minutes=1), DUE + timedelta(minutes=1)]
    assert sorted(timer_of(engine, i)["fired_at"] for i in iids) == fired


@pytest.mark.parametrize(
    ("retry", "problem"),
    [
        ("{times: 0, backoff: PT1M}", "times"),
        ("{times: 3}", "backoff"),
        ("{times: 3, backoff: P1M}", "backoff"),
        ("{times: 3, backoff: PT1M, jitter: 1}", "jitter"),
    ],
)
def test_a_bad_retry_policy_is_refused_with_its_key(retry: str, problem: str) -> None:
    registry = Registry()
    registry.add_action("flaky_step", lambda ctx: None)
    registry.add_action("stubborn_step", lambda ctx: None)
    text = JOB.replace("retry: {times: 2, backoff: PT1M}", f"retry: {retry}")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(yaml.safe_load(text), "job.yaml", registry)
    assert caught.value.key.startswith("states.overridden.timers[0].retry")
    assert problem in caught.value.key or problem in caught.value.problem


def test_error_texts_lose_long_numbers() -> None:
    assert redact("ID 11010519491231002X refused") == "ID 110*************2X refused"
    assert redact("x" * 5000).__len__() == 2000
