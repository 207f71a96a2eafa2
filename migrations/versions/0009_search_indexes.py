"""search indexes: a card's number and a person's name (expression indexes on the variables)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00

Staff search (``web.pages.search_queries``) finds a card by its number and a person by the start of the
name. Both facts live in the instance's JSON variables; each gets a partial expression index, spelt
per dialect exactly as the search's queries spell it (a query uses an expression index only when
it repeats the expression): ``json_extract`` on SQLite, ``->>`` on PostgreSQL, the name in binary
order (``COLLATE "C"``) so that a prefix is one range whatever the database's collation. No column
is added: nothing that writes instances changes. On SQLite each index leads with ``process`` (the
partial condition's column) so that the planner, without statistics, prefers it to
``ix_wf_instance_process_state``: equality on the first column and the key on the second. Not on
PostgreSQL: there the partial condition is dropped from the index condition (it is implied), so a
leading ``process`` would make every lookup a scan of the whole index.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "sqlite": (
        "CREATE INDEX ix_wf_instance_card_number ON wf_instance "
        "(process, json_extract(variables, '$.card_number')) WHERE process = 'card'",
        "CREATE INDEX ix_wf_instance_person_name ON wf_instance "
        "(process, json_extract(variables, '$.name')) WHERE process = 'person'",
    ),
    "postgresql": (
        "CREATE INDEX ix_wf_instance_card_number ON wf_instance "
        "((variables ->> 'card_number')) WHERE process = 'card'",
        "CREATE INDEX ix_wf_instance_person_name ON wf_instance "
        "(((variables ->> 'name') COLLATE \"C\")) WHERE process = 'person'",
    ),
}


def upgrade() -> None:
    for statement in INDEXES[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX ix_wf_instance_person_name")
    op.execute("DROP INDEX ix_wf_instance_card_number")
