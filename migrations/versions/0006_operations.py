"""operations: timer leases and attempts, scheduler heartbeats, incidents, the notice outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Utc = engine.models.UtcDateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("wf_timer") as batch:
        batch.add_column(sa.Column("locked_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("lock_expires_at", Utc, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    op.create_table(
        "wf_scheduler",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", Utc, nullable=False),
        sa.Column("heartbeat_at", Utc, nullable=False),
        sa.Column("info", Json, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_wf_scheduler")),
    )
    op.create_table(
        "wf_incident",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", Id, nullable=False),
        sa.Column("instance_id", Id, nullable=True),
        sa.Column("process", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", Utc, nullable=False),
        sa.Column("resolved_at", Utc, nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_incident")),
    )
    op.create_index(op.f("ix_wf_incident_instance_id"), "wf_incident", ["instance_id"])
    op.create_index("ix_wf_incident_status_process", "wf_incident", ["status", "process"])
    op.create_table(
        "wf_notice",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("instance_id", Id, nullable=True),
        sa.Column("process", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=128), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("data", Json, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Utc, nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("lock_expires_at", Utc, nullable=True),
        sa.Column("delivered_at", Utc, nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["wf_instance.id"],
            name=op.f("fk_wf_notice_instance_id_wf_instance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wf_notice")),
    )
    op.create_index(op.f("ix_wf_notice_instance_id"), "wf_notice", ["instance_id"])
    op.create_index(
        "ix_wf_notice_pending",
        "wf_notice",
        ["lock_expires_at", "id"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_wf_notice_pending", table_name="wf_notice")
    op.drop_index(op.f("ix_wf_notice_instance_id"), table_name="wf_notice")
    op.drop_table("wf_notice")
    op.drop_index("ix_wf_incident_status_process", table_name="wf_incident")
    op.drop_index(op.f("ix_wf_incident_instance_id"), table_name="wf_incident")
    op.drop_table("wf_incident")
    op.drop_table("wf_scheduler")
    with op.batch_alter_table("wf_timer") as batch:
        batch.drop_column("last_error")
        batch.drop_column("attempts")
        batch.drop_column("lock_expires_at")
        batch.drop_column("locked_by")
