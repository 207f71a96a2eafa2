"""Instance migration: moving N enrollments across 5 states from definition version 1 to version 2,
against a bare-SQL floor, in one run.

N enrollments of Hui'an 2023 on version 1 are seeded set-based, a fifth in each of five states
(three payable ones with their lapse timer). Version 2 is the same file with one state renamed
(``deduction_failed`` -> ``deduction_returned``, mapped by the plan). (a) The engine:
``engine.migration.migrate`` in chunks (instances moved, a history row each, the renamed state's
timers following it). (b) The floor, on a database seeded the same way: the same rows changed by an
``UPDATE wf_instance``, an ``INSERT INTO wf_history SELECT`` and an ``UPDATE wf_timer`` for the
renamed state, in one transaction. The last line is one JSON object.

Usage: python -m benchmarks.instance_migration [--rows N] [--chunk N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time
from typing import Any

from sqlalchemy import text

from benchmarks.common import DEFINITIONS, POLICIES, emit, engine_and_floor
from benchmarks.deadline_sweep import CREATED, seed_due_enrollments
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_text
from engine.migration import migrate, plan
from engine.runtime import Engine
from web.config import database_settings
from workflows.domain import Domain

STATES = ("registered", "renewal_pending", "deduction_failed", "deducted", "lapsed")
RENAMED = ("deduction_failed", "deduction_returned")
_FLOOR = (
    "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor, "
    "occurred_at) SELECT id, 'enrollment', 'migrate', state, CASE WHEN state = "
    "'deduction_failed' THEN 'deduction_returned' ELSE state END, 'floor', updated_at "
    "FROM wf_instance WHERE process = 'enrollment' AND definition_version = 1",
    "UPDATE wf_timer SET state = 'deduction_returned' WHERE status = 'pending' AND "
    "state = 'deduction_failed'",
    "UPDATE wf_instance SET definition_version = 2, version = version + 1, state = CASE WHEN "
    "state = 'deduction_failed' THEN 'deduction_returned' ELSE state END "
    "WHERE process = 'enrollment' AND definition_version = 1",
)


def seed(db: Any, rows: int) -> None:
    for n, state in enumerate(STATES):
        share = rows // len(STATES) + (1 if n < rows % len(STATES) else 0)
        seed_due_enrollments(db, share, state=state, prefix=f"m{n}-")
        if state in ("deducted", "lapsed"):  # no lapse timer in those states
            with db.begin() as conn:
                conn.execute(text("DELETE FROM wf_timer WHERE state = :s"), {"s": state})


def versions(url: str) -> Engine:
    """The engine with the enrollment process in version 1 (the file) and 2 (a state renamed)."""
    domain = Domain(str(POLICIES))
    source = (DEFINITIONS / "enrollment.yaml").read_text(encoding="utf-8")
    v1 = parse_text(source, "enrollment.yaml", domain.registry)
    v2 = dataclasses.replace(
        parse_text(source.replace(*RENAMED), "enrollment.v2.yaml", domain.registry), version=2
    )
    db = make_engine(url, database_settings())
    return Engine(db, [v1, v2], domain.registry, clock=SimulatedClock(CREATED))


def run_engine(url: str, rows: int, chunk: int) -> tuple[float, int]:
    engine = versions(url)
    seed(engine.db, rows)
    migration = plan(engine, "enrollment", 1, 2, {RENAMED[0]: RENAMED[1]})
    began = time.perf_counter()
    report = migrate(engine, migration, actor="bench", chunk=chunk)
    elapsed = time.perf_counter() - began
    engine.db.dispose()
    if report.migrated != rows:
        raise SystemExit(f"migrated {report.migrated} of {rows}")
    return elapsed, report.migrated


def run_floor(url: str, rows: int) -> float:
    db = make_engine(url, database_settings())
    seed(db, rows)
    began = time.perf_counter()
    with db.begin() as conn:
        if db.dialect.name == "sqlite":
            conn.exec_driver_sql("SELECT 1")
        changed = [conn.execute(text(sql)).rowcount for sql in _FLOOR]
    elapsed = time.perf_counter() - began
    db.dispose()
    if changed[0] != rows or changed[2] != rows:
        raise SystemExit(f"the floor changed {changed}")
    return elapsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="instances (100000)")
    parser.add_argument("--chunk", type=int, default=5000, help="instances per transaction")
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    args = parser.parse_args(argv)
    os.environ.setdefault("SHEBAO_DB_STATEMENT_TIMEOUT_MS", "0")  # seeding is one statement
    engine_s, moved, floor_s, database = engine_and_floor(
        args.postgres,
        lambda url: run_engine(url, args.rows, args.chunk),
        lambda url: run_floor(url, args.rows),
    )
    result = {
        "benchmark": "instance_migration",
        "database": database,
        "instances": moved,
        "states": len(STATES),
        "chunk": args.chunk,
        "engine_rows_per_s": round(moved / engine_s, 1),
        "floor_rows_per_s": round(args.rows / floor_s, 1),
        "ratio": round(floor_s / engine_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
