"""Event throughput: the engine firing card events against a bare-SQL floor, in one run.

(a) the engine starts N card instances and fires produce, notify_holder and activate on each, one
transaction per event, writing history, timers and tasks as in service; (b) the floor writes the
same instance and history rows with bare driver statements (per event an UPDATE with the version
check plus an INSERT into history, one transaction each). Both run on the same database settings
(SQLite: WAL, synchronous=NORMAL, the migrated schema). The last line is one JSON object.

Usage: python -m benchmarks.event_throughput [--quick] [-n N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from benchmarks.common import DEFINITIONS, POLICIES, emit, fresh_sqlite, id_number, reset_postgres
from engine.runtime import Engine
from web.wiring import build_engine

EVENTS = ("produce", "notify_holder", "activate")


def run_engine(url: str, n: int) -> float:
    """Seconds for the engine to start ``n`` cards and fire the three events on each."""
    engine: Engine = build_engine(url, str(DEFINITIONS), str(POLICIES))
    people = [id_number(i) for i in range(n)]
    began = time.perf_counter()
    for person in people:
        card = engine.start(
            "card",
            business_key=person,
            actor="bench",
            variables={"id_number": person, "bank": "icbc", "channel": "online"},
        )
        engine.fire(card.instance_id, "produce", actor="factory")
        engine.fire(card.instance_id, "notify_holder", actor="icbc")
        engine.fire(
            card.instance_id, "activate", actor="teller", data={"presented_id_number": person}
        )
    elapsed = time.perf_counter() - began
    engine.db.dispose()
    return elapsed


_INSERT_INSTANCE = (
    "INSERT INTO wf_instance (process, definition_version, business_key, state, version, "
    "variables, created_at, updated_at) VALUES ({p}, 1, {p}, 'applied', 1, {p}, {p}, {p})"
)
_UPDATE = (
    "UPDATE wf_instance SET state = {p}, version = version + 1, updated_at = {p} "
    "WHERE id = {p} AND version = {p}"
)
_HISTORY = (
    "INSERT INTO wf_history (instance_id, event, from_state, to_state, actor, occurred_at, "
    "data) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)
_PATH = (
    ("produce", "applied", "produced"),
    ("notify_holder", "produced", "awaiting_activation"),
    ("activate", "awaiting_activation", "active"),
)


def _floor_rows(cursor: Any, n: int, p: str, commit: Any) -> None:
    insert_instance, update, history = (
        s.format(p=p) for s in (_INSERT_INSTANCE, _UPDATE, _HISTORY)
    )
    for i in range(n):
        person = id_number(i)
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        variables = json.dumps({"id_number": person, "bank": "icbc", "channel": "online"})
        cursor.execute(insert_instance, ("card", person, variables, now, now))
        instance_id = cursor.lastrowid
        if instance_id is None:  # psycopg: no lastrowid
            cursor.execute("SELECT lastval()")
            instance_id = cursor.fetchone()[0]
        commit()
        for version, (event, source, target) in enumerate(_PATH, start=1):
            cursor.execute(update, (target, now, instance_id, version))
            cursor.execute(history, (instance_id, event, source, target, "floor", now, None))
            commit()


def run_floor_sqlite(url: str, n: int) -> float:
    path = make_url(url).database
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cursor = conn.cursor()

    def commit() -> None:
        cursor.execute("COMMIT")
        cursor.execute("BEGIN IMMEDIATE")

    cursor.execute("BEGIN IMMEDIATE")
    began = time.perf_counter()
    _floor_rows(cursor, n, "?", commit)
    elapsed = time.perf_counter() - began
    cursor.execute("COMMIT")
    conn.close()
    return elapsed


def run_floor_postgres(url: str, n: int) -> float:
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        cursor = conn.cursor()
        began = time.perf_counter()
        _floor_rows(cursor, n, "%s", conn.commit)
        return time.perf_counter() - began


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (well under 30 s)")
    parser.add_argument("-n", type=int, help="card instances (default 3000, quick 1000)")
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    args = parser.parse_args(argv)
    n = args.n or (1000 if args.quick else 3000)
    if args.postgres:
        url = reset_postgres(args.postgres)
        engine_s = run_engine(url, n)
        url = reset_postgres(args.postgres)
        floor_s = run_floor_postgres(url, n)
        database = "postgresql"
    else:
        with fresh_sqlite("engine.db") as url:
            engine_s = run_engine(url, n)
        with fresh_sqlite("floor.db") as url:
            floor_s = run_floor_sqlite(url, n)
        database = "sqlite-wal-normal"
    transitions = 3 * n
    result = {
        "benchmark": "event_throughput",
        "database": database,
        "instances": n,
        "transitions": transitions,
        "engine_transitions_per_s": round(transitions / engine_s, 1),
        "floor_transitions_per_s": round(transitions / floor_s, 1),
        "ratio": round(floor_s / engine_s, 3),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
