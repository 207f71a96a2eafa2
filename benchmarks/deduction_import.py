"""Deduction import: a tax-authority result file of N rows applied set-based, against a bare-SQL floor.

N enrollments of Hui'an 2023 wait in ``renewal_pending`` (seeded set-based: the instance, its
``start`` history row and its ``lapse`` timer, as ``workflows.payments.open_renewals`` writes them),
and a file of N rows names each once: nine in ten deducted, one in ten failed. (a) The engine:
``workflows.deductions.import_deductions``, the real path (staging, matching in SQL, every row's
guards and action, the transitions, history, timers and idempotency keys in chunks). (b) The
floor, on a database seeded the same way: the same staging, then one ``INSERT INTO wf_history ...
SELECT`` and one ``UPDATE wf_instance ... FROM`` the staging table, in one transaction. The old
row-by-row import (one ``Engine.fire`` per row) is timed on a small sample for comparison. Peak RSS
is read after the engine's import. The last line is one JSON object.

Usage: python -m benchmarks.deduction_import [-n N] [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text

from benchmarks.common import (
    DEFINITIONS,
    POLICIES,
    emit,
    engine_and_floor,
    fresh_sqlite,
    reset_postgres,
)
from engine.clock import SimulatedClock
from engine.models import UtcDateTime
from engine.runtime import Engine
from engine.tx import Tx
from web.wiring import build_engine
from workflows.deduction_rows import ImportReport
from workflows.deduction_staging import Staging
from workflows.deductions import (
    import_deductions,
    import_deductions_row_by_row,
    open_file,
    parse_rows,
    staged_rows,
)
from workflows.identity import check_character
from workflows.policy_loader import load_policies
from workflows.service_date import service_today

POLICY = "huian-2023"
CREATED = datetime(2022, 9, 1, 1, 0, tzinfo=UTC)
NOW = datetime(2022, 10, 10, 2, 0, tzinfo=UTC)  # inside Hui'an 2023's payment period
SEED_CHUNK = 50_000
_BORN = date(1970, 1, 1)


def person(i: int) -> str:
    """A valid, distinct resident ID number for person ``i`` (up to 10 million)."""
    born = _BORN + timedelta(days=i // 1000)
    first17 = f"44{(i // 10_000_000) % 100:02d}04{born:%Y%m%d}{i % 1000:03d}"
    return first17 + check_character(first17)


def _instances(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        number = person(i)
        variables = {
            "id_number": number,
            "policy": POLICY,
            "region": "huian",
            "reduction_categories": [],
            "flags": [],
        }
        yield (f"{number}:{POLICY}", json.dumps(variables))


def seed(engine: Engine, n: int) -> None:
    """``n`` renewed Hui'an 2023 years, as ``open_renewals`` writes them, set-based."""
    definition = engine.definition("enrollment")
    due, ref = engine.registry.resolve_policy_date(
        "payment_period.end", {"policy": POLICY}, CREATED
    )
    postgres = engine.db.dialect.name == "postgresql"
    columns = (
        "business_key, variables, process, definition_version, state, version, created_at, "
        "updated_at"
    )
    rows = _instances(n)
    created: Any = CREATED if postgres else CREATED.replace(tzinfo=None).isoformat(" ")
    while batch := list(itertools.islice(rows, SEED_CHUNK)):

        def work(tx: Tx, batch: list[tuple[Any, ...]] = batch) -> None:
            fixed = ("enrollment", definition.version, "renewal_pending", 1, created, created)
            if postgres:
                with tx.cursor.copy(f"COPY wf_instance ({columns}) FROM STDIN") as copy:
                    for values in batch:
                        copy.write_row((*values, *fixed))
            else:
                sql = f"INSERT INTO wf_instance ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                tx.cursor.executemany(sql, [(*values, *fixed) for values in batch])

        engine.transaction(work)
    times = [bindparam(k, type_=UtcDateTime()) for k in ("created", "due")]
    with engine.db.begin() as conn:
        if postgres:  # a million rows at once may outlast the service's statement timeout
            conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(
            text(
                "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, "
                "actor, occurred_at) SELECT id, 'enrollment', 'start', NULL, state, 'renewal', "
                ":created FROM wf_instance"
            ).bindparams(times[0]),
            {"created": CREATED},
        )
        conn.execute(
            text(
                "INSERT INTO wf_timer (instance_id, process, state, event, due_at, status, "
                "policy_ref, created_at) SELECT id, 'enrollment', state, 'lapse', :due, "
                "'pending', :ref, :created FROM wf_instance"
            ).bindparams(*times),
            {"created": CREATED, "due": due, "ref": ref},
        )
    if postgres:
        with engine.db.begin() as conn:
            for table in ("wf_instance", "wf_history", "wf_timer"):
                conn.execute(text(f"ANALYZE {table}"))


def write_file(path: Path, n: int) -> None:
    """A result file naming persons 0..n-1: one in ten failed, the others deducted."""
    policy = load_policies(POLICIES)[POLICY]
    from workflows.enrollment import amount_due

    due = amount_due(policy, {"id_number": person(0)}, NOW)
    with path.open("w", encoding="utf-8") as out:
        out.write("id_number,policy_year,amount,result,reason\n")
        for i in range(n):
            if i % 10 == 9:
                out.write(f"{person(i)},2023,0,failed,余额不足\n")
            else:
                out.write(f"{person(i)},2023,{due},success,\n")


def _engine(url: str) -> Engine:
    return build_engine(url, str(DEFINITIONS), str(POLICIES), clock=SimulatedClock(NOW))


def run_engine(url: str, path: Path, n: int) -> tuple[float, dict[str, Any]]:
    engine = _engine(url)
    seed(engine, n)
    policy = load_policies(POLICIES)[POLICY]
    began = time.perf_counter()
    report = import_deductions(engine, policy, path, actor="tax")
    elapsed = time.perf_counter() - began
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.db.dispose()
    _check(report, n, "the set-based import")
    return elapsed, {"peak_rss_mb": round(rss, 1)}


def _check(report: ImportReport, n: int, what: str) -> None:
    if report.applied != n or report.rejected:
        shown = [(r.line, r.reason) for r in report.rejected[:5]]
        raise SystemExit(f"{what} applied {report.applied} of {n} rows; rejected {shown}")


_FLOOR_HISTORY = (
    "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor, "
    "occurred_at, data) SELECT i.id, 'enrollment', s.event, i.state, CASE s.event WHEN 'deduct' "
    "THEN 'deducted' ELSE 'deduction_failed' END, 'floor', {now}, {data} "
    "FROM {stage} s JOIN wf_instance i ON i.business_key = s.bkey"
)
_FLOOR_UPDATE = (
    "UPDATE wf_instance SET state = CASE s.event WHEN 'deduct' THEN 'deducted' "
    "ELSE 'deduction_failed' END, version = wf_instance.version + 1, updated_at = {now} "
    "FROM {stage} s WHERE wf_instance.business_key = s.bkey"
)
_DATA = {
    "postgresql": "jsonb_strip_nulls(jsonb_build_object('amount', s.amount, 'reason', s.reason))",
    "sqlite": "json_object('amount', s.amount, 'reason', s.reason)",
}


def run_floor(url: str, path: Path, n: int) -> float:
    engine = _engine(url)
    seed(engine, n)
    policy = load_policies(POLICIES)[POLICY]
    dialect = engine.db.dialect.name
    now = "'2022-10-10 02:00:00+00'" if dialect == "postgresql" else "'2022-10-10 02:00:00.000000'"
    report = ImportReport()
    began = time.perf_counter()
    with Staging(engine) as stage, open_file(path) as stream:
        stage.load(
            staged_rows(
                parse_rows(stream, policy, report, today=service_today(engine.clock.now())), policy
            )
        )
        fill = {"now": now, "stage": stage.table, "data": _DATA[dialect]}

        def work(tx: Tx) -> list[int]:
            if dialect == "postgresql":  # one statement over every row: no service timeout
                tx.cursor.execute("SET LOCAL statement_timeout = 0")
            changed = []
            for sql in (_FLOOR_HISTORY, _FLOOR_UPDATE):
                tx.cursor.execute(sql.format(**fill))
                changed.append(int(tx.cursor.rowcount))
            return changed

        changed = engine.transaction(work)
    elapsed = time.perf_counter() - began
    engine.db.dispose()
    if changed != [n, n]:
        raise SystemExit(f"the floor changed {changed} rows, expected {n} each")
    return elapsed


def run_row_by_row(postgres: str | None, path: Path, n: int) -> float:
    """Rows per second of the old import (one ``Engine.fire`` per row) on ``n`` rows."""
    policy = load_policies(POLICIES)[POLICY]

    def timed(url: str) -> float:
        engine = _engine(url)
        seed(engine, n)
        began = time.perf_counter()
        report = import_deductions_row_by_row(engine, policy, path, actor="tax")
        elapsed = time.perf_counter() - began
        engine.db.dispose()
        _check(report, n, "the row-by-row import")
        return n / elapsed

    if postgres:
        return timed(reset_postgres(postgres))
    with fresh_sqlite("rows.db") as url:
        return timed(url)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="rows (1000000)")
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    parser.add_argument("--quick", action="store_true", help="20000 rows, a smaller sample")
    parser.add_argument("--sample", type=int, default=2000, help="rows of the row-by-row run")
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else args.n
    sample = min(500 if args.quick else args.sample, n)
    with tempfile.TemporaryDirectory(prefix="shebao-dedu-") as folder:
        path, small = Path(folder) / "deductions.csv", Path(folder) / "sample.csv"
        write_file(path, n)
        write_file(small, sample)
        engine_s, figures, floor_s, database = engine_and_floor(
            args.postgres,
            lambda url: run_engine(url, path, n),
            lambda url: run_floor(url, path, n),
        )
        row_rate = run_row_by_row(args.postgres, small, sample)
    result = {
        "benchmark": "deduction_import",
        "database": database,
        "rows": n,
        "engine_s": round(engine_s, 2),
        "floor_s": round(floor_s, 2),
        "engine_rows_per_s": round(n / engine_s, 1),
        "floor_rows_per_s": round(n / floor_s, 1),
        "row_by_row_rows_per_s": round(row_rate, 1),
        "row_by_row_sample": sample,
        "ratio": round(floor_s / engine_s, 3),
        "peak_rss_mb": figures["peak_rss_mb"],
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
