"""Instance migration from one definition version to another: the plan, the move with tasks and
timers kept or recreated as the plan says, an audit row per instance, and resuming a run that
stopped half-way (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.migration import MigrationRefused, migrate, plan
from engine.models import History
from engine.registry import Registry
from engine.runtime import Engine

V1 = """
process: claim
version: 1
label: {zh: 申请, en: Claim}
initial: [checking, waiting, parked]
states:
  checking:
    label: {zh: 审核中, en: Checking}
    task: {name: check_it, candidate_group: clerk}
    timers:
      - {after: P7D, event: remind}
  waiting:
    label: {zh: 等待中, en: Waiting}
    timers:
      - {after: P30D, event: expire}
  parked:
    label: {zh: 搁置, en: Parked}
  closed:
    label: {zh: 已关闭, en: Closed}
    final: true
events:
  remind: {label: {zh: 提醒, en: Remind}, from: checking, to: checking}
  expire: {label: {zh: 过期, en: Expire}, from: waiting, to: closed}
  unpark: {label: {zh: 恢复, en: Unpark}, from: parked, to: checking}
"""

V2 = (
    V1.replace("version: 1", "version: 2")
    .replace("{after: P30D, event: expire}", "{after: P60D, event: expire}")
    .replace("initial: [checking, waiting, parked]", "initial: [checking, waiting, on_hold]")
    .replace(
        "  parked:\n    label: {zh: 搁置, en: Parked}",
        "  on_hold:\n    label: {zh: 挂起, en: On hold}",
    )
    .replace("from: parked, to: checking", "from: on_hold, to: checking")
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = START + timedelta(days=3)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    v1 = parse_definition(yaml.safe_load(V1), "claim.v1.yaml", Registry())
    v2 = parse_definition(yaml.safe_load(V2), "claim.v2.yaml", Registry())
    eng = Engine(make_engine(db_url), [v1, v2], Registry(), clock=SimulatedClock(START))
    yield eng
    eng.db.dispose()


def on_v1(engine: Engine, state: str, n: int) -> list[int]:
    definition = engine.definition("claim", 1)

    def work(tx: Any) -> list[int]:
        return [
            engine.start_in(tx, definition, state, f"{state}-{i}", {}, "test").instance_id
            for i in range(n)
        ]

    return engine.transaction(work)


def instance(engine: Engine, iid: int) -> dict[str, Any]:
    found = queries.instance(engine.db, iid)
    assert found is not None
    return found


def test_the_plan_names_where_each_state_goes_and_refuses_a_state_without_target(
    engine: Engine,
) -> None:
    on_v1(engine, "checking", 2)
    on_v1(engine, "waiting", 3)
    on_v1(engine, "parked", 1)
    first = plan(engine, "claim", 1, 2)
    assert first.unmapped == {"parked": 1}
    with pytest.raises(MigrationRefused, match="parked"):
        migrate(engine, first, actor="ops")
    mapped = plan(engine, "claim", 1, 2, {"parked": "on_hold"})
    assert [m.describe() for m in mapped.moves] == [
        "checking -> checking: 2 instances, task kept, timers kept",
        "waiting -> waiting: 3 instances, task none, timers recreated",
        "parked -> on_hold: 1 instances, task none, timers none",
    ]
    assert mapped.lines()[0] == "claim v1 -> v2: 6 instances"
    with pytest.raises(MigrationRefused, match="no state 'nowhere'"):
        plan(engine, "claim", 1, 2, {"parked": "nowhere"})


def test_instances_move_with_their_tasks_and_timers_as_planned(engine: Engine) -> None:
    checking = on_v1(engine, "checking", 2)
    waiting = on_v1(engine, "waiting", 2)
    parked = on_v1(engine, "parked", 1)
    task_before = queries.tasks_of(engine.db, checking[0], "open")
    remind_before = queries.timers_of(engine.db, checking[0], "pending")
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(LATER)
    report = migrate(engine, plan(engine, "claim", 1, 2, {"parked": "on_hold"}), actor="ops")
    assert report.migrated == 5
    for iid in checking + waiting + parked:
        row = instance(engine, iid)
        assert row["definition_version"] == 2 and row["version"] == 2
        last = queries.history(engine.db, iid)[-1]
        assert (last["event"], last["actor"], last["occurred_at"]) == ("migrate", "ops", LATER)
        assert last["data"] == {"from_version": 1, "to_version": 2}
    assert instance(engine, parked[0])["state"] == "on_hold"
    # the same task and timers: kept as they were
    assert queries.tasks_of(engine.db, checking[0], "open") == task_before
    assert queries.timers_of(engine.db, checking[0], "pending") == remind_before
    # another timer: the old one cancelled, v2's started from the migration
    (expire,) = queries.timers_of(engine.db, waiting[0], "pending")
    assert expire["due_at"] == LATER + timedelta(days=60)
    assert [t["status"] for t in queries.timers_of(engine.db, waiting[0])].count("cancelled") == 1
    # v2's rules apply from now on
    engine.fire(parked[0], "unpark", actor="clerk")
    assert instance(engine, parked[0])["state"] == "checking"


def test_a_run_stopped_half_way_is_resumed_and_each_instance_moves_once(engine: Engine) -> None:
    ids = on_v1(engine, "waiting", 7)
    migration = plan(engine, "claim", 1, 2)
    first = migrate(engine, migration, actor="ops", chunk=3, max_chunks=1)
    assert first.migrated == 3
    rest = migrate(engine, plan(engine, "claim", 1, 2), actor="ops", chunk=3)
    assert rest.migrated == 4
    assert migrate(engine, plan(engine, "claim", 1, 2), actor="ops").migrated == 0
    history = History.__table__
    with engine.db.connect() as conn:
        per_instance = conn.execute(
            select(history.c.instance_id, func.count())
            .where(history.c.event == "migrate")
            .group_by(history.c.instance_id)
        ).all()
    assert sorted(per_instance) == [(iid, 1) for iid in ids]


def test_a_firing_sees_the_events_its_own_version_allows_as_other_instances_do(
    db_url: str,
) -> None:
    """``ctx.events`` and ``InstanceView.events``: what may leave the state under the instance's
    own definition version (an instance left on v1 lacks an event v2 added)."""
    seen: dict[str, Any] = {}
    registry = Registry()

    def note(ctx: Any) -> None:
        key = str(ctx.business_key)
        seen[key] = (ctx.events, {v.business_key: v.events for v in ctx.find("claim", key)})

    registry.add_action("note_events", note)
    with_action = V1.replace(
        "from: checking, to: checking}", "from: checking, to: checking, action: note_events}"
    )
    added = V2.replace(
        "from: checking, to: checking}",
        "from: checking, to: checking, action: note_events}\n"
        "  escalate: {label: {zh: 上报, en: Escalate}, from: checking, to: closed}",
    )
    v1 = parse_definition(yaml.safe_load(with_action), "claim.v1.yaml", registry)
    v2 = parse_definition(yaml.safe_load(added), "claim.v2.yaml", registry)
    eng = Engine(make_engine(db_url), [v1, v2], registry, clock=SimulatedClock(START))
    try:
        old = eng.transaction(lambda tx: eng.start_in(tx, v1, "checking", "old", {}, "t"))
        new = eng.transaction(lambda tx: eng.start_in(tx, v2, "checking", "new", {}, "t"))
        eng.fire(old.instance_id, "remind")
        eng.fire(new.instance_id, "remind")
    finally:
        eng.db.dispose()
    assert seen["old"] == (frozenset({"remind"}), {"old": frozenset({"remind"})})
    both = frozenset({"remind", "escalate"})
    assert seen["new"] == (both, {"new": both})


def test_state_entered_at_moves_with_the_state_only(engine: Engine) -> None:
    """``state_entered_at`` through every writer: a batch (set-based UPDATE) keeps it for an
    instance that stays in its state and sets it for one that changes state; a migration keeps
    it, also for a state it renames (no business step entered it: ``engine.state_entries``)."""
    from engine.batch import BatchFire, BatchItem

    checking = on_v1(engine, "checking", 2)
    parked = on_v1(engine, "parked", 2)
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(LATER)
    batch = BatchFire(engine)
    items = [
        BatchItem(1, checking[0], "remind", {}),
        BatchItem(2, parked[0], "unpark", {}),
    ]
    results = engine.transaction(lambda tx: batch.apply_in(tx, items, actor="test"))
    assert [r.error for r in results] == [None, None]
    entered = {iid: instance(engine, iid)["state_entered_at"] for iid in checking + parked}
    assert entered == {checking[0]: START, checking[1]: START, parked[0]: LATER, parked[1]: START}

    clock.set(LATER + timedelta(days=1))
    migrate(engine, plan(engine, "claim", 1, 2, {"parked": "on_hold"}), actor="ops")
    entered = {iid: instance(engine, iid)["state_entered_at"] for iid in checking + parked}
    assert entered == {
        checking[0]: START,  # still checking, through the remind and the migration
        checking[1]: START,
        parked[0]: LATER,  # unparked (checking) at LATER
        parked[1]: START,  # parked -> on_hold by the map: the same state renamed
    }
