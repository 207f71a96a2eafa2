"""The process pages' reads behind a click on a state: its instances, filtered, a page at a time.

Owns ``StateFilter`` (what the state page's filter bar asks: only instances with overdue work, only
those in the state for more than N days, counted from when they entered it: a reminder that
leaves an instance where it is does not reset it), ``EnteredCursor`` (where a page starts) and
``instances_in_state``: the longest waiting first, by ``(state_entered_at, id)``, a page being one
range scan of ``ix_wf_instance_state_entered`` (process, state, state_entered_at, id; migration
0017) from the cursor on, however many instances the state holds. A row without
``state_entered_at`` (only one written by hand) comes after the others, by id. "Overdue" means
what the diagram's overdue heat counts (``engine.diagram_heat``): an open task past its due date
or a pending timer whose due time has passed. Reads only (SQLAlchemy Core).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Select, exists, literal_column, or_, select, tuple_

from engine import statements as st
from web.ids import parse_id

PAGE_SIZE = 50
MAX_OLDER_DAYS = 36500
_STAMP = "%Y%m%dT%H%M%S%f"
_NO_TIME = "n"


class BadStateFilter(ValueError):
    """A filter value the state page does not accept."""


@dataclass(frozen=True)
class StateFilter:
    """``overdue``: only instances with late work; ``older_days``: only those in the state (since
    they entered it) that long."""

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


@dataclass(frozen=True)
class EnteredCursor:
    """Where a page of a state's instances starts: after the instance that entered the state at
    ``entered_at`` (None: a row without the time, listed last) with ``id``. In a URL it is
    ``<UTC time as 20240301T020000000000>_<id>`` or ``n_<id>``: never 17 digits in a row, so no
    page masks it as an ID number."""

    entered_at: datetime | None
    id: int

    def encode(self) -> str:
        """The cursor as the page's ``?after=`` carries it."""
        if self.entered_at is None:
            return f"{_NO_TIME}_{self.id}"
        return f"{self.entered_at.astimezone(UTC).strftime(_STAMP)}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> EnteredCursor | None:
        """The cursor ``text`` names; None when it is malformed (the page answers 400)."""
        stamp, sep, ident_text = text.partition("_")
        ident = parse_id(ident_text)
        if not sep or ident is None:
            return None
        if stamp == _NO_TIME:
            return cls(None, ident)
        if len(stamp) != 21 or not stamp.isascii():  # strptime takes fewer digits too
            return None
        try:
            return cls(datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC), ident)
        except ValueError:
            return None


def state_page_queries(
    process: str,
    state: str,
    now: datetime,
    filters: StateFilter = StateFilter(),
    after: EnteredCursor | None = None,
    limit: int = PAGE_SIZE,
) -> list[Select[Any]]:
    """The statements of one page, run in turn until ``limit`` rows are found: the instances
    with their time of entering the state from the cursor on, in ``(state_entered_at, id)``
    order (a range of ``ix_wf_instance_state_entered`` from the cursor's row value on), then
    (unless the filter reads that time) those without it, by id."""
    i, t, tm = st.instances, st.tasks, st.timers
    query = select(i.c.id, i.c.business_key, i.c.state, i.c.variables, i.c.state_entered_at).where(
        i.c.process == process, i.c.state == state
    )
    if filters.older_days is not None:
        query = query.where(i.c.state_entered_at <= now - timedelta(days=filters.older_days))
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
    entered = i.c.state_entered_at
    scans: list[Select[Any]] = []
    if after is None or after.entered_at is not None:
        dated = query.where(entered.is_not(None))
        if after is not None:
            dated = dated.where(tuple_(entered, i.c.id) > (after.entered_at, after.id))
        scans.append(dated.order_by(entered, i.c.id).limit(limit))
    if filters.older_days is None:
        undated = query.where(entered.is_(None))
        if after is not None and after.entered_at is None:
            undated = undated.where(i.c.id > after.id)
        scans.append(undated.order_by(i.c.id).limit(limit))
    return scans


def instances_in_state(
    db: SqlEngine,
    process: str,
    state: str,
    now: datetime,
    filters: StateFilter = StateFilter(),
    after: EnteredCursor | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the instances of ``process`` in ``state`` matching ``filters``, the longest
    waiting first, and the next page's cursor (``EnteredCursor.encode``; None on the last)."""
    rows: list[dict[str, Any]] = []
    with db.connect() as conn:
        for query in state_page_queries(process, state, now, filters, after, limit + 1):
            if len(rows) > limit:
                break
            rows += [dict(r._mapping) for r in conn.execute(query.limit(limit + 1 - len(rows)))]
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], EnteredCursor(last["state_entered_at"], last["id"]).encode()
