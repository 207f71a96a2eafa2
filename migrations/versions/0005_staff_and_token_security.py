"""staff sessions kept server-side, a security event log, TOTP (with the last step used) and
password dates for staff,
token prefixes, expiry and last use, login attempts by address

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Utc = engine.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", Utc, nullable=False),
        sa.Column("last_seen_at", Utc, nullable=False),
        sa.Column("expires_at", Utc, nullable=False),
        sa.Column("revoked_at", Utc, nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("sid_hash", name=op.f("uq_web_session_sid_hash")),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"])
    op.create_table(
        "web_security_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", Utc, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_security_event")),
    )
    op.create_index("ix_web_security_event_at", "web_security_event", ["at"])
    with op.batch_alter_table("web_user") as batch:
        batch.add_column(sa.Column("password_changed_at", Utc, nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("web_api_token") as batch:
        batch.add_column(sa.Column("prefix", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("expires_at", Utc, nullable=True))
        batch.add_column(sa.Column("last_used_at", Utc, nullable=True))
    op.create_index(
        "ix_web_login_attempt_remote_addr_at", "web_login_attempt", ["remote_addr", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_web_login_attempt_remote_addr_at", table_name="web_login_attempt")
    with op.batch_alter_table("web_api_token") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("prefix")
    with op.batch_alter_table("web_user") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
        batch.drop_column("password_changed_at")
    op.drop_index("ix_web_security_event_at", table_name="web_security_event")
    op.drop_table("web_security_event")
    op.drop_index(op.f("ix_web_session_user_id"), table_name="web_session")
    op.drop_table("web_session")
