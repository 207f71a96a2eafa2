"""When an instance entered the states its history shows it in, read from that history.

A row that changes the state (or starts the instance) enters its ``to_state``; a row that stays
(a reminder, a take-back, a refused task completion) enters nothing. Neither does a migration
(``engine.migration``, event ``migrate``): it moves the instance to another definition version,
under the state's name there (``--map OLD=NEW`` for a renamed state), but no business step
happened, so the instance is in the state since the row that entered it before the migration,
through any number of migrations back and forth. ``wf_instance.state_entered_at`` follows the same
rule as it is written (``engine.statements.state_entered``; a migration leaves it as it is), and
the readers of a history (a card's production progress, the event that opened a task) read
``entries`` rather than the rows' own times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.migration_plan import EVENT as MIGRATE

Row = Mapping[str, Any]


def enters(row: Row) -> bool:
    """Whether the history ``row`` entered its ``to_state`` (a start, or a change of state that
    is not a migration)."""
    return row["event"] != MIGRATE and (
        row["from_state"] is None or row["from_state"] != row["to_state"]
    )


def entries(history: Iterable[Row]) -> list[tuple[Row, Row]]:
    """Each row of ``history`` (oldest first) beside the row by which the instance entered the
    state it is in after it: the row itself when it ``enters``, else the entering row before it
    (the row itself when the history holds none, its start having been removed)."""
    found: list[tuple[Row, Row]] = []
    entering: Row | None = None
    for row in history:
        if entering is None or enters(row):
            entering = row
        found.append((row, entering))
    return found
