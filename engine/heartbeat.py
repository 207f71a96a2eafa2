"""Scheduler heartbeats: each scheduler process keeps one ``wf_scheduler`` row whose
``heartbeat_at`` it renews at every run of its job (and between chunks of a long sweep), so the
readiness check, the metrics and the staff pages can tell whether deadlines are being fired.

Heartbeats are wall-clock UTC, not the service clock: they say whether a process is alive now,
whatever business date the service clock shows. A scheduler that shuts down cleanly removes its
own row. One killed (``kill -9``, an OOM kill, a lost host) leaves its row: ``schedulers`` marks
it ``stale`` once its heartbeat is older than the threshold the readiness check uses
(``SHEBAO_SCHEDULER_STALE_SECONDS``, given by the caller), ``forget`` removes such rows at once
(``shebao schedulers forget``), and rows silent for a day are removed when another scheduler
starts.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine as Database
from sqlalchemy import Table, delete, insert, select, text, update

from engine.models import SchedulerHeartbeat

log = logging.getLogger(__name__)
SCHEDULERS: Table = SchedulerHeartbeat.__table__  # type: ignore[assignment]
FORGET_AFTER = timedelta(days=1)
STALE_AFTER = timedelta(seconds=120)
"""The default threshold past which a heartbeat is stale (``SHEBAO_SCHEDULER_STALE_SECONDS``)."""

SESSION_PREFIX = "shebao-scheduler "
"""PostgreSQL sessions that sweep carry ``application_name`` = this prefix + the scheduler's name,
so that another scheduler can end the sessions of one that stalled (``engine.heartbeat``)."""


def session_name(name: str) -> str:
    """The ``application_name`` of a scheduler's sessions (63 characters at most)."""
    return (SESSION_PREFIX + re.sub(r"[^A-Za-z0-9:._-]", "-", name))[:63]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Heartbeat:
    """One scheduler process's row.

    Args:
        db: the service's database.
        name: the scheduler's name (the ``locked_by`` of the timers it leases).
    """

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.started_at = wall_clock()
        self.last: datetime | None = None

    def beat(self, info: dict[str, Any] | None = None) -> None:
        """Renew the row (create it on the first beat); forget schedulers silent for a day."""
        now = wall_clock()
        with self.db.begin() as conn:
            renewed = conn.execute(
                update(SCHEDULERS)
                .where(SCHEDULERS.c.name == self.name)
                .values(heartbeat_at=now, info=info)
            ).rowcount
            if not renewed:
                conn.execute(
                    insert(SCHEDULERS).values(
                        name=self.name,
                        host=socket.gethostname()[:128],
                        pid=os.getpid(),
                        started_at=self.started_at,
                        heartbeat_at=now,
                        info=info,
                    )
                )
                conn.execute(
                    delete(SCHEDULERS).where(SCHEDULERS.c.heartbeat_at < now - FORGET_AFTER)
                )
        self.last = now

    def due(self, every: timedelta) -> bool:
        """Whether the last beat is older than ``every`` (a long sweep beats between chunks)."""
        return self.last is None or wall_clock() - self.last >= every

    def stop(self) -> None:
        """Remove the row: this scheduler is gone, not stalled."""
        with self.db.begin() as conn:
            conn.execute(delete(SCHEDULERS).where(SCHEDULERS.c.name == self.name))


def end_stalled_sessions(db: Database, me: str, silent_for: timedelta) -> list[str]:
    """End the PostgreSQL sessions of schedulers whose heartbeat is older than ``silent_for``
    (their lease): a scheduler stopped inside a transaction (``SIGSTOP``, a hung host) holds
    its row locks until its session ends, and a session waiting in the middle of a pipelined
    statement is not ended by ``idle_in_transaction_session_timeout``. Their leases have run
    out; ending the sessions releases the locks, and the stalled scheduler, should it resume,
    finds its connection gone and its timers taken (fenced by ``locked_by``).

    Returns:
        The names of the schedulers whose sessions were ended (none on SQLite).
    """
    if db.dialect.name != "postgresql":
        return []
    cutoff = wall_clock() - silent_for
    with db.begin() as conn:
        stalled = [
            name
            for name in conn.execute(
                select(SCHEDULERS.c.name).where(
                    SCHEDULERS.c.heartbeat_at < cutoff, SCHEDULERS.c.name != me
                )
            ).scalars()
        ]
        if not stalled:
            return []
        ended = _end_sessions(conn, stalled)
    if ended:
        log.warning(
            "ended %d database session(s) of stalled scheduler(s) %s (silent for over %s)",
            ended,
            ", ".join(stalled),
            silent_for,
        )
    return stalled if ended else []


def _end_sessions(conn: Any, names: Sequence[str]) -> int:
    """End the PostgreSQL sessions of the schedulers ``names`` (their ``application_name``)."""
    return int(
        conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = ANY(:names) AND datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ),
            {"names": [session_name(name) for name in names]},
        ).scalar_one()
    )


def is_stale(age_s: float, stale_after: timedelta) -> bool:
    """Whether a heartbeat ``age_s`` seconds old means its scheduler stopped or hangs (the
    readiness check's rule: older than the threshold)."""
    return age_s > stale_after.total_seconds()


def schedulers(db: Database, stale_after: timedelta = STALE_AFTER) -> list[dict[str, Any]]:
    """Every scheduler that beat in the last day, the latest beat first, with the age of its
    last beat in seconds (``age_s``) and whether it is older than ``stale_after`` (``stale``)."""
    now = wall_clock()
    with db.connect() as conn:
        rows = conn.execute(select(SCHEDULERS).order_by(SCHEDULERS.c.heartbeat_at.desc())).all()
    found = []
    for row in rows:
        age = max(0.0, (now - row.heartbeat_at).total_seconds())
        found.append({**row._asdict(), "age_s": age, "stale": is_stale(age, stale_after)})
    return found


def forget(db: Database, stale_after: timedelta, names: Sequence[str] = ()) -> list[str]:
    """Remove the rows of stale schedulers (those named, or every stale one when ``names`` is
    empty); a live scheduler's row is kept (it would write it again at its next beat). On
    PostgreSQL their database sessions are ended first, so that a hung one's row locks go with
    its row (as ``end_stalled_sessions`` does for one silent past its lease).

    Returns:
        The names of the schedulers forgotten.
    """
    cutoff = wall_clock() - stale_after
    query = select(SCHEDULERS.c.name).where(SCHEDULERS.c.heartbeat_at < cutoff)
    if names:
        query = query.where(SCHEDULERS.c.name.in_(list(names)))
    with db.begin() as conn:
        gone = sorted(conn.execute(query).scalars())
        if not gone:
            return []
        if db.dialect.name == "postgresql":
            _end_sessions(conn, gone)
        conn.execute(
            delete(SCHEDULERS).where(
                SCHEDULERS.c.name.in_(gone), SCHEDULERS.c.heartbeat_at < cutoff
            )
        )
    log.info("forgot %d stale scheduler(s): %s", len(gone), ", ".join(gone))
    return gone
