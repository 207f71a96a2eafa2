"""Incidents: a step that failed every attempt its retry policy allows (a timer's event, a notice's
delivery) becomes a row that waits for a person, as in Camunda's incidents.

``open_incident`` writes one inside the transaction that gave up on the step; ``list_incidents``,
``retry_incident`` (the step goes back to pending with its attempts reset, and the scheduler runs it
again at its next sweep) and ``resolve_incident`` (closed without running the step again) are what
the supervisor page, ``shebao incidents`` and the API call. A timer's incident closes by itself
(``LEFT``) when its instance leaves the timer's state. Error texts are stored with long digit
runs masked: an exception's message may quote a resident ID number or a bank account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, update

from engine.errors import IncidentNotFound, IncidentNotOpen
from engine.models import Incident, Notice, Timer
from engine.runtime import Engine
from engine.sqlexec import Prepared
from engine.statements import LEFT_STATE
from engine.tx import Tx

INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
TIMERS: Table = Timer.__table__  # type: ignore[assignment]
NOTICES: Table = Notice.__table__  # type: ignore[assignment]
OPEN, CLOSED = "open", "closed"
RETRY, RESOLVE = "retry", "resolve"
"""How an incident was closed: its step put back, or closed without running it again."""
LEFT = LEFT_STATE
"""How a timer's incident was closed when its instance left the timer's state (the state effects
close it as they cancel the timer, ``engine.state_effects``): nothing is left to retry."""
KINDS = ("timer", "notice")
MAX_ERROR = 2000

_LONG_NUMBER = re.compile(r"\d{14,}[\dXx]?")


def redact(text: str) -> str:
    """``text`` cut to ``MAX_ERROR`` characters with every run of 15 or more digits (an ID number,
    a bank account) masked to its first 3 and last 2 characters."""

    def mask(match: re.Match[str]) -> str:
        value = match.group(0)
        return value[:3] + "*" * (len(value) - 5) + value[-2:]

    return _LONG_NUMBER.sub(mask, text)[:MAX_ERROR]


@dataclass(frozen=True)
class IncidentRow:
    """One incident as the page, the CLI and the API show it."""

    id: int
    kind: str
    ref_id: int
    instance_id: int | None
    process: str | None
    state: str | None
    step: str
    error: str
    attempts: int
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("created_at", "resolved_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


class IncidentLog:
    """Writes incidents inside a caller's transaction (the timer sweep, the notice worker).

    Args:
        engine: the engine whose database's dialect the statement is compiled for.
    """

    def __init__(self, engine: Engine) -> None:
        columns = [c.name for c in INCIDENTS.columns if c.name != "id"]
        self._insert = Prepared(insert(INCIDENTS).inline(), engine.db.dialect, columns)

    def open(
        self,
        tx: Tx,
        *,
        kind: str,
        ref_id: int,
        step: str,
        error: str,
        attempts: int,
        now: datetime,
        instance_id: int | None = None,
        process: str | None = None,
        state: str | None = None,
    ) -> None:
        """Write an open incident in ``tx`` (the transaction that gave up on the step)."""
        if kind not in KINDS:
            raise ValueError(f"incident kind must be one of {KINDS}, got {kind!r}")
        tx.run(
            self._insert,
            {
                "kind": kind,
                "ref_id": ref_id,
                "instance_id": instance_id,
                "process": process,
                "state": state,
                "step": step,
                "error": redact(error),
                "attempts": attempts,
                "status": OPEN,
                "created_at": now,
                "resolved_at": None,
                "resolved_by": None,
                "resolution": None,
            },
        )


def list_incidents(
    engine: Engine,
    *,
    status: str | None = OPEN,
    process: str | None = None,
    instance_id: int | None = None,
    limit: int = 200,
) -> list[IncidentRow]:
    """Incidents, newest first (open ones by default)."""
    query = select(INCIDENTS).order_by(INCIDENTS.c.id.desc()).limit(limit)
    if status:
        query = query.where(INCIDENTS.c.status == status)
    if process:
        query = query.where(INCIDENTS.c.process == process)
    if instance_id is not None:
        query = query.where(INCIDENTS.c.instance_id == instance_id)
    with engine.db.connect() as conn:
        return [IncidentRow(**row._asdict()) for row in conn.execute(query)]


def get_incident(engine: Engine, incident_id: int) -> IncidentRow:
    with engine.db.connect() as conn:
        row = conn.execute(select(INCIDENTS).where(INCIDENTS.c.id == incident_id)).first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return IncidentRow(**row._asdict())


def open_counts(engine: Engine, process: str | None = None) -> dict[tuple[str, str], int]:
    """Open incidents per (process, state): the diagrams' trouble view and the metrics."""
    query = (
        select(INCIDENTS.c.process, INCIDENTS.c.state, func.count())
        .where(INCIDENTS.c.status == OPEN)
        .group_by(INCIDENTS.c.process, INCIDENTS.c.state)
    )
    if process:
        query = query.where(INCIDENTS.c.process == process)
    with engine.db.connect() as conn:
        return {(p or "", s or ""): int(n) for p, s, n in conn.execute(query)}


def retry_incident(engine: Engine, incident_id: int, actor: str) -> IncidentRow:
    """Put the failed step back: its timer or notice is pending again with no attempts counted,
    due at once; the incident is closed with the resolution ``RETRY``.

    Raises:
        IncidentNotFound: no such incident.
        IncidentNotOpen: it was retried or resolved already.
    """
    return _close(engine, incident_id, actor, RETRY)


def resolve_incident(engine: Engine, incident_id: int, actor: str) -> IncidentRow:
    """Close the incident without running the step again (the cause was dealt with another way);
    its timer or notice stays failed."""
    return _close(engine, incident_id, actor, RESOLVE)


def _close(engine: Engine, incident_id: int, actor: str, resolution: str) -> IncidentRow:
    now = engine.clock.now()
    with engine.db.begin() as conn:
        closed = conn.execute(
            update(INCIDENTS)
            .where(INCIDENTS.c.id == incident_id, INCIDENTS.c.status == OPEN)
            .values(status=CLOSED, resolved_at=now, resolved_by=actor, resolution=resolution)
            .returning(INCIDENTS.c.kind, INCIDENTS.c.ref_id)
        ).first()
        if closed is None:
            status = conn.execute(
                select(INCIDENTS.c.status).where(INCIDENTS.c.id == incident_id)
            ).scalar()
            if status is None:
                raise IncidentNotFound(incident_id)
            raise IncidentNotOpen(incident_id, status)
        if resolution == RETRY:
            table = TIMERS if closed.kind == "timer" else NOTICES
            conn.execute(
                update(table)
                .where(table.c.id == closed.ref_id, table.c.status == "failed")
                .values(
                    status="pending",
                    attempts=0,
                    locked_by=None,
                    lock_expires_at=None,
                    last_error=None,
                )
            )
    return get_incident(engine, incident_id)
