"""diagram heat indexes: the oldest instance per state, late open tasks per state

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 22:00:00

The supervisors' process diagrams colour states by trouble (``engine.diagram_heat``, issue 18):

- ``ix_wf_instance_state_age`` (process, state, updated_at): the age heat reads the oldest
  ``updated_at`` of each state as the first entry of its range, one probe per state, however many
  instances sit there (``ix_wf_instance_process_state`` alone made it read every instance row);
  the state page's "unmoved for N days" filter is a range of it too.
- ``ix_wf_task_open_due`` (process, due_at, state) where the task is open: the overdue heat
  counts a process's open tasks past their due date per state from the late part of this index
  alone, without reading the table (``ix_wf_task_inbox`` leads with the group and scope). The
  process leads so that SQLite's planner, without statistics, prefers it to ``ix_wf_task_inbox``
  (equality and range against equality alone); the inbox's queries name no process.

On PostgreSQL ``wf_instance`` is partitioned by process (0010): the index on the parent is
created on every partition.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_wf_instance_state_age", "wf_instance", ["process", "state", "updated_at"])
    op.create_index(
        "ix_wf_task_open_due",
        "wf_task",
        ["process", "due_at", "state"],
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_wf_task_open_due", table_name="wf_task")
    op.drop_index("ix_wf_instance_state_age", table_name="wf_instance")
