"""wf_instance.state_entered_at: a migration that renamed a state no longer counts as entering it

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 11:00:00

A migration (``shebao instances migrate``, history event ``migrate``) is no business step: since
this version it leaves ``state_entered_at`` as it is, also when its map renames the state
(``engine.state_entries``). Before, a renamed state got the migration's time, so the state page
and the age heat counted a card in ``produced`` renamed ``manufactured`` from the migration, not
from its production (QA). Instances with such a migration in their history get the time of the
last history row that entered a state by a business event (a start, or a change of state that is
not a migration), as migration 0016 filled the column; the others are left as they are.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

REFILL = """
UPDATE wf_instance SET state_entered_at = COALESCE(
    (SELECT MAX(h.occurred_at) FROM wf_history h
     WHERE h.instance_id = wf_instance.id AND h.process = wf_instance.process
       AND h.event <> 'migrate'
       AND (h.from_state IS NULL OR h.from_state <> h.to_state)),
    state_entered_at)
WHERE EXISTS (
    SELECT 1 FROM wf_history m
    WHERE m.instance_id = wf_instance.id AND m.process = wf_instance.process
      AND m.event = 'migrate' AND m.from_state <> m.to_state)
"""


def upgrade() -> None:
    op.execute(REFILL)


def downgrade() -> None:
    """Nothing to undo: the times are the ones the history gives."""
