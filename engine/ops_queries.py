"""Read-side queries for operating the engine: the health checks and the metrics.

Each query reads the engine's tables as they are, so that every process (web workers, separate
schedulers) that answers a readiness probe or a Prometheus scrape gives the same numbers. They are
aggregates (``GROUP BY``) over indexed columns where an index exists, and they carry no personal
data: process and event names, groups, statuses, counts, ages.

``ping`` is the database check (``SELECT 1`` under a short statement timeout on PostgreSQL);
``latest_heartbeat`` and ``heartbeats`` read ``wf_scheduler``; ``snapshot`` gathers every
gauge and counter the metrics endpoint shows, family by family, so that one family whose table
is missing (a database behind on its migrations) does not hide the others.

Notices are counted by what they wait for (``NOTICE_STATUSES``): ``pending`` and ``delivered`` as
the outbox has them, and a ``failed`` notice as ``failed`` while its incident is open (a person
has to act) or ``resolved`` once the incident was closed without sending it (it never goes
back), so that an alert on failed notices ends when a supervisor deals with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, case, extract, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from engine.db import is_unavailable
from engine.models import History, Incident, Notice, SchedulerHeartbeat, Task, Timer

log = logging.getLogger(__name__)

history: Table = History.__table__  # type: ignore[assignment]
tasks: Table = Task.__table__  # type: ignore[assignment]
timers: Table = Timer.__table__  # type: ignore[assignment]
incidents: Table = Incident.__table__  # type: ignore[assignment]
notices: Table = Notice.__table__  # type: ignore[assignment]
schedulers: Table = SchedulerHeartbeat.__table__  # type: ignore[assignment]

LAG_BUCKETS: tuple[float, ...] = (
    1,
    5,
    15,
    30,
    60,
    120,
    300,
    900,
    1800,
    3600,
    6 * 3600,
    86400,
    7 * 86400,
)
"""Upper bounds (seconds) of the timer lag histogram: a sweep every 30 s puts most firings under
a minute; catch-up after a scheduler outage lands in the hours and days."""
NOTICE_STATUSES = ("pending", "delivered", "failed", "resolved")
"""The ``status`` label values of the notices gauge (see the module)."""
MAX_HEARTBEATS = 100
"""At most this many scheduler rows (the latest heartbeats first) are reported."""
PING_TIMEOUT_MS = 2000


def ping(db: Engine, timeout_ms: int = PING_TIMEOUT_MS) -> None:
    """``SELECT 1``; on PostgreSQL under ``statement_timeout`` = ``timeout_ms``. Raises what the
    driver raises (``engine.db.is_unavailable`` tells an outage)."""
    with db.connect() as conn:
        if db.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
        conn.execute(text("SELECT 1")).scalar_one()
        conn.rollback()


def latest_heartbeat(db: Engine) -> datetime | None:
    """The newest ``heartbeat_at`` of any scheduler (None when no scheduler ever wrote one)."""
    with db.connect() as conn:
        value = conn.execute(select(func.max(schedulers.c.heartbeat_at))).scalar()
    return value if isinstance(value, datetime) else None


def heartbeats(conn: Connection, limit: int = MAX_HEARTBEATS) -> list[tuple[str, datetime]]:
    """``(name, heartbeat_at)`` of the schedulers, the latest heartbeat first."""
    query = (
        select(schedulers.c.name, schedulers.c.heartbeat_at)
        .order_by(schedulers.c.heartbeat_at.desc())
        .limit(limit)
    )
    return [(str(name), at) for name, at in conn.execute(query)]


# -- metrics --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (``le`` bound -> count), the count and the sum of a histogram."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass
class Snapshot:
    """What the metrics endpoint shows from the database, read at one scrape.

    A family is None when it could not be read (its table missing, the database down); the
    names of those are in ``failed``.
    """

    transitions: dict[tuple[str, str], int] | None = None
    timer_lag: Histogram | None = None
    timers_due: dict[str, int] | None = None
    open_tasks: dict[tuple[str, str], int] | None = None
    incidents_open: dict[tuple[str, str], int] | None = None
    notices: dict[str, int] | None = None
    notice_backlog_s: float | None = None
    heartbeats: list[tuple[str, datetime]] | None = None
    failed: list[str] = field(default_factory=list)
    database_up: bool = True


def transition_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Transitions (history rows) per ``(process, event)``: the ``ix_wf_history_flow`` index."""
    query = select(history.c.process, history.c.event, func.count()).group_by(
        history.c.process, history.c.event
    )
    return {(str(p), str(e)): int(n) for p, e, n in conn.execute(query)}


def _lag_seconds(dialect: str) -> ColumnElement[Any]:
    """``occurred_at - due_at`` in seconds, in the dialect's own date arithmetic."""
    if dialect == "sqlite":  # naive UTC text: Julian days, as a double
        return (func.julianday(history.c.occurred_at) - func.julianday(history.c.due_at)) * 86400.0
    return extract("epoch", history.c.occurred_at - history.c.due_at)


def timer_lag(conn: Connection, bounds: Sequence[float] = LAG_BUCKETS) -> Histogram:
    """The lag of timer firings (history rows with ``due_at``): one pass, buckets counted in SQL."""
    lag = _lag_seconds(conn.dialect.name).label("lag")
    rows = select(lag).where(history.c.due_at.is_not(None)).subquery()
    columns = [func.count(), func.coalesce(func.sum(rows.c.lag), 0)]
    columns += [func.coalesce(func.sum(case((rows.c.lag <= b, 1), else_=0)), 0) for b in bounds]
    found = conn.execute(select(*columns).select_from(rows)).one()
    count, total = int(found[0]), float(found[1])
    buckets = tuple((float(b), int(n)) for b, n in zip(bounds, found[2:], strict=True))
    return Histogram(buckets, count, total)


def timers_due(conn: Connection, now: datetime) -> dict[str, int]:
    """Pending timers due at ``now`` (the engine clock's) per process: the pending-due index."""
    query = (
        select(timers.c.process, func.count())
        .where(timers.c.status == "pending", timers.c.due_at <= now)
        .group_by(timers.c.process)
    )
    return {str(p): int(n) for p, n in conn.execute(query)}


def open_task_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Open tasks per ``(process, candidate_group)``."""
    query = (
        select(tasks.c.process, tasks.c.candidate_group, func.count())
        .where(tasks.c.status == "open")
        .group_by(tasks.c.process, tasks.c.candidate_group)
    )
    return {(str(p), str(g)): int(n) for p, g, n in conn.execute(query)}


def open_incident_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """Open incidents per ``(process, kind)`` (process ``""`` when the incident names none)."""
    query = (
        select(incidents.c.process, incidents.c.kind, func.count())
        .where(incidents.c.status == "open")
        .group_by(incidents.c.process, incidents.c.kind)
    )
    return {(p or "", str(k)): int(n) for p, k, n in conn.execute(query)}


def notice_counts(conn: Connection) -> dict[str, int]:
    """Notices of the outbox per status, a failed one as ``failed`` while an incident of it is
    open, else ``resolved`` (see the module); every status of ``NOTICE_STATUSES`` is there."""
    query = select(notices.c.status, func.count()).group_by(notices.c.status)
    found = {status: 0 for status in NOTICE_STATUSES}
    found.update({str(s): int(n) for s, n in conn.execute(query)})
    if found["failed"]:  # driven by the open incidents (their index), each joined by the key
        waiting = (
            select(func.count(func.distinct(notices.c.id)))
            .select_from(
                incidents.join(
                    notices, (notices.c.id == incidents.c.ref_id) & (incidents.c.kind == "notice")
                )
            )
            .where(incidents.c.status == "open", notices.c.status == "failed")
        )
        still = int(conn.execute(waiting).scalar_one())
        found["resolved"] = found["failed"] - still
        found["failed"] = still
    return found


def notice_backlog_seconds(conn: Connection, now: datetime) -> float:
    """Seconds since the oldest pending notice was written (by the engine's clock ``now``), 0
    when none waits: a slow or failing channel shows here before its notices fail."""
    oldest = conn.execute(
        select(func.min(notices.c.created_at)).where(notices.c.status == "pending")
    ).scalar()
    if not isinstance(oldest, datetime):
        return 0.0
    return max(0.0, (now - oldest).total_seconds())


def snapshot(db: Engine, now: datetime) -> Snapshot:
    """Every family of the metrics, read now (``now`` is the engine clock's: due dates are
    business dates). An outage ends the reading with ``database_up`` False; another error of
    one family (a missing table) is logged and leaves that family out."""
    found = Snapshot()
    readers: dict[str, Callable[[Connection], Any]] = {
        "transitions": transition_counts,
        "timer_lag": timer_lag,
        "timers_due": lambda conn: timers_due(conn, now),
        "open_tasks": open_task_counts,
        "incidents_open": open_incident_counts,
        "notices": notice_counts,
        "notice_backlog_s": lambda conn: notice_backlog_seconds(conn, now),
        "heartbeats": heartbeats,
    }
    try:
        with db.connect() as conn:
            for name, read in readers.items():
                try:
                    setattr(found, name, read(conn))
                except Exception as exc:
                    if is_unavailable(exc):
                        raise
                    log.warning("metrics: %s not read (%s: %s)", name, type(exc).__name__, exc)
                    found.failed.append(name)
                    conn.rollback()  # PostgreSQL: the failed statement aborted the transaction
            conn.rollback()
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning("metrics: the database is unavailable (%s)", type(exc).__name__)
        found.database_up = False
        found.failed.extend(
            n for n in readers if getattr(found, n) is None and n not in found.failed
        )
    return found
