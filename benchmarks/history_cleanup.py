"""History cleanup: removing N finished instances with 5 history rows each, against a floor, in
one run.

N enrollments ended (``refunded``) more than ten years ago, each with five history rows, are seeded
set-based. (a) The engine: ``engine.retention.HistoryCleanup.run_once`` with a bound on how long
one transaction may hold its locks (``--max-lock-ms``), archive optional; it reports the longest
transaction it held. (b) The floor, on a database seeded the same way: the same rows removed by
two set-based ``DELETE ... WHERE instance_id IN (SELECT ...)`` statements in one transaction, which
holds its locks for the whole time (what the chunks avoid). The last line is one JSON object.

Usage: python -m benchmarks.history_cleanup [--rows N] [--max-lock-ms MS] [--archive DIR]
       [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import bindparam, text

from benchmarks.common import DEFINITIONS, POLICIES, emit, engine_and_floor
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.models import UtcDateTime
from engine.retention import HistoryCleanup, read_archive
from web.config import database_settings
from web.wiring import build_engine

ENDED = datetime(2012, 6, 1, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # past enrollment's history_ttl (P3650D)
STEPS = 5

_SEQUENCE = {
    "sqlite": "WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < :n) ",
    "postgresql": "WITH seq(g) AS (SELECT generate_series(1, :n)) ",
}
_JSON = {"sqlite": "json_object('policy', 'huian-2012')", "postgresql": "'{}'::jsonb"}
_SEED_INSTANCES = (
    "INSERT INTO wf_instance (process, definition_version, business_key, state, version, "
    "variables, created_at, updated_at) "
    "SELECT 'enrollment', 1, 'old' || g, 'refunded', 6, {json}, :ended, :ended FROM seq"
)
_SEED_HISTORY = (
    "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor, "
    "occurred_at) "
    "SELECT i.id, 'enrollment', 'step' || s.g, 'deducted', 'refunded', 'seed', :ended "
    "FROM wf_instance i CROSS JOIN ({steps}) s"
)
_STEPS = {
    "sqlite": f"WITH RECURSIVE st(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM st WHERE g < "
    f"{STEPS}) SELECT g FROM st",
    "postgresql": f"SELECT generate_series(1, {STEPS}) AS g",
}
_FLOOR = (
    "DELETE FROM wf_history WHERE instance_id IN (SELECT id FROM wf_instance WHERE "
    "process = 'enrollment' AND state = 'refunded' AND updated_at < :cutoff)",
    "DELETE FROM wf_instance WHERE process = 'enrollment' AND state = 'refunded' "
    "AND updated_at < :cutoff",
)


def _ended(sql: str) -> Any:
    names = [n for n in ("ended", "cutoff") if f":{n}" in sql]
    return text(sql).bindparams(*(bindparam(n, type_=UtcDateTime()) for n in names))


def seed_finished(db: SqlEngine, n: int) -> None:
    """``n`` enrollments that ended in 2012, with ``STEPS`` history rows each."""
    dialect = db.dialect.name
    with db.begin() as conn:
        conn.execute(
            _ended(_SEQUENCE[dialect] + _SEED_INSTANCES.format(json=_JSON[dialect])),
            {"n": n, "ended": ENDED},
        )
        conn.execute(_ended(_SEED_HISTORY.format(steps=_STEPS[dialect])), {"ended": ENDED})
    if dialect == "postgresql":
        with db.begin() as conn:
            conn.execute(text("ANALYZE wf_instance"))
            conn.execute(text("ANALYZE wf_history"))


def run_engine(
    url: str, rows: int, max_lock: timedelta, archive: Path | None
) -> tuple[float, dict[str, Any]]:
    engine = build_engine(url, str(DEFINITIONS), str(POLICIES), clock=SimulatedClock(NOW))
    seed_finished(engine.db, rows)
    cleanup = HistoryCleanup(engine, max_lock=max_lock, archive=archive)
    began = time.perf_counter()
    report = cleanup.run_once()
    elapsed = time.perf_counter() - began
    engine.db.dispose()
    if (report.instances, report.history) != (rows, rows * STEPS):
        raise SystemExit(f"the cleanup removed {report.as_dict()}, expected {rows} instances")
    return elapsed, report.as_dict()


def run_floor(url: str, rows: int) -> float:
    db = make_engine(url, database_settings())
    seed_finished(db, rows)
    began = time.perf_counter()
    with db.begin() as conn:
        if db.dialect.name == "sqlite":
            conn.exec_driver_sql("SELECT 1")
        changed = [
            conn.execute(_ended(sql), {"cutoff": NOW - timedelta(days=3650)}).rowcount
            for sql in _FLOOR
        ]
    elapsed = time.perf_counter() - began
    db.dispose()
    if changed != [rows * STEPS, rows]:
        raise SystemExit(f"the floor removed {changed}")
    return elapsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="finished instances (100000)")
    parser.add_argument("--max-lock-ms", type=int, default=1000, help="bound per transaction")
    parser.add_argument("--archive", action="store_true", help="archive before removing")
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    args = parser.parse_args(argv)
    # Seeding millions of rows is one statement: no statement timeout for the benchmark's own
    # sessions (the cleanup's transactions are what it measures).
    os.environ.setdefault("SHEBAO_DB_STATEMENT_TIMEOUT_MS", "0")
    bound = timedelta(milliseconds=args.max_lock_ms)
    with tempfile.TemporaryDirectory(prefix="shebao-archive-") as folder:
        archive = Path(folder) if args.archive else None
        engine_s, report, floor_s, database = engine_and_floor(
            args.postgres,
            lambda url: run_engine(url, args.rows, bound, archive),
            lambda url: run_floor(url, args.rows),
        )
        archived = sum(len(read_archive(p)) for p in archive.iterdir()) if archive else None
    result = {
        "benchmark": "history_cleanup",
        "database": database,
        "instances": report["instances"],
        "history_rows": report["history"],
        "chunks": report["chunks"],
        "max_lock_ms": report["max_lock_ms"],
        "max_lock_bound_ms": args.max_lock_ms,
        "floor_lock_ms": round(floor_s * 1000, 1),
        "archived_readable": archived,
        "engine_rows_per_s": round(report["instances"] / engine_s, 1),
        "floor_rows_per_s": round(args.rows / floor_s, 1),
        "ratio": round(floor_s / engine_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
