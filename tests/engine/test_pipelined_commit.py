"""A firing's transaction on PostgreSQL in two round trips (issue 17), and still all or nothing.

In psycopg's pipeline the engine queues ``BEGIN`` with the firing's first reads (the key's lock,
the key, the instance) and ``COMMIT`` behind its writes; the versioned UPDATE's check runs on the
server (``wf_expect_rows``, migration 0014), so a lost race aborts the pipeline and the queued
``COMMIT`` with it. Round trips are counted on the wire: libpq's own trace of the writer
connection, where each run of the server's messages answers one wait of the client.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from psycopg.pq import Trace
from sqlalchemy import text

from engine import queries
from engine.errors import ConcurrentModification
from engine.outcomes import Idempotency
from engine.runtime import Engine
from engine.tx import Tx
from web.config import PROJECT_ROOT
from web.wiring import build_engine
from workflows.identity import make_id_number

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgres"], indirect=True),  # conftest's, PostgreSQL only
]

DEFINITIONS = PROJECT_ROOT / "definitions"
FUNCTION = "wf_expect_rows(bigint,bigint,text)"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = build_engine(db_url, str(DEFINITIONS), str(DEFINITIONS / "policies"))
    yield eng
    eng.db.dispose()


def apply(engine: Engine, n: int) -> int:
    person = make_id_number("440604", date(1990, 1, 2), n)
    variables = {"id_number": person, "bank": "icbc", "channel": "online", "region": "foshan"}
    return engine.start("card", business_key=person, actor="t", variables=variables).instance_id


def writer(engine: Engine) -> Any:
    """The writer connection the engine's next transaction takes (it keeps the last one)."""
    held, _ = engine.writers.keeper.take()
    engine.writers.keeper.give_back(held)
    return held.driver_connection


def round_trips(trace: str) -> int:
    """How many times the client waited for the server: runs of backend (``B``) lines."""
    runs, previous = 0, ""
    for line in trace.splitlines():
        side = line[:1]
        if side == "B" and previous != "B":
            runs += 1
        if side in ("B", "F"):
            previous = side
    return runs


def traced(engine: Engine, work: Any) -> tuple[Any, str]:
    """``work()``'s result and libpq's trace of the writer connection meanwhile."""
    pgconn = writer(engine).pgconn
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace"
        with path.open("w") as out:
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
            try:
                result = work()
            finally:
                pgconn.untrace()
        return result, path.read_text()


def test_a_delivered_event_costs_two_round_trips_and_commits_in_the_second(
    engine: Engine,
) -> None:
    warm = apply(engine, 1)
    engine.fire(warm, "produce", actor="factory", idempotency=Idempotency("t", "warm"))
    card = apply(engine, 2)
    for event in ("produce", "notify_holder"):
        done, trace = traced(
            engine,
            lambda e=event: engine.fire(
                card, e, actor="factory", idempotency=Idempotency("t", f"k-{e}")
            ),
        )
        assert not done.replayed
        # the reads (BEGIN, the key's lock, the key, the instance), then writes and COMMIT
        assert round_trips(trace) == 2, trace
        assert trace.count('"COMMIT"') == 2  # sent, and acknowledged in the same run
        assert "wf_expect_rows" in trace
    # notify_holder's timers (as many as card.yaml declares) were committed with it
    assert len(queries.timers_of(engine.db, card, "pending")) == awaiting_timers(engine)
    # a replay is one round trip of reads, then an empty commit
    again, trace = traced(
        engine,
        lambda: engine.fire(
            card, "produce", actor="factory", idempotency=Idempotency("t", "k-produce")
        ),
    )
    assert again.replayed
    assert round_trips(trace) == 2, trace


def awaiting_timers(engine: Engine) -> int:
    """How many timers a card awaiting activation has (definitions/card.yaml): what
    notify_holder writes, at least the reminder."""
    count = len(engine.definition("card").states["awaiting_activation"].timers)
    assert count >= 1
    return count


def executed(trace: str) -> list[str]:
    """The statements the client had executed, in order (the Parse, or Bind, before each
    Execute names it: its text, or its prepared name)."""
    found, last = [], ""
    for line in trace.splitlines():
        fields = line.split("\t")
        if fields[0] != "F" or len(fields) < 4:
            continue
        if fields[2] in ("Parse", "Bind"):
            last = last if fields[2] == "Bind" and last.startswith(fields[3]) else fields[3]
        elif fields[2] == "Execute":
            found.append(last)
    return found


def test_a_firings_writes_go_out_as_one_statement_with_the_commit_behind_it(
    engine: Engine,
) -> None:
    card = apply(engine, 5)
    engine.fire(card, "produce", actor="factory")
    done, trace = traced(
        engine,
        lambda: engine.fire(card, "notify_holder", actor="icbc", idempotency=Idempotency("t", "n")),
    )
    assert done.to_state == "awaiting_activation"
    sent = executed(trace)
    # BEGIN, the instance read that takes the key's lock first, the key; then one statement for
    # the instance's move, its history, its timers, the activation task, the notice and the key;
    # then COMMIT
    assert len(sent) == 5, sent
    # the lock's key is bound to one statement only, the instance's read (a prepared one here)
    assert [i for i, line in enumerate(sent) if "'idempotency:t:n'" in line] == [1], sent
    assert round_trips(trace) == 2, trace
    fused = next(line for line in trace.splitlines() if "WITH w0 AS (UPDATE wf_instance" in line)
    for table in ("wf_history", "wf_timer", "wf_task", "wf_notice", "wf_idempotency_key"):
        assert f"INSERT INTO {table}" in fused
    # all of it committed, as written one after another (every timer notify_holder's state has)
    assert len(queries.timers_of(engine.db, card, "pending")) == awaiting_timers(engine)
    assert [t["name"] for t in queries.tasks_of(engine.db, card)] == ["activate_card"]
    with engine.db.connect() as conn:
        notices = conn.execute(
            text("SELECT kind FROM wf_notice WHERE instance_id = :id"), {"id": card}
        ).scalars()
        assert list(notices) == ["card_ready"]
    replay = engine.fire(card, "notify_holder", actor="icbc", idempotency=Idempotency("t", "n"))
    assert replay.replayed and replay.to_state == "awaiting_activation"
    # leaving the state in one statement: its timers cancelled and its task closed, while the
    # state entered writes its own (none for active)
    person = queries.instance(engine.db, card)["variables"]["id_number"]
    engine.fire(card, "activate", actor="teller", data={"presented_id_number": person})
    assert queries.timers_of(engine.db, card, "pending") == []
    assert queries.tasks_of(engine.db, card, "open") == []
    assert [h["event"] for h in queries.history(engine.db, card)] == [
        "start",
        "produce",
        "notify_holder",
        "activate",
    ]


def test_a_write_that_lost_the_race_aborts_the_queued_commit(engine: Engine) -> None:
    card = apply(engine, 3)
    queued: list[bool] = []

    def work(tx: Tx) -> Any:
        row = engine.load(tx, card)
        # another writer moves the instance on between our read and our write, every attempt
        with engine.db.begin() as other:
            other.execute(
                text("UPDATE wf_instance SET version = version + 1 WHERE id = :id"), {"id": card}
            )
        done = engine.fire_in(tx, row, "produce", "factory", {})
        queued.append(tx.pipeline is not None)
        return done

    with pytest.raises(ConcurrentModification) as raised:
        engine.transaction(work, pipelined=True)
    assert raised.value.instance_id == card
    assert len(queued) == 4  # the first attempt and three retries, all turned away
    row = queries.instance(engine.db, card)
    assert row["state"] == "applied" and row["version"] == 5  # only the other writer's bumps
    assert [h["event"] for h in queries.history(engine.db, card)] == ["start"]
    # the connection is fit for the next transaction, in psycopg's own mode again
    assert writer(engine).autocommit is False
    engine.fire(card, "produce", actor="factory")
    assert queries.instance(engine.db, card)["state"] == "produced"


def create_function(url: str) -> None:
    """Migration 0014's function, from the migration itself."""
    path = PROJECT_ROOT / "migrations" / "versions" / "0014_expect_rows_function.py"
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with build_engine(url, str(DEFINITIONS), str(DEFINITIONS / "policies")).db.begin() as conn:
        conn.execute(text(module.FUNCTION))


def test_before_migration_0014_the_check_is_the_clients_and_commit_a_round_trip_more(
    db_url: str,
) -> None:
    probe = build_engine(db_url, str(DEFINITIONS), str(DEFINITIONS / "policies"))
    with probe.db.begin() as conn:
        conn.execute(text(f"DROP FUNCTION {FUNCTION}"))
    probe.db.dispose()
    try:
        engine = build_engine(db_url, str(DEFINITIONS), str(DEFINITIONS / "policies"))
        card = apply(engine, 4)
        done, trace = traced(engine, lambda: engine.fire(card, "produce", actor="factory"))
        assert done.to_state == "produced"
        assert "wf_expect_rows" not in trace
        assert round_trips(trace) == 3, trace  # the instance; the writes; COMMIT

        def lost(tx: Tx) -> Any:
            row = engine.load(tx, card)
            with engine.db.begin() as other:
                other.execute(
                    text("UPDATE wf_instance SET version = version + 1 WHERE id = :id"),
                    {"id": card},
                )
            return engine.fire_in(tx, row, "notify_holder", "icbc", {})

        with pytest.raises(ConcurrentModification):
            engine.transaction(lost, pipelined=True)
        assert queries.timers_of(engine.db, card) == []
        assert queries.instance(engine.db, card)["state"] == "produced"
        engine.db.dispose()
    finally:
        create_function(db_url)
