"""ix_wf_instance_state_entered gains id: a state's instances a page at a time, oldest first

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 08:00:00

The supervisors' list of one state's instances (``/processes/<key>/states/<state>``) shows the
longest waiting first, by ``(state_entered_at, id)``, a page at a time from a cursor on that pair
(QA: it was by id). Instances moved by one set-based write (a batch, a migration of versions)
entered their state at the same moment, so ties are common and can be large: with ``id`` in the
index a page is one range of it from the cursor's row value on, however many share that time.
The index keeps its name and its other readers (the age heat's oldest per state, the page's
"in the state for N days"): (process, state, state_entered_at, id) answers them as the three
columns did. On a partitioned PostgreSQL (0010) the index on the parent reaches every partition.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NAME = "ix_wf_instance_state_entered"


def upgrade() -> None:
    op.drop_index(NAME, table_name="wf_instance")
    op.create_index(NAME, "wf_instance", ["process", "state", "state_entered_at", "id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="wf_instance")
    op.create_index(NAME, "wf_instance", ["process", "state", "state_entered_at"])
