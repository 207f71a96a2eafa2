"""The pages' reads: keyset-paginated open tasks with filters, instances in a state, missed timers.

Reads only (SQLAlchemy Core). Open tasks are ordered by ``(due_at, id)`` with tasks that have no due
date last, or by ``(created_at, id)``, or by ``(priority desc, id)`` (``TaskFilter.sort``); tasks
whose follow-up date is still ahead are left out unless ``following`` asks for just those, or
``overdue`` for the late ones (a follow-up date never hides a late task from an overdue view). A
page is one range scan of ``ix_wf_task_inbox`` (status, candidate group, scope, due, id), or of
``ix_wf_task_inbox_created`` / ``ix_wf_task_inbox_priority`` (migration 0013), from the cursor on,
however many tasks are open. A user without a scope (all scopes of a group)
gets one such scan per scope, merged: the scopes are found by a loose index scan (one ``MIN`` per
scope), never by reading every task.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, func, literal_column, or_, select
from sqlalchemy import Engine as SqlEngine

from engine import statements as st
from web.ids import MAX_ID, parse_id

PAGE_SIZE = 50
_STAMP = "%Y%m%dT%H%M%S%f"


@dataclass(frozen=True)
class TaskFilter:
    """What the inbox's filter bar asks for; every field is optional."""

    kind: str | None = None
    region: str | None = None
    overdue: bool = False
    due_within_days: int | None = None
    mine: bool = False
    sort: str = "due"
    """``due`` (default), ``created`` or ``priority`` (see ``SORTS``)."""
    following: bool = False
    """Only the tasks whose follow-up date is still ahead (hidden otherwise, but for the late
    ones in an ``overdue`` view)."""


SORTS = ("due", "created", "priority")


def filter_from(args: Mapping[str, str]) -> TaskFilter:
    """The filter bar's values from the inbox's query parameters (or a saved filter's)."""
    try:
        within: int | None = int(args.get("within") or "")
    except ValueError:
        within = None
    return TaskFilter(
        kind=args.get("kind") or None,
        region=args.get("region") or None,
        overdue=args.get("overdue") == "1",
        due_within_days=within if within is not None and 0 <= within <= 3650 else None,
        mine=args.get("mine") == "1",
        sort=args.get("sort") or "due" if args.get("sort") in SORTS else "due",
        following=args.get("following") == "1",
    )


_SORT_COLUMN = {"due": "due_at", "created": "created_at", "priority": "priority"}


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the task ``(key, id)`` in the page's order; ``key`` is the due
    date (None: the no-due tail), the creation time, or the priority (an int)."""

    due_at: datetime | int | None
    id: int

    @property
    def key(self) -> datetime | int | None:
        return self.due_at

    def encode(self) -> str:
        key = self.due_at
        if isinstance(key, datetime):
            stamp = key.astimezone(UTC).strftime(_STAMP)
        else:
            stamp = "n" if key is None else f"p{int(key)}"
        return f"{stamp}_{self.id}"

    @classmethod
    def decode(cls, text: str | None, sort: str = "due") -> Cursor | None:
        """The cursor in ``text`` for ``sort``; None for none or a malformed one (the first page
        then), or one of another order."""
        if not text or "_" not in text:
            return None
        stamp, _, ident_text = text.partition("_")
        ident = parse_id(ident_text)
        if ident is None:
            return None
        try:
            if sort == "priority":
                if not stamp.startswith("p"):
                    return None
                priority = int(stamp[1:])
                return cls(priority, ident) if abs(priority) <= MAX_ID else None
            if stamp == "n":
                return cls(None, ident) if sort == "due" else None
            return cls(datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC), ident)
        except ValueError:
            return None


@dataclass(frozen=True)
class TaskPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _sort_key(row: dict[str, Any]) -> tuple[bool, datetime, int]:
    due = row["due_at"]
    return (due is None, due or datetime.min.replace(tzinfo=UTC), row["id"])


def _order_key(sort: str) -> Any:
    if sort == "created":
        return lambda row: (row["created_at"], row["id"])
    if sort == "priority":
        return lambda row: (-row["priority"], row["id"])
    return _sort_key


def days_overdue(due_at: datetime | None, now: datetime) -> int | None:
    """Whole days a task is past its due date (0 on its first day late); None if not late."""
    if due_at is None or due_at >= now:
        return None
    return (now - due_at).days


def _region_condition(region: str) -> Any:
    """Tasks of ``region``: scoped to it (clerks), or of an instance of it (every card and year
    carries its region key, ``workflows.regions``)."""
    variables = st.instances.c.variables
    return or_(st.tasks.c.scope == region, variables["region"].as_string() == region)


def _scan(
    group: str,
    scope: str | None,
    filters: TaskFilter,
    username: str,
    now: datetime,
    after: Cursor | None,
    limit: int,
) -> list[Select[Any]]:
    """The statements of one scope's scan: the dated part, then (when allowed) the undated tail."""
    columns, upper = matching(select(st.tasks), group, scope, filters, username, now)
    if filters.sort in ("created", "priority"):
        return [_scan_by(columns, filters, upper, after, limit)]
    return _rest_of_scan(columns, filters, upper, after, limit)


def matching(
    query: Select[Any],
    group: str,
    scope: str | None,
    filters: TaskFilter,
    username: str,
    now: datetime,
    any_scope: bool = False,
) -> tuple[Select[Any], datetime | None]:
    """``query`` narrowed to the open tasks the filters ask for (``any_scope``: a None scope
    means every scope), and the upper bound on their due date if the filters set one."""
    t = st.tasks
    base = [t.c.status == "open", t.c.candidate_group == group]
    if scope is not None or not any_scope:
        base.append(t.c.scope == scope if scope is not None else t.c.scope.is_(None))
    if filters.following:
        base.append(t.c.follow_up_at > now)
    elif not filters.overdue:  # a follow-up date never hides late work from an overdue view
        base.append(or_(t.c.follow_up_at.is_(None), t.c.follow_up_at <= now))
    if filters.kind:
        base.append(t.c.name == filters.kind)
    if filters.mine:
        base.append(t.c.assignee == username)
    upper = None
    if filters.overdue:
        upper = now
    if filters.due_within_days is not None:
        within = now + timedelta(days=filters.due_within_days)
        upper = within if upper is None else min(upper, within)
    columns = query.where(*base)
    if filters.region:
        columns = columns.join(st.instances, st.instances.c.id == t.c.instance_id).where(
            _region_condition(filters.region)
        )
    return columns, upper


def _rest_of_scan(
    columns: Select[Any],
    filters: TaskFilter,
    upper: datetime | None,
    after: Cursor | None,
    limit: int,
) -> list[Select[Any]]:
    t = st.tasks
    scans: list[Select[Any]] = []
    if after is None or after.due_at is not None:
        dated = columns.where(t.c.due_at.is_not(None))
        if upper is not None:
            dated = dated.where(t.c.due_at < upper if filters.overdue else t.c.due_at <= upper)
        if after is not None and after.due_at is not None:
            dated = dated.where(
                t.c.due_at >= after.due_at, or_(t.c.due_at > after.due_at, t.c.id > after.id)
            )
        scans.append(dated.order_by(t.c.due_at, t.c.id).limit(limit))
    if upper is None:
        undated = columns.where(t.c.due_at.is_(None))
        if after is not None and after.due_at is None:
            undated = undated.where(t.c.id > after.id)
        scans.append(undated.order_by(t.c.id).limit(limit))
    return scans


def _scan_by(
    columns: Select[Any],
    filters: TaskFilter,
    upper: datetime | None,
    after: Cursor | None,
    limit: int,
) -> Select[Any]:
    """One scope's scan by creation time or by priority (highest first), ties by id."""
    t = st.tasks
    if upper is not None:
        columns = columns.where(
            t.c.due_at.is_not(None), t.c.due_at < upper if filters.overdue else t.c.due_at <= upper
        )
    if filters.sort == "created":
        if after is not None:
            key = after.key
            columns = columns.where(
                t.c.created_at >= key, or_(t.c.created_at > key, t.c.id > after.id)
            )
        return columns.order_by(t.c.created_at, t.c.id).limit(limit)
    if after is not None:
        key = after.key
        columns = columns.where(t.c.priority <= key, or_(t.c.priority < key, t.c.id > after.id))
    return columns.order_by(t.c.priority.desc(), t.c.id).limit(limit)


def scopes_of(conn: Connection, group: str) -> list[str | None]:
    """The scopes with open tasks of ``group``: a loose index scan, one ``MIN`` per scope."""
    t = st.tasks
    base = and_(t.c.status == "open", t.c.candidate_group == group)
    found: list[str | None] = []
    if conn.execute(select(t.c.id).where(base, t.c.scope.is_(None)).limit(1)).first():
        found.append(None)
    last: str | None = None
    while True:
        bound = t.c.scope.is_not(None) if last is None else t.c.scope > last
        scope = conn.execute(select(func.min(t.c.scope)).where(base, bound)).scalar()
        if scope is None:
            return found
        found.append(scope)
        last = scope


def open_tasks(
    db: SqlEngine,
    group: str,
    scope: str | None,
    *,
    username: str,
    now: datetime,
    filters: TaskFilter | None = None,
    cursor: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> TaskPage:
    """One page of the open tasks of ``group`` in ``scope`` (every scope when ``scope`` is None).

    Args:
        db: the engine's database.
        group: the candidate group.
        scope: the one scope, or None for all of the group's scopes.
        username: who asks ("claimed by me").
        now: the engine's time ("overdue", "due within").
        filters: the filter bar's values.
        cursor: the page starts after this task.
        limit: tasks per page.
    """
    filters = filters or TaskFilter()
    with db.connect() as conn:
        if scope is not None:
            scopes: Sequence[str | None] = [scope]
        elif filters.region and _region_scoped(conn, group, filters.region):
            scopes = [filters.region]
        else:
            scopes = scopes_of(conn, group)
        found = []
        for one in scopes:
            rows: list[dict[str, Any]] = []
            for stmt in _scan(group, one, filters, username, now, cursor, limit + 1):
                rows += [dict(r._mapping) for r in conn.execute(stmt)]
                if len(rows) > limit:
                    break
            found.append(rows[: limit + 1])
        merged = list(heapq.merge(*found, key=_order_key(filters.sort)))[: limit + 1]
        _attach_instances(conn, merged[:limit])
    more = len(merged) > limit
    shown = merged[:limit]
    column = _SORT_COLUMN.get(filters.sort, "due_at")
    next_cursor = Cursor(shown[-1][column], shown[-1]["id"]).encode() if more else None
    return TaskPage(shown, next_cursor)


def _region_scoped(conn: Connection, group: str, region: str) -> bool:
    """Whether the group's tasks are scoped by region (then the region is the scope)."""
    t = st.tasks
    return (
        conn.execute(
            select(t.c.id).where(t.c.candidate_group == group, t.c.scope == region).limit(1)
        ).first()
        is not None
    )


def _attach_instances(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Give each task row its instance's business key and variables (one query per page)."""
    ids = {row["instance_id"] for row in rows}
    if not ids:
        return
    i = st.instances
    found = {
        r.id: r
        for r in conn.execute(
            select(i.c.id, i.c.business_key, i.c.variables, i.c.state).where(i.c.id.in_(ids))
        )
    }
    for row in rows:
        instance = found.get(row["instance_id"])
        row["business_key"] = instance.business_key if instance else None
        row["variables"] = dict(instance.variables or {}) if instance else {}


def task(db: SqlEngine, task_id: int) -> dict[str, Any] | None:
    """One task row (any status)."""
    with db.connect() as conn:
        row = conn.execute(select(st.tasks).where(st.tasks.c.id == task_id)).first()
    return dict(row._mapping) if row else None


def overdue_tasks(
    db: SqlEngine, groups: Iterable[str], now: datetime, limit: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """The most overdue open tasks of every group, oldest due date first."""
    pages = [
        open_tasks(db, g, None, username="", now=now, filters=TaskFilter(overdue=True), limit=limit)
        for g in groups
    ]
    return list(heapq.merge(*(p.rows for p in pages), key=_sort_key))[:limit]


def missed_timers(
    db: SqlEngine, now: datetime, limit: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], int]:
    """Pending timers whose due time has passed (the scheduler has not fired them), and how many."""
    tm = st.timers
    due = and_(tm.c.status == literal_column("'pending'"), tm.c.due_at <= now)
    with db.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(select(tm).where(due).order_by(tm.c.due_at, tm.c.id).limit(limit))
        ]
        total = int(conn.execute(select(func.count()).select_from(tm).where(due)).scalar_one())
    return rows, total
