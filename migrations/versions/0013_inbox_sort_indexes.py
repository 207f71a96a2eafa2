"""inbox sort indexes: open tasks by creation time and by priority, per group and scope

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 23:00:00

The staff inbox sorts a queue by due date (``ix_wf_task_inbox``), by creation time or by priority,
highest first (issue 18, team work). Each order is a keyset page: one range of an index from the
cursor on, whatever the number of open tasks. ``priority`` is indexed descending so that
"priority desc, id asc" (equal priorities oldest first) is the index's own order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_wf_task_inbox_created",
        "wf_task",
        ["status", "candidate_group", "scope", "created_at", "id"],
    )
    op.create_index(
        "ix_wf_task_inbox_priority",
        "wf_task",
        ["status", "candidate_group", "scope", sa.text("priority DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_wf_task_inbox_priority", table_name="wf_task")
    op.drop_index("ix_wf_task_inbox_created", table_name="wf_task")
