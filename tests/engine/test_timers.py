"""The timer sweep on each database: relative and policy timers, self-loops, chunks, guards, moves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select, text

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.durations import parse_duration
from engine.incidents import list_incidents
from engine.models import PolicyChange
from engine.policy_timers import move_policy_timers
from engine.registry import Registry
from engine.runtime import Engine
from engine.specs import RetrySpec
from engine.timers import TimerSweep
from engine.transition_context import TransitionContext

PARCEL = """
process: parcel
version: 1
label: {zh: 包裹, en: Parcel}
initial: [waiting, held, guarded]
states:
  waiting:
    label: {zh: 待领取, en: Waiting}
    task: {name: hand_over, candidate_group: clerk, scope: region}
    timers:
      - {after: P30D, event: remind}
      - {after: P1Y, event: expire}
  held:
    label: {zh: 暂存, en: Held}
    timers:
      - {policy: window.end, event: close}
  closed:
    label: {zh: 已关闭, en: Closed}
    task: {name: archive_it, candidate_group: clerk, scope: region, events: [archive]}
    timers:
      - {after: P7D, event: archive}
  guarded:
    label: {zh: 待核对, en: Guarded}
    timers:
      - {after: P1D, event: check}
  checked:
    label: {zh: 已核对, en: Checked}
    final: true
  collected:
    label: {zh: 已领取, en: Collected}
    final: true
  expired:
    label: {zh: 已过期, en: Expired}
    final: true
  archived:
    label: {zh: 已归档, en: Archived}
    final: true
events:
  remind: {label: {zh: 提醒, en: Remind}, from: waiting, to: waiting}
  expire: {label: {zh: 过期, en: Expire}, from: waiting, to: expired}
  collect: {label: {zh: 领取, en: Collect}, from: waiting, to: collected}
  close: {label: {zh: 关闭, en: Close}, from: held, to: closed}
  archive: {label: {zh: 归档, en: Archive}, from: closed, to: archived}
  check: {label: {zh: 核对, en: Check}, from: guarded, to: checked, guard: looks_right,
          action: stamp}
"""

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Window:
    """A policy-date resolver over a table of dates that a test can move."""

    def __init__(self) -> None:
        self.ends = {"north": datetime(2026, 3, 1, tzinfo=UTC)}

    def date(
        self, path: str, variables: Mapping[str, Any], now: datetime
    ) -> tuple[datetime, str | None]:
        return self.ends[variables["area"]], f"{variables['area']}:{path}"

    def ref(self, ref: str) -> datetime:
        return self.ends[ref.split(":")[0]]


def looks_right(ctx: TransitionContext) -> bool:
    return bool(ctx.variables.get("ok"))


def stamp(ctx: TransitionContext) -> None:
    ctx.variables["checked_by"] = ctx.actor


@pytest.fixture
def window() -> Window:
    return Window()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def engine(db_url: str, window: Window, clock: SimulatedClock) -> Iterator[Engine]:
    registry = Registry()
    registry.add_guard("looks_right", looks_right)
    registry.add_action("stamp", stamp)
    registry.set_policy_date_resolver(window.date)
    registry.set_policy_ref_resolver(window.ref)
    definition = parse_definition(yaml.safe_load(PARCEL), "parcel.yaml", registry)
    eng = Engine(make_engine(db_url), [definition], registry, clock=clock)
    yield eng
    eng.db.dispose()


def start(engine: Engine, state: str, n: int = 1, **variables: Any) -> list[int]:
    """Start ``n`` instances in ``state`` in one transaction."""
    definition = engine.definition("parcel")
    values = {"region": "r1", "area": "north", **variables}

    def work(tx: Any) -> list[int]:
        return [
            engine.start_in(tx, definition, state, f"p-{i}", dict(values), "test").instance_id
            for i in range(n)
        ]

    return engine.transaction(work)


def events_of(engine: Engine, iid: int) -> list[str]:
    return [h["event"] for h in queries.history(engine.db, iid)]


def test_relative_timer_fires_when_due_and_not_before(engine: Engine) -> None:
    (iid,) = start(engine, "waiting")
    sweep = TimerSweep(engine)
    early = sweep.sweep(START + timedelta(days=30) - timedelta(seconds=1))
    assert early.claimed == 0 and events_of(engine, iid) == ["start"]

    now = START + timedelta(days=31)
    report = sweep.sweep(now)
    assert (report.fired, report.failed, report.stale) == (1, 0, 0)
    instance = queries.instance(engine.db, iid)
    assert instance is not None and (instance["state"], instance["version"]) == ("waiting", 2)
    remind = queries.history(engine.db, iid)[-1]
    assert (remind["event"], remind["from_state"], remind["to_state"]) == (
        "remind",
        "waiting",
        "waiting",
    )
    assert remind["actor"] == "scheduler"
    assert remind["due_at"] == START + timedelta(days=30) and remind["occurred_at"] == now
    # A self-loop keeps the state's other timers and its task.
    fired = queries.timers_of(engine.db, iid, "fired")
    assert [(t["event"], t["fired_at"]) for t in fired] == [("remind", now)]
    assert [t["event"] for t in queries.timers_of(engine.db, iid, "pending")] == ["expire"]
    assert len(queries.tasks_of(engine.db, iid, "open")) == 1
    assert sweep.sweep(now).claimed == 0  # safe to repeat


def test_catch_up_fires_due_timers_in_order_and_leaves_the_state(engine: Engine) -> None:
    (iid,) = start(engine, "waiting")
    now = START + timedelta(days=400)
    report = TimerSweep(engine).sweep(now)
    assert report.fired == 2
    assert events_of(engine, iid) == ["start", "remind", "expire"]
    instance = queries.instance(engine.db, iid)
    assert instance is not None and (instance["state"], instance["version"]) == ("expired", 3)
    assert queries.timers_of(engine.db, iid, "pending") == []
    (task,) = queries.tasks_of(engine.db, iid)
    assert (task["status"], task["outcome"], task["closed_by"]) == (
        "cancelled",
        "expire",
        "scheduler",
    )


def test_policy_date_timer_fires_and_enters_the_target_state(engine: Engine) -> None:
    iids = start(engine, "held", 3)
    deadline = datetime(2026, 3, 1, tzinfo=UTC)
    sweep = TimerSweep(engine)
    assert sweep.sweep(deadline - timedelta(microseconds=1)).fired == 0
    now = deadline + timedelta(hours=5)
    assert sweep.sweep(now).fired == 3
    for iid in iids:
        close = queries.history(engine.db, iid)[-1]
        assert (close["event"], close["due_at"], close["occurred_at"]) == ("close", deadline, now)
        (archive,) = queries.timers_of(engine.db, iid, "pending")
        assert (archive["event"], archive["due_at"]) == ("archive", now + timedelta(days=7))
        (task,) = queries.tasks_of(engine.db, iid, "open")
        assert (task["name"], task["scope"]) == ("archive_it", "r1")
    assert sweep.sweep(now + timedelta(days=7)).fired == 3
    assert {queries.instance(engine.db, i)["state"] for i in iids} == {"archived"}  # type: ignore[index]
    assert {t["status"] for i in iids for t in queries.tasks_of(engine.db, i)} == {"completed"}


def test_more_rows_than_a_chunk_all_fire_once(engine: Engine) -> None:
    iids = start(engine, "held", 25)
    report = TimerSweep(engine, chunk=4).sweep(datetime(2026, 3, 2, tzinfo=UTC))
    assert (report.claimed, report.fired, report.chunks) == (25, 25, 7)
    with engine.db.connect() as conn:
        counts = conn.execute(
            text("SELECT instance_id, count(*) FROM wf_history WHERE event = 'close' GROUP BY 1")
        ).all()
    assert sorted(counts) == [(iid, 1) for iid in iids]


def test_a_guarded_timer_event_fires_per_instance_and_a_refusal_does_not_abort(
    engine: Engine,
) -> None:
    good = start(engine, "guarded", 2, ok=True)
    bad = start(engine, "guarded", 1, ok=False)
    now = START + timedelta(days=2)
    once = RetrySpec(times=1, backoff=parse_duration("PT5M"))  # no second attempt
    report = TimerSweep(engine, retry=once).sweep(now)
    assert (report.fired, report.failed, report.retried) == (2, 1, 0)
    for iid in good:
        instance = queries.instance(engine.db, iid)
        assert instance is not None and instance["state"] == "checked"
        assert instance["variables"]["checked_by"] == "scheduler"
        check = queries.history(engine.db, iid)[-1]
        assert (check["due_at"], check["occurred_at"]) == (START + timedelta(days=1), now)
        assert [t["status"] for t in queries.timers_of(engine.db, iid)] == ["fired"]
    (refused,) = bad
    instance = queries.instance(engine.db, refused)
    assert instance is not None and instance["state"] == "guarded"
    assert events_of(engine, refused) == ["start"]
    assert [t["status"] for t in queries.timers_of(engine.db, refused)] == ["failed"]
    (incident,) = list_incidents(engine)
    assert (incident.instance_id, incident.step, incident.attempts) == (refused, "check", 1)
    assert "looks_right" in incident.error


def test_a_timer_cancelled_by_leaving_does_not_fire(engine: Engine) -> None:
    (iid,) = start(engine, "waiting")
    engine.fire(iid, "collect", actor="clerk")
    assert TimerSweep(engine).sweep(START + timedelta(days=400)).claimed == 0
    assert events_of(engine, iid) == ["start", "collect"]


def test_moving_a_policy_date_moves_pending_timers_only(engine: Engine, window: Window) -> None:
    held = start(engine, "held", 3)
    old, new = window.ends["north"], datetime(2026, 3, 29, tzinfo=UTC)
    TimerSweep(engine).sweep(START)  # nothing due yet
    window.ends["north"] = new
    assert move_policy_timers(engine, actor="ops") == {"north:window.end": 3}
    assert move_policy_timers(engine) == {}  # already there
    assert {t["due_at"] for i in held for t in queries.timers_of(engine.db, i)} == {new}
    changes = PolicyChange.__table__
    with engine.db.connect() as conn:  # recorded once, with who, when, before and after
        (change,) = conn.execute(select(changes)).all()
    assert (change.actor, change.policy_ref, change.timers_moved) == ("ops", "north:window.end", 3)
    assert (change.old_due, change.new_due, change.at) == (old, new, START)
    assert TimerSweep(engine).sweep(old + timedelta(days=1)).fired == 0
    assert TimerSweep(engine).sweep(new).fired == 3
