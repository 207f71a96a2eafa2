"""A million open tasks for the inbox benchmarks: card applications to hang them on, then the tasks
written set-based by one ``INSERT ... SELECT`` (a recursive count on SQLite, ``generate_series``
on PostgreSQL), spread over five banks' queues, with due dates over two years (one in fifty
without), as the engine would have written them."""

from __future__ import annotations

import time
from datetime import date

from flask import Flask
from sqlalchemy import text

from web.app import engine_of
from web.extensions import domain_of
from workflows.cards import apply_for_card
from workflows.identity import make_id_number

INSTANCES = 200
BANKS = ("icbc", "abc", "boc", "ccb", "foshan_rcb")
_COLUMNS = """INSERT INTO wf_task (instance_id, process, name, state, candidate_group, scope, status,
                     assignee, created_at, due_at)"""
SEED = {
    "sqlite": _COLUMNS
    + """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
SELECT 1 + (i % :instances), 'card', 'activate_card', 'awaiting_activation', 'bank_teller',
       CASE i % 5 WHEN 0 THEN 'icbc' WHEN 1 THEN 'abc' WHEN 2 THEN 'boc' WHEN 3 THEN 'ccb'
                  ELSE 'foshan_rcb' END,
       'open', NULL, '2024-01-01 00:00:00.000000',
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE strftime('%Y-%m-%d %H:%M:%S', '2023-06-01', '+' || (i * 7919 % 63072000) || ' seconds')
                 || '.000000' END
FROM n
""",
    "postgresql": _COLUMNS
    + """
SELECT 1 + (i % :instances), 'card', 'activate_card', 'awaiting_activation', 'bank_teller',
       (ARRAY['icbc', 'abc', 'boc', 'ccb', 'foshan_rcb'])[1 + i % 5],
       'open', NULL, TIMESTAMPTZ '2024-01-01 00:00:00+00',
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE TIMESTAMPTZ '2023-06-01 00:00:00+00' + (i * 7919 % 63072000) * INTERVAL '1 second'
       END
FROM generate_series(CAST(1 AS bigint), :count) AS s(i)
""",
}
"""The tasks, per dialect: ``count`` of them over the first ``instances`` instances."""


def seed_open_tasks(app: Flask, count: int) -> float:
    """``INSTANCES`` card applications (through the domain, one bank each in turn), then ``count``
    open tasks on them, then ``ANALYZE``; the seconds the tasks and ``ANALYZE`` took."""
    engine = engine_of(app)
    dialect = engine.db.dialect.name
    for n in range(INSTANCES):
        apply_for_card(
            engine,
            domain_of(app).regions,
            id_number=make_id_number("440604", date(1970, 1, 1), n),
            channel="counter",
            bank=BANKS[n % 5],
            region_code="440604",
            actor="bench",
        )
    started = time.perf_counter()
    with engine.db.begin() as conn:
        if dialect == "postgresql":  # the service's statement timeout is for requests, not this
            conn.execute(text("SET LOCAL statement_timeout = 0"))
            # every row names one of the instances made above: skip the per-row foreign key check
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(SEED[dialect]), {"count": count, "instances": INSTANCES})
    with engine.db.begin() as conn:
        if dialect == "postgresql":
            conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started
