"""An instance migration that moves instances between states runs the domain's move checks, as a
supervisor's move does: the plan counts their warnings, a migration with warnings nobody
confirmed moves nothing, a confirmed one keeps the codes in each warned instance's history row,
and a warning that appears only while moving stops that chunk whole (the run stays resumable).
A toy check here: one live ticket per business key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.migration import ConfirmationNeeded, migrate, plan
from engine.registry import Move, MoveWarning, Registry
from engine.runtime import Engine
from engine.transition_context import TransitionContext
from engine.tx import Tx

V1 = """
process: ticket
version: 1
label: {zh: 工单, en: Ticket}
initial: [open, shelved]
states:
  open:
    label: {zh: 处理中, en: Open}
    tags: [live]
    task: {name: work_it, candidate_group: clerk}
  shelved:
    label: {zh: 搁置, en: Shelved}
  done:
    label: {zh: 完成, en: Done}
    final: true
events:
  finish: {label: {zh: 完成, en: Finish}, from: open, to: done}
  drop: {label: {zh: 放弃, en: Drop}, from: shelved, to: done}
"""
V2 = V1.replace("version: 1", "version: 2")
SECOND_LIVE = "second_live"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def one_live_ticket(ctx: TransitionContext, move: Move) -> MoveWarning | None:
    """Warn when a ticket is moved into a live state while its key has another live one."""
    if "live" in move.source_tags or "live" not in move.target_tags or not ctx.business_key:
        return None
    others = [
        view.id
        for view in ctx.find(ctx.process, ctx.business_key)
        if view.id != ctx.instance_id and "live" in view.tags
    ]
    if not others:
        return None
    return MoveWarning(
        SECOND_LIVE,
        f"该编号已有另一张处理中的工单（{others[0]}）",
        f"the key already has another live ticket ({others[0]})",
        "我已知悉",
        "I know",
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    registry = Registry()
    registry.add_move_check("ticket", one_live_ticket)
    v1 = parse_definition(yaml.safe_load(V1), "ticket.v1.yaml", registry)
    v2 = parse_definition(yaml.safe_load(V2), "ticket.v2.yaml", registry)
    eng = Engine(make_engine(db_url), [v1, v2], registry, clock=SimulatedClock(START))
    yield eng
    eng.db.dispose()


def ticket(engine: Engine, state: str, key: str, version: int = 1) -> int:
    definition = engine.definition("ticket", version)
    return engine.transaction(
        lambda tx: engine.start_in(tx, definition, state, key, {}, "test")
    ).instance_id


def where(engine: Engine, iid: int) -> tuple[int, str]:
    found = queries.instance(engine.db, iid)
    assert found is not None
    return found["definition_version"], found["state"]


def last_history(engine: Engine, iid: int) -> dict[str, Any]:
    return queries.history(engine.db, iid)[-1]


def test_warnings_are_planned_refused_unless_confirmed_and_kept_in_the_history(
    engine: Engine,
) -> None:
    live_a = ticket(engine, "open", "a")
    shelved_a = ticket(engine, "shelved", "a")  # key a has a live ticket: warned
    shelved_b = ticket(engine, "shelved", "b")  # key b has none: no warning
    live_c = ticket(engine, "open", "c")  # open -> open: state unchanged, not checked

    migration = plan(engine, "ticket", 1, 2, {"shelved": "open"})
    assert list(migration.warnings) == [SECOND_LIVE]
    warned = migration.warnings[SECOND_LIVE]
    assert (warned.instances, warned.ids) == (1, [shelved_a])
    assert f"another live ticket ({live_a})" in warned.message_en
    assert any(
        line.startswith(f"  WARNING {SECOND_LIVE}: 1 instances") for line in migration.lines()
    )

    with pytest.raises(ConfirmationNeeded) as refused:
        migrate(engine, migration, actor="ops")
    assert refused.value.migrated == 0
    assert f"--confirm {SECOND_LIVE}" in refused.value.message_en
    assert f"--confirm {SECOND_LIVE}" in refused.value.message_zh
    assert {where(engine, iid) for iid in (live_a, shelved_a, shelved_b, live_c)} == {
        (1, "open"),
        (1, "shelved"),
    }
    assert all(last_history(engine, i)["event"] == "start" for i in (live_a, shelved_a, shelved_b))

    report = migrate(engine, migration, actor="ops", confirmed=[SECOND_LIVE])
    assert report.migrated == 4 and report.confirmed == {SECOND_LIVE: 1}
    assert where(engine, shelved_a) == where(engine, shelved_b) == (2, "open")
    assert last_history(engine, shelved_a)["data"] == {
        "from_version": 1,
        "to_version": 2,
        "confirmed": [SECOND_LIVE],
    }
    for iid in (shelved_b, live_a, live_c):
        assert last_history(engine, iid)["data"] == {"from_version": 1, "to_version": 2}


def test_instances_moved_together_see_each_other_moved(engine: Engine) -> None:
    """Two shelved tickets of one key, none live: each would be the second live one after the
    migration, so both are warned about, in the plan and while moving."""
    first, second = ticket(engine, "shelved", "k"), ticket(engine, "shelved", "k")
    migration = plan(engine, "ticket", 1, 2, {"shelved": "open"})
    assert migration.warnings[SECOND_LIVE].ids == [first, second]
    with pytest.raises(ConfirmationNeeded):
        migrate(engine, migration, actor="ops")
    migration.warnings.clear()  # a plan that missed them: the chunk finds them itself
    with pytest.raises(ConfirmationNeeded) as refused:
        migrate(engine, migration, actor="ops")
    assert refused.value.migrated == 0
    assert [w.ids for w in refused.value.warnings] == [[first, second]]
    assert where(engine, first) == where(engine, second) == (1, "shelved")


def test_a_warning_that_appears_while_moving_stops_its_chunk_whole_and_the_run_resumes(
    engine: Engine,
) -> None:
    quiet = [ticket(engine, "shelved", f"q{n}") for n in range(3)]
    late = ticket(engine, "shelved", "late")
    migration = plan(engine, "ticket", 1, 2, {"shelved": "open"})
    assert migration.warnings == {}
    newcomer = ticket(engine, "open", "late", version=2)  # after the plan, before the move

    with pytest.raises(ConfirmationNeeded) as refused:
        migrate(engine, migration, actor="ops", chunk=2)
    assert refused.value.migrated == 2
    assert f"({newcomer})" in refused.value.message_en and "2 instances were migrated" in str(
        refused.value
    )
    assert [where(engine, iid) for iid in quiet[:2]] == [(2, "open"), (2, "open")]
    # the refused chunk (quiet[2], late) moved not at all: no state, task or history of it
    assert [where(engine, iid) for iid in (quiet[2], late)] == [(1, "shelved"), (1, "shelved")]
    assert queries.tasks_of(engine.db, quiet[2]) == []
    assert [h["event"] for h in queries.history(engine.db, quiet[2])] == ["start"]

    again = plan(engine, "ticket", 1, 2, {"shelved": "open"})
    assert again.warnings[SECOND_LIVE].ids == [late]
    report = migrate(engine, again, actor="ops", chunk=2, confirmed=[SECOND_LIVE])
    assert (report.migrated, report.confirmed) == (2, {SECOND_LIVE: 1})
    assert where(engine, late) == (2, "open")
    assert last_history(engine, late)["data"]["confirmed"] == [SECOND_LIVE]
    assert [t["name"] for t in queries.tasks_of(engine.db, late, "open")] == ["work_it"]


def test_a_chunk_waits_for_the_key_lock_of_a_supervisors_move_and_then_sees_it(
    engine: Engine,
) -> None:
    """PostgreSQL (SQLite serialises every writer already): a chunk takes the business key's
    lock a supervisor's move holds, so it judges the instance after that move committed."""
    if engine.dialect != "postgresql":
        pytest.skip("SQLite holds one write lock for the whole database")
    shelved = ticket(engine, "shelved", "a")
    migration = plan(engine, "ticket", 1, 2, {"shelved": "open"})
    assert migration.warnings == {}
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            migrate(engine, migration, actor="ops")
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    def waiting_for_a_key_lock() -> int:
        with engine.db.connect() as conn:
            query = (
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return int(conn.execute(text(query)).scalar_one())

    def supervisor(tx: Tx) -> None:  # a move holding the key's lock (as interventions.move)
        tx.lock("ticket:a")
        mover.start()
        deadline = time.monotonic() + 20
        while not waiting_for_a_key_lock():
            assert mover.is_alive() and time.monotonic() < deadline, "the chunk took no key lock"
            time.sleep(0.05)
        engine.start_in(tx, engine.definition("ticket", 2), "open", "a", {}, "boss")

    mover = threading.Thread(target=run)
    engine.transaction(supervisor, retries=0)
    mover.join(20)
    assert len(outcome) == 1 and isinstance(outcome[0], ConfirmationNeeded), outcome
    assert where(engine, shelved) == (1, "shelved")
