"""Deadline sweep: the scheduler lapsing N unpaid enrollments against a bare-SQL floor, in one run.

N enrollments of Hui'an 2023 wait in ``renewal_pending`` with a ``lapse`` timer due at the end of
the payment period (seeded set-based, server side). (a) The engine: ``engine.scheduler.run_once``
with the clock after the deadline, i.e. the real scheduler path (claim chunks, fire set-based,
history with due and firing times, timers marked fired, the lapse notice written to the outbox).
(b) The floor, on a database seeded the same way: one ``INSERT INTO wf_notice SELECT ...`` (the
notice's texts as the engine renders them), one ``INSERT INTO wf_history SELECT ...``, one
``UPDATE wf_instance ... WHERE state = ... AND due_at <= ...`` and one ``UPDATE wf_timer`` marking
the timers fired: the same end state, without the engine's lease (its own committed step, so that
a scheduler that hangs loses its timers) or its chunks. The last line is one JSON object.

Usage: python -m benchmarks.deadline_sweep [--rows N] [--chunk N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import bindparam, text

from benchmarks.common import DEFINITIONS, POLICIES, emit, engine_and_floor
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.models import UtcDateTime
from engine.scheduler import run_once
from engine.timers import DEFAULT_CHUNK
from web.wiring import build_engine

POLICY = "huian-2023"
REF = f"{POLICY}:payment_period.end"
DUE = datetime(2022, 12, 31, 16, 0, tzinfo=UTC)  # 2023-01-01 00:00 in Asia/Shanghai
AFTER = DUE + timedelta(hours=1)
CREATED = datetime(2022, 9, 1, 1, 0, tzinfo=UTC)

_SEQUENCE = {
    "sqlite": "WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < :n) ",
    "postgresql": "WITH seq(g) AS (SELECT generate_series(1, :n)) ",
}
# The variables ``workflows.payments.open_renewals`` writes for a renewed Hui'an year.
_JSON = {
    "sqlite": "json_object('id_number', :prefix || g, 'policy', :policy, 'region', 'huian', "
    "'reduction_categories', json_array(), 'flags', json_array())",
    "postgresql": "jsonb_build_object('id_number', :prefix || g, 'policy', :policy, "
    "'region', 'huian', 'reduction_categories', '[]'::jsonb, 'flags', '[]'::jsonb)",
}
_SEED_INSTANCES = (
    "INSERT INTO wf_instance (process, definition_version, business_key, state, version, "
    "variables, created_at, updated_at) "
    "SELECT 'enrollment', 1, :prefix || g || ':' || :policy, :state, 1, {json}, :created, :created "
    "FROM seq"
)
_SEED_TIMERS = (
    "INSERT INTO wf_timer (instance_id, process, state, event, due_at, status, policy_ref, "
    "created_at) SELECT id, 'enrollment', :state, 'lapse', :due, 'pending', :ref, :created "
    "FROM wf_instance WHERE id > :after_id"
)
_RECIPIENT = {
    "sqlite": "json_extract(i.variables, '$.id_number')",
    "postgresql": "i.variables ->> 'id_number'",
}
# The lapse notice (definitions/enrollment.yaml) each lapsed year writes to the outbox, its texts
# as the engine renders them for Hui'an 2023.
_FLOOR_NOTICES = (
    "INSERT INTO wf_notice (instance_id, process, event, kind, recipient, channel, text_zh, "
    "text_en, data, status, attempts, created_at) "
    "SELECT t.instance_id, 'enrollment', 'lapse', 'year_lapsed', {recipient}, 'sms', :zh, :en, "
    "{data}, 'pending', 0, :now "
    "FROM wf_timer t JOIN wf_instance i ON i.id = t.instance_id "
    "WHERE t.status = 'pending' AND t.due_at <= :now AND i.state = 'renewal_pending'"
)
_DATA = {"sqlite": ":data", "postgresql": "CAST(:data AS jsonb)"}
_FLOOR = (
    "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor, "
    "occurred_at, due_at) "
    "SELECT t.instance_id, 'enrollment', 'lapse', 'renewal_pending', 'lapsed', 'floor', :now, "
    "t.due_at "
    "FROM wf_timer t JOIN wf_instance i ON i.id = t.instance_id "
    "WHERE t.status = 'pending' AND t.due_at <= :now AND i.state = 'renewal_pending'",
    "UPDATE wf_instance SET state = 'lapsed', version = version + 1, updated_at = :now "
    "WHERE state = 'renewal_pending' AND id IN "
    "(SELECT instance_id FROM wf_timer WHERE status = 'pending' AND due_at <= :now)",
    "UPDATE wf_timer SET status = 'fired', fired_at = :now, locked_by = 'floor' "
    "WHERE status = 'pending' AND due_at <= :now",
)


def _times(sql: str) -> Any:
    names = [n for n in ("created", "due", "now") if f":{n}" in sql]
    return text(sql).bindparams(*(bindparam(n, type_=UtcDateTime()) for n in names))


def seed_due_enrollments(
    db: SqlEngine,
    n: int,
    *,
    due: datetime = DUE,
    state: str = "renewal_pending",
    prefix: str = "p",
    ref: str | None = REF,
    policy: str = POLICY,
) -> tuple[int, int]:
    """Insert ``n`` enrollments in ``state`` with a pending ``lapse`` timer due at ``due``, in two
    set-based statements; returns the (first, last) new instance id."""
    dialect = db.dialect.name
    with db.begin() as conn:
        after_id = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM wf_instance")).scalar_one()
        conn.execute(
            _times(_SEQUENCE[dialect] + _SEED_INSTANCES.format(json=_JSON[dialect])),
            {"n": n, "prefix": prefix, "policy": policy, "state": state, "created": CREATED},
        )
        conn.execute(
            _times(_SEED_TIMERS),
            {"state": state, "due": due, "ref": ref, "created": CREATED, "after_id": after_id},
        )
    if dialect == "postgresql":
        with db.begin() as conn:
            conn.execute(text("ANALYZE wf_instance"))
            conn.execute(text("ANALYZE wf_timer"))
    return after_id + 1, after_id + n


def run_engine(url: str, rows: int, chunk: int) -> tuple[float, int]:
    """Seconds for the scheduler's sweep to lapse every seeded enrollment, and rows fired."""
    engine = build_engine(url, str(DEFINITIONS), str(POLICIES), clock=SimulatedClock(AFTER))
    seed_due_enrollments(engine.db, rows)
    began = time.perf_counter()
    report = run_once(engine, chunk=chunk)
    elapsed = time.perf_counter() - began
    engine.db.dispose()
    if report.fired != rows:
        raise SystemExit(f"the sweep fired {report.fired} of {rows} timers: {report.as_dict()}")
    return elapsed, report.fired


def lapse_notice_texts(url: str) -> dict[str, Any]:
    """The lapse notice's texts and shown values, as the engine renders them for a seeded year."""
    engine = build_engine(url, str(DEFINITIONS), str(POLICIES), clock=SimulatedClock(AFTER))
    spec = engine.definition("enrollment").events["lapse"]
    variables = {"id_number": "p1", "policy": POLICY, "region": "huian"}
    row = engine.notices.row(spec.notices[0], spec, 1, "enrollment", variables, {}, AFTER)
    engine.db.dispose()
    assert row is not None
    return {"zh": row["text_zh"], "en": row["text_en"], "data": json.dumps(row["data"])}


def run_floor(url: str, rows: int) -> float:
    """The same rows set-based: the lapse notices, the history, the instances moved, the timers
    marked fired."""
    db = make_engine(url)
    seed_due_enrollments(db, rows)
    dialect = db.dialect.name
    notices = _FLOOR_NOTICES.format(recipient=_RECIPIENT[dialect], data=_DATA[dialect])
    texts = lapse_notice_texts(url)
    began = time.perf_counter()
    with db.begin() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("SELECT 1")  # BEGIN: pysqlite starts it lazily
        changed = [
            conn.execute(_times(sql), {"now": AFTER, **texts}).rowcount
            if sql is notices
            else conn.execute(_times(sql), {"now": AFTER}).rowcount
            for sql in (notices, *_FLOOR)
        ]
    elapsed = time.perf_counter() - began
    db.dispose()
    if changed != [rows] * 4:
        raise SystemExit(f"the floor changed {changed} rows, expected {rows} each")
    return elapsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="due enrollments (200000)")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="timers per transaction")
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    args = parser.parse_args(argv)
    engine_s, fired, floor_s, database = engine_and_floor(
        args.postgres,
        lambda url: run_engine(url, args.rows, args.chunk),
        lambda url: run_floor(url, args.rows),
    )
    result = {
        "benchmark": "deadline_sweep",
        "database": database,
        "rows": fired,
        "chunk": args.chunk,
        "engine_rows_per_s": round(fired / engine_s, 1),
        "floor_rows_per_s": round(args.rows / floor_s, 1),
        "ratio": round(floor_s / engine_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
