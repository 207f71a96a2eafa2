"""web_search_query: a staff search's query kept server-side for post/redirect/get

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 13:30:00

The search box posts its query (an ID number must never be in a URL); the answer now redirects
to ``GET /search/results/<token>``, so that the browser's Back button shows the results again
without posting the form again. The query stays here under the opaque token, tied to the login
session that made it, and is deleted once no login session could still use it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.models import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_search_query",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(256), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_search_query"),
        sa.UniqueConstraint("token", name="uq_web_search_query_token"),
    )
    op.create_index("ix_web_search_query_session_id", "web_search_query", ["session_id"])
    op.create_index("ix_web_search_query_created_at", "web_search_query", ["created_at"])


def downgrade() -> None:
    op.drop_table("web_search_query")
