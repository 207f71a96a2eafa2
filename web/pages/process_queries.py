"""The process pages' reads behind a click on a state: its instances, filtered, a page at a time.

Owns ``StateFilter`` (what the state page's filter bar asks: only instances with overdue work, only
those that have not moved for N days) and ``instances_in_state`` (keyset pagination by id within
``ix_wf_instance_process_state``). "Overdue" means what the diagram's overdue heat counts
(``engine.diagram_heat``): an open task past its due date or a pending timer whose due time has
passed. Reads only (SQLAlchemy Core).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import exists, literal_column, or_, select

from engine import statements as st
from web.ids import parse_id

PAGE_SIZE = 50
MAX_OLDER_DAYS = 36500


class BadStateFilter(ValueError):
    """A filter value the state page does not accept."""


@dataclass(frozen=True)
class StateFilter:
    """``overdue``: only instances with late work; ``older_days``: only those unmoved that long."""

    overdue: bool = False
    older_days: int | None = None

    @classmethod
    def parse(cls, overdue: str | None, older: str | None) -> StateFilter:
        """The filter from the query string (``overdue=1``, ``older=30``); bad values raise."""
        if overdue not in (None, "", "0", "1"):
            raise BadStateFilter("overdue must be 1 or 0")
        days: int | None = None
        if older not in (None, ""):
            days = parse_id(older)
            if days is None or days > MAX_OLDER_DAYS:
                raise BadStateFilter(f"older must be a number of days from 1 to {MAX_OLDER_DAYS}")
        return cls(overdue=overdue == "1", older_days=days)

    def args(self) -> dict[str, Any]:
        """The query string arguments that ask for this filter (for links to the next page)."""
        found: dict[str, Any] = {"overdue": "1"} if self.overdue else {}
        if self.older_days is not None:
            found["older"] = str(self.older_days)
        return found


def instances_in_state(
    db: SqlEngine,
    process: str,
    state: str,
    now: datetime,
    filters: StateFilter = StateFilter(),
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the instances of ``process`` in ``state`` matching ``filters``, by id, and the
    next page's ``after_id`` (None on the last page)."""
    i, t, tm = st.instances, st.tasks, st.timers
    query = select(i.c.id, i.c.business_key, i.c.state, i.c.variables, i.c.updated_at).where(
        i.c.process == process, i.c.state == state
    )
    if filters.older_days is not None:
        query = query.where(i.c.updated_at <= now - timedelta(days=filters.older_days))
    if filters.overdue:
        late_task = exists().where(
            t.c.instance_id == i.c.id,
            t.c.status == literal_column("'open'"),
            t.c.due_at < now,
        )
        late_timer = exists().where(
            tm.c.instance_id == i.c.id,
            tm.c.status == literal_column("'pending'"),
            tm.c.due_at <= now,
        )
        query = query.where(or_(late_task, late_timer))
    if after_id is not None:
        query = query.where(i.c.id > after_id)
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(i.c.id).limit(limit + 1))]
    more = len(rows) > limit
    return rows[:limit], rows[limit - 1]["id"] if more else None
