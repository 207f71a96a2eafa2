"""task team work: owner (delegation), priority, follow-up date, refused attempts, comments, saved filters

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 22:00:00

The staff workbench (issue 18): a supervisor delegates a task (``owner`` keeps who gets it back),
an inbox sorts by ``priority`` and hides a task until its ``follow_up_at``; a completion a check
refused counts in ``attempts`` (and is in the history). ``wf_task_comment`` holds comments on
tasks; ``web_task_filter`` holds saved inbox filters, private or shared with a group.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("wf_task") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), server_default="50", nullable=False))
        batch.add_column(sa.Column("follow_up_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "wf_task_comment",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "task_id",
            Id,
            sa.ForeignKey("wf_task.id", name="fk_wf_task_comment_task_id_wf_task"),
            nullable=False,
        ),
        sa.Column("instance_id", Id, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wf_task_comment"),
    )
    op.create_index("ix_wf_task_comment_task_id", "wf_task_comment", ["task_id"])
    op.create_index("ix_wf_task_comment_instance_id", "wf_task_comment", ["instance_id"])
    op.create_table(
        "web_task_filter",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("shared_group", sa.String(64), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_task_filter"),
    )
    op.create_index("ix_web_task_filter_owner", "web_task_filter", ["owner"])
    op.create_index("ix_web_task_filter_shared_group", "web_task_filter", ["shared_group"])


def downgrade() -> None:
    op.drop_table("web_task_filter")
    op.drop_table("wf_task_comment")
    with op.batch_alter_table("wf_task") as batch:
        batch.drop_column("attempts")
        batch.drop_column("follow_up_at")
        batch.drop_column("priority")
        batch.drop_column("owner")
