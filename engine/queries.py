"""Read-side queries over the engine's tables: counts, one instance, its history, tasks, timers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from engine import statements as st


def counts_by_state(db: Engine, process: str) -> dict[str, int]:
    """Instances of ``process`` per state, from one ``GROUP BY`` query."""
    query = (
        select(st.instances.c.state, func.count())
        .where(st.instances.c.process == process)
        .group_by(st.instances.c.state)
    )
    with db.connect() as conn:
        return {state: int(count) for state, count in conn.execute(query)}


def total_instances(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(st.instances)).scalar_one())


def by_business_key(db: Engine, process: str, business_key: str) -> list[tuple[int, str]]:
    """``(id, state)`` of every instance of ``process`` with that business key, oldest first."""
    query = (
        select(st.instances.c.id, st.instances.c.state)
        .where(st.instances.c.process == process, st.instances.c.business_key == business_key)
        .order_by(st.instances.c.id)
    )
    with db.connect() as conn:
        return [(int(i), str(s)) for i, s in conn.execute(query)]


def instance(db: Engine, instance_id: int) -> dict[str, Any] | None:
    with db.connect() as conn:
        row = conn.execute(select(st.instances).where(st.instances.c.id == instance_id)).first()
    return dict(row._mapping) if row else None


def history(db: Engine, instance_id: int) -> list[dict[str, Any]]:
    """The instance's transitions, oldest first."""
    query = (
        select(st.history).where(st.history.c.instance_id == instance_id).order_by(st.history.c.id)
    )
    with db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def tasks_of(db: Engine, instance_id: int, status: str | None = None) -> list[dict[str, Any]]:
    query = select(st.tasks).where(st.tasks.c.instance_id == instance_id).order_by(st.tasks.c.id)
    if status:
        query = query.where(st.tasks.c.status == status)
    with db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def open_tasks_of_process(db: Engine, process: str) -> list[dict[str, Any]]:
    """The open tasks of every instance of ``process``, oldest first."""
    query = (
        select(st.tasks)
        .where(st.tasks.c.process == process, st.tasks.c.status == "open")
        .order_by(st.tasks.c.id)
    )
    with db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def timers_of(db: Engine, instance_id: int, status: str | None = None) -> list[dict[str, Any]]:
    query = select(st.timers).where(st.timers.c.instance_id == instance_id).order_by(st.timers.c.id)
    if status:
        query = query.where(st.timers.c.status == status)
    with db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
