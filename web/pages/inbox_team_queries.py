"""Reads of the inbox's team work: a group's staff (who a task may go to), saved filters (a user's
own and those shared within the same group and scope, with a capped count of the tasks each
matches) and the overdue queues (per group and scope: how many tasks are late and the oldest one's
days overdue). SQLAlchemy Core, reads only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, and_, func, or_, select

from engine import statements as st
from web.models import TaskFilter as SavedFilter
from web.pages import inbox_queries as iq
from web.staff import Staff, users

saved_filters: Table = SavedFilter.__table__  # type: ignore[assignment]

CRITERIA = ("group", "kind", "region", "overdue", "within", "mine", "sort", "following")
"""The inbox's query parameters a saved filter keeps."""
COUNT_CAP = 1000


def colleagues(db: SqlEngine, group: str, scope: str | None = None) -> list[dict[str, Any]]:
    """The active staff of ``group`` (of ``scope`` when given), by username."""
    u = users.c
    query = select(u.username, u.display_name, u.scope).where(u.group == group, u.active)
    if scope is not None:
        query = query.where(u.scope == scope)
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(u.username))]


def may_take(db: SqlEngine, username: str, task: Mapping[str, Any]) -> bool:
    """Whether ``username`` is an active member of the task's candidate group and scope."""
    u = users.c
    query = select(u.id).where(
        u.username == username,
        u.active,
        u.group == task["candidate_group"],
        u.scope == task["scope"] if task["scope"] is not None else u.scope.is_(None),
    )
    with db.connect() as conn:
        return conn.execute(query).first() is not None


def staff_member(db: SqlEngine, username: str) -> dict[str, Any] | None:
    """The group and scope of the active staff member ``username`` (None: no such one)."""
    u = users.c
    query = select(u.username, u.group, u.scope).where(u.username == username, u.active)
    with db.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def tasks_of(db: SqlEngine, task_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The group, scope, status, holder and kind of each of ``task_ids`` that exists."""
    t = st.tasks.c
    ids = list(task_ids)
    if not ids:
        return []
    query = select(
        t.id,
        t.candidate_group,
        t.scope,
        t.status,
        t.assignee,
        t.instance_id,
        t.process,
        t.state,
        t.name,
    ).where(t.id.in_(ids))
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def id_numbers_of(db: SqlEngine, instance_ids: Iterable[int]) -> dict[int, str]:
    """The person's ID number (whole: mask it before showing it) of each instance that has one."""
    i = st.instances.c
    ids = list(instance_ids)
    if not ids:
        return {}
    with db.connect() as conn:
        rows = conn.execute(select(i.id, i.variables).where(i.id.in_(ids)))
        found = {r.id: (r.variables or {}).get("id_number") for r in rows}
    return {k: str(v) for k, v in found.items() if v}


def criteria_of(args: Mapping[str, str]) -> dict[str, str]:
    """The saved-filter criteria among the request's parameters (empty ones left out)."""
    return {k: str(args[k])[:64] for k in CRITERIA if args.get(k)}


def filters_for(
    db: SqlEngine, username: str, group: str, scope: str | None
) -> list[dict[str, Any]]:
    """The user's own filters and those shared with the user's group by someone of the same
    group and scope (another bank's or region's are not seen), by name."""
    f, u = saved_filters.c, users.c
    same_team = (
        select(u.username)
        .where(u.group == group, u.scope == scope if scope is not None else u.scope.is_(None))
        .scalar_subquery()
    )
    shared = and_(f.shared_group == group, f.owner.in_(same_team))
    query = select(saved_filters).where(or_(f.owner == username, shared))
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(f.name, f.id))]


def count_tasks(
    db: SqlEngine,
    group: str,
    scope: str | None,
    filters: iq.TaskFilter,
    *,
    username: str,
    now: datetime,
    cap: int = 1000,
) -> int:
    """How many open tasks the filters match (counting stops at ``cap``: shown as "1000+")."""
    t = st.tasks
    matching, upper = iq.matching(select(t.c.id), group, scope, filters, username, now, True)
    if upper is not None:
        bound = t.c.due_at < upper if filters.overdue else t.c.due_at <= upper
        matching = matching.where(t.c.due_at.is_not(None), bound)
    inner = matching.limit(cap).subquery()
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def saved_with_counts(
    db: SqlEngine, user: Staff, now: datetime, default_group: str
) -> list[dict[str, Any]]:
    """The filters the user sees, each with ``count``: the open tasks it matches now (capped)."""
    found = filters_for(db, user.username, user.group, user.scope)
    for saved in found:
        criteria = dict(saved["criteria"] or {})
        group = criteria.get("group") or default_group if user.is_supervisor else user.group
        saved["criteria"] = {k: v for k, v in criteria.items() if k in CRITERIA}
        saved["count"] = count_tasks(
            db,
            group,
            None if user.is_supervisor else user.scope,
            iq.filter_from(criteria),
            username=user.username,
            now=now,
            cap=COUNT_CAP,
        )
    return found


def overdue_queues(db: SqlEngine, groups: Iterable[str], now: datetime) -> list[dict[str, Any]]:
    """Per group and scope with late open tasks: how many, and the oldest one's days overdue
    (one index range per queue: ``ix_wf_task_inbox``)."""
    t = st.tasks.c
    found = []
    with db.connect() as conn:
        for group in groups:
            for scope in iq.scopes_of(conn, group):
                row = conn.execute(
                    select(func.count(), func.min(t.due_at)).where(
                        t.status == "open",
                        t.candidate_group == group,
                        t.scope == scope if scope is not None else t.scope.is_(None),
                        t.due_at < now,
                    )
                ).one()
                if row[0]:
                    oldest = row[1]
                    found.append(
                        {
                            "group": group,
                            "scope": scope,
                            "count": int(row[0]),
                            "oldest_days": iq.days_overdue(oldest, now),
                        }
                    )
    found.sort(key=lambda q: (-int(q["oldest_days"] or 0), str(q["group"]), str(q["scope"] or "")))
    return found
