"""wf_instance.state_entered_at: when an instance entered the state it is in

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 02:00:00

The diagrams' age heat and the state page's "in this state for more than N days" read how long an
instance has been in its state. ``updated_at`` is not that: a transition that stays in its state
(a collection reminder, a take-back) moves it, so a card awaiting activation for 218 days showed
89 (QA). The engine now sets ``state_entered_at`` at the start and in the same UPDATE as every
change of state, keeping it when the state stays (``engine.statements.state_entered``).

Existing rows are filled from their history: the time of the last row that changed the state
(``from_state`` differs from ``to_state``, or the start), ``updated_at`` when there is none.
``ix_wf_instance_state_entered`` (process, state, state_entered_at) answers the age heat's oldest
per state and the page's filter as ``ix_wf_instance_state_age`` did (that one stays: retention
reads finished instances by ``updated_at``). On a partitioned PostgreSQL (0010) the column and
the index on the parent reach every partition.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE wf_instance SET state_entered_at = COALESCE(
    (SELECT MAX(h.occurred_at) FROM wf_history h
     WHERE h.instance_id = wf_instance.id AND h.process = wf_instance.process
       AND (h.from_state IS NULL OR h.from_state <> h.to_state)),
    updated_at)
"""


def upgrade() -> None:
    op.add_column("wf_instance", sa.Column("state_entered_at", UtcDateTime(), nullable=True))
    op.execute(BACKFILL)
    op.create_index(
        "ix_wf_instance_state_entered", "wf_instance", ["process", "state", "state_entered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_wf_instance_state_entered", table_name="wf_instance")
    op.drop_column("wf_instance", "state_entered_at")
