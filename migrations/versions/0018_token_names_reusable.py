"""web_api_token: a name is unique among live tokens only, so a revoked token's name is reused

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:50:00

A revoked token's name could never be given again (QA): rotating a bank's token forced a new
name. The unique constraint on ``name`` becomes a unique index over the rows not revoked
(``revoked_at IS NULL``, a partial index on SQLite and PostgreSQL alike): a name has at most one
live token, and any number of revoked ones, kept for their history (``tokens list`` shows each
with its prefix and status; the security events name the prefix). A token that expired without
being revoked is revoked when its name is given again (``web.api.tokens.create_token``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLE = "web_api_token"
INDEX = "uq_web_api_token_live_name"
LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint("uq_web_api_token_name", type_="unique")
    op.create_index(INDEX, TABLE, ["name"], unique=True, sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    """Refused while a name has several rows (a rotated token): the old constraint cannot hold."""
    op.drop_index(INDEX, table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.create_unique_constraint("uq_web_api_token_name", ["name"])
