"""The timer sweep fires each instance's due timers in due order, on each database.

A state with three timers (a reminder and a take-back that stay in the state, a seal that leaves
it), as the card's ``awaiting_activation``: after a downtime all three are due at once. Whatever
other instances share the chunk (one whose seal is due before this one's take-back), and however
the chunks fall between schedulers, each instance's reminder, take-back and seal fire in that order,
each once; none is cancelled because a later timer of its instance fired first. A timer that an
earlier timer or an event made stale (its instance left the state) is still cancelled unfired.
"""

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
from engine.registry import Registry
from engine.runtime import Engine
from engine.timers import TimerSweep
from engine.transition_context import TransitionContext

PARCEL = """
process: parcel
version: 1
label: {zh: 包裹, en: Parcel}
initial: [waiting, trial]
states:
  waiting:
    label: {zh: 待领取, en: Waiting}
    task: {name: hand_over, candidate_group: clerk, scope: region}
    timers:
      - {after: P30D, event: remind}
      - {after: P6M, event: take_back}
      - {after: P1Y, event: seal}
  trial:
    label: {zh: 试用, en: Trial}
    timers:
      - {after: P1D, event: end_trial}
      - {after: P2D, event: nudge}
  sealed:
    label: {zh: 已封存, en: Sealed}
    final: true
  collected:
    label: {zh: 已领取, en: Collected}
    final: true
events:
  remind: {label: {zh: 提醒, en: Remind}, from: waiting, to: waiting}
  take_back: {label: {zh: 收回, en: Take back}, from: waiting, to: waiting, action: move_it,
              retry: {times: 3, backoff: PT5M}}
  seal: {label: {zh: 封存, en: Seal}, from: waiting, to: sealed}
  collect: {label: {zh: 领取, en: Collect}, from: waiting, to: collected}
  end_trial: {label: {zh: 试用结束, en: End the trial}, from: trial, to: sealed}
  nudge: {label: {zh: 催办, en: Nudge}, from: trial, to: trial}
"""

START = datetime(2022, 9, 1, 2, 0, tzinfo=UTC)
IN_ORDER = ["start", "remind", "take_back", "seal"]


class Branch:
    """The take-back's action: records where each parcel is; fails while ``broken``."""

    def __init__(self) -> None:
        self.broken = False

    def move_it(self, ctx: TransitionContext) -> None:
        if self.broken:
            raise RuntimeError("the card centre did not answer")
        ctx.variables["place"] = "centre"


@pytest.fixture
def branch() -> Branch:
    return Branch()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def engine(db_url: str, branch: Branch, clock: SimulatedClock) -> Iterator[Engine]:
    registry = Registry()
    registry.add_action("move_it", branch.move_it)
    definition = parse_definition(yaml.safe_load(PARCEL), "parcel.yaml", registry)
    eng = Engine(make_engine(db_url), [definition], registry, clock=clock)
    yield eng
    eng.db.dispose()


def start(
    engine: Engine, clock: SimulatedClock, at: datetime, n: int = 1, state: str = "waiting"
) -> list[int]:
    """``n`` parcels entering ``state`` at ``at`` (their timers count from then)."""
    clock.set(at)
    definition = engine.definition("parcel")

    def work(tx: Any) -> list[int]:
        return [
            engine.start_in(tx, definition, state, f"p-{at:%Y%m%d}-{i}", {}, "t").instance_id
            for i in range(n)
        ]

    return engine.transaction(work)


def events_of(engine: Engine, iid: int) -> list[str]:
    return [h["event"] for h in queries.history(engine.db, iid)]


def timer_statuses(engine: Engine, iid: int) -> dict[str, str]:
    return {t["event"]: t["status"] for t in queries.timers_of(engine.db, iid)}


def test_a_catch_up_fires_an_instances_timers_in_due_order_behind_anothers_earlier_seal(
    engine: Engine, clock: SimulatedClock
) -> None:
    """The QA case: the other parcel's seal (due before this one's take-back) is the first row
    of the chunk's seal group, ahead of the take-back group; the take-back must still come
    before this parcel's seal, and fire."""
    (other,) = start(engine, clock, START)
    sweep = TimerSweep(engine)
    caught = sweep.sweep(START + timedelta(days=190))  # its reminder and take-back
    assert (caught.fired, caught.stale) == (2, 0)
    assert events_of(engine, other) == ["start", "remind", "take_back"]

    (late,) = start(engine, clock, datetime(2023, 3, 11, 2, 0, tzinfo=UTC))
    after_downtime = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
    report = sweep.sweep(after_downtime)
    assert (report.claimed, report.fired, report.stale, report.failed) == (4, 4, 0, 0)
    assert events_of(engine, late) == IN_ORDER
    assert timer_statuses(engine, late) == dict.fromkeys(("remind", "take_back", "seal"), "fired")
    assert events_of(engine, other) == IN_ORDER
    instance = queries.instance(engine.db, late)
    assert instance is not None and instance["state"] == "sealed"
    assert instance["variables"]["place"] == "centre"  # the take-back's action ran
    history = queries.history(engine.db, late)[1:]
    assert [h["due_at"] for h in history] == sorted(h["due_at"] for h in history)
    assert {h["occurred_at"] for h in history} == {after_downtime}


def test_many_instances_caught_up_in_small_chunks_each_fire_in_order_once(
    engine: Engine, clock: SimulatedClock
) -> None:
    early = start(engine, clock, START, 3)
    TimerSweep(engine).sweep(START + timedelta(days=190))
    late = start(engine, clock, START + timedelta(days=60), 4)
    report = TimerSweep(engine, chunk=5).sweep(datetime(2024, 6, 1, tzinfo=UTC))
    assert (report.fired, report.stale, report.failed) == (3 + 4 * 3, 0, 0)
    for iid in early + late:
        assert events_of(engine, iid) == IN_ORDER


def test_a_later_timer_of_an_instance_leased_by_another_scheduler_waits_for_the_earlier(
    engine: Engine, clock: SimulatedClock
) -> None:
    """Two schedulers split one parcel's three due timers between their chunks; the one holding
    the seal fires first. The seal waits, its lease given back; the other fires the reminder and
    the take-back, then leases the seal with its next chunk: in order, each once."""
    (iid,) = start(engine, clock, START)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    first = TimerSweep(engine, chunk=2, name="first")
    second = TimerSweep(engine, chunk=2, name="second")
    reminder_and_take_back = first._lease(now)  # noqa: SLF001 - leased, not fired yet
    seal = second._lease(now)  # noqa: SLF001
    assert (len(reminder_and_take_back), len(seal)) == (2, 1)

    held = engine.transaction(lambda tx: second._chunk(tx, now, seal))  # noqa: SLF001
    assert (held.claimed, held.waiting, held.fired, held.stale) == (1, 1, 0, 0)
    (sealing,) = [t for t in queries.timers_of(engine.db, iid) if t["event"] == "seal"]
    assert (sealing["status"], sealing["locked_by"]) == ("pending", None)
    assert second.sweep(now).fired == 0  # still behind the take-back: it waits again
    done = engine.transaction(lambda tx: first._chunk(tx, now, reminder_and_take_back))  # noqa: SLF001
    assert (done.fired, done.stale, done.waiting) == (2, 0, 0)
    assert first.sweep(now).fired == 1  # its next chunk
    assert events_of(engine, iid) == IN_ORDER
    assert timer_statuses(engine, iid) == dict.fromkeys(("remind", "take_back", "seal"), "fired")


def test_a_later_timer_waits_while_an_earlier_one_is_retried_then_fires_after_it(
    engine: Engine, clock: SimulatedClock, branch: Branch
) -> None:
    (iid,) = start(engine, clock, START)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    sweep = TimerSweep(engine)
    branch.broken = True
    first = sweep.sweep(now)
    assert (first.fired, first.retried, first.stale) == (1, 1, 0)  # the reminder; no seal yet
    assert events_of(engine, iid) == ["start", "remind"]
    assert timer_statuses(engine, iid) == {
        "remind": "fired",
        "take_back": "pending",
        "seal": "pending",
    }
    assert sweep.sweep(now + timedelta(minutes=4)).claimed == 0  # the backoff holds both
    branch.broken = False
    again = sweep.sweep(now + timedelta(minutes=5))
    assert (again.fired, again.retried, again.stale) == (2, 0, 0)
    assert events_of(engine, iid) == IN_ORDER


def test_timers_made_stale_by_an_earlier_move_are_still_cancelled_unfired(
    engine: Engine, clock: SimulatedClock
) -> None:
    (collected,) = start(engine, clock, START)
    engine.fire(collected, "collect", actor="clerk")
    (waiting,) = start(engine, clock, START)
    report = TimerSweep(engine).sweep(datetime(2024, 6, 1, tzinfo=UTC))
    assert report.fired == 3
    assert events_of(engine, collected) == ["start", "collect"]
    assert set(timer_statuses(engine, collected).values()) == {"cancelled"}
    assert events_of(engine, waiting) == IN_ORDER


def test_a_later_timer_of_an_instance_an_earlier_timer_moved_on_is_cancelled_unfired(
    engine: Engine, clock: SimulatedClock
) -> None:
    (iid,) = start(engine, clock, START, state="trial")
    report = TimerSweep(engine).sweep(START + timedelta(days=10))
    assert report.fired == 1
    assert events_of(engine, iid) == ["start", "end_trial"]
    assert timer_statuses(engine, iid) == {"end_trial": "fired", "nudge": "cancelled"}
