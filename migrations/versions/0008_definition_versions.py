"""definition versions: each deployed content of a process, with its hash, when and by whom

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Utc = engine.models.UtcDateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "wf_definition",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("deployed_at", Utc, nullable=False),
        sa.Column("deployed_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_definition")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_wf_definition_key_version")),
    )


def downgrade() -> None:
    op.drop_table("wf_definition")
