"""wf_expect_rows: a write's row count checked on the server (PostgreSQL)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00

A firing's versioned UPDATE of ``wf_instance`` must change exactly one row; none means another
transaction moved the instance since it was read (the optimistic lock). In psycopg's pipeline
the engine queues the whole transaction, ``COMMIT`` included, and reads the results once
(issue 17): the check must then stop the ``COMMIT`` on the server. The UPDATE runs in a
data-modifying CTE whose row count goes through ``wf_expect_rows``, which raises
``serialization_failure`` (SQLSTATE 40001, the standard "changed by a concurrent transaction"),
with the caller's token as the error's detail, when the count is not the expected one. The
failed statement aborts the pipeline, so the queued ``COMMIT`` never runs. SQLite needs nothing:
its transactions are not pipelined.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION wf_expect_rows(changed bigint, wanted bigint, token text)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF changed IS DISTINCT FROM wanted THEN
        RAISE EXCEPTION 'expected % changed row(s), found %', wanted, changed
            USING ERRCODE = 'serialization_failure', DETAIL = token;
    END IF;
    RETURN changed;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS wf_expect_rows(bigint, bigint, text)")
