"""policy changes: a record of each policy date that moved pending timers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Utc = engine.models.UtcDateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "wf_policy_change",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", Utc, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("policy_ref", sa.String(length=128), nullable=False),
        sa.Column("old_due", Utc, nullable=True),
        sa.Column("new_due", Utc, nullable=False),
        sa.Column("timers_moved", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_policy_change")),
    )
    op.create_index(op.f("ix_wf_policy_change_policy_ref"), "wf_policy_change", ["policy_ref"])


def downgrade() -> None:
    op.drop_index(op.f("ix_wf_policy_change_policy_ref"), table_name="wf_policy_change")
    op.drop_table("wf_policy_change")
