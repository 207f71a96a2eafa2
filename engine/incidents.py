"""Incidents: a step that failed every attempt its retry policy allows (a timer's event, a notice's
delivery) becomes a row that waits for a person, as in Camunda's incidents.

``open_incident`` writes one inside the transaction that gave up on the step; ``list_incidents``,
``retry_incident`` (the step goes back to pending with its attempts reset, and the scheduler runs it
again at its next sweep) and ``resolve_incident`` (closed without running the step again) are what
the supervisor page, ``shebao incidents`` and the API call. ``retry_incidents`` and
``resolve_incidents`` do the same to every open incident a ``Matching`` selects (after a receiver's
outage: thousands of notices), a chunk per transaction, through the same statements as one
incident (``_close_rows``): an incident is closed once, and only a step still ``failed`` is put
back, so a notice is never made pending twice. A timer's incident closes by itself (``LEFT``)
when its instance leaves the timer's state. Error texts are stored with long digit runs masked:
an exception's message may quote a resident ID number or a bank account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

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
CHUNK = 500
"""Incidents closed per transaction by a bulk retry or resolve."""

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
    event: str | None = None
    """The event the step belongs to: a timer's own event (its step), or the event that wrote
    the notice (None when the notice is gone)."""

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


@dataclass(frozen=True)
class Matching:
    """Which incidents a list, a count or a bulk retry or resolve takes: every one by default,
    narrowed by kind, process, step (a timer's event or a notice's kind), instance, and ``up_to``
    (ids up to this one: those a page showed, not those opened since)."""

    kind: str | None = None
    process: str | None = None
    step: str | None = None
    instance_id: int | None = None
    up_to: int | None = None

    def where(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for column, value in (
            (INCIDENTS.c.kind, self.kind),
            (INCIDENTS.c.process, self.process),
            (INCIDENTS.c.step, self.step),
            (INCIDENTS.c.instance_id, self.instance_id),
        ):
            if value is not None and value != "":
                found.append(column == value)
        if self.up_to is not None:
            found.append(INCIDENTS.c.id <= self.up_to)
        return found


_WITH_EVENT = select(INCIDENTS, NOTICES.c.event.label("notice_event")).select_from(
    INCIDENTS.outerjoin(
        NOTICES, and_(INCIDENTS.c.kind == "notice", NOTICES.c.id == INCIDENTS.c.ref_id)
    )
)


def _incident(row: Row[Any]) -> IncidentRow:
    values = row._asdict()
    notice_event = values.pop("notice_event")
    values["event"] = values["step"] if values["kind"] == "timer" else notice_event
    return IncidentRow(**values)


def list_incidents(
    engine: Engine,
    *,
    status: str | None = OPEN,
    process: str | None = None,
    instance_id: int | None = None,
    limit: int = 200,
    matching: Matching | None = None,
) -> list[IncidentRow]:
    """Incidents, newest first (open ones by default), at most ``limit``."""
    given = Matching(process=process, instance_id=instance_id)
    query = _WITH_EVENT.where(*given.where(), *(matching or Matching()).where())
    if status:
        query = query.where(INCIDENTS.c.status == status)
    query = query.order_by(INCIDENTS.c.id.desc()).limit(limit)
    with engine.db.connect() as conn:
        return [_incident(row) for row in conn.execute(query)]


def count_incidents(engine: Engine, matching: Matching, status: str | None = OPEN) -> int:
    """How many incidents ``matching`` selects (open ones by default)."""
    query = select(func.count()).select_from(INCIDENTS).where(*matching.where())
    if status:
        query = query.where(INCIDENTS.c.status == status)
    with engine.db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def get_incident(engine: Engine, incident_id: int) -> IncidentRow:
    with engine.db.connect() as conn:
        row = conn.execute(_WITH_EVENT.where(INCIDENTS.c.id == incident_id)).first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return _incident(row)


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
        if not _close_rows(conn, [incident_id], actor, resolution, now):
            status = conn.execute(
                select(INCIDENTS.c.status).where(INCIDENTS.c.id == incident_id)
            ).scalar()
            if status is None:
                raise IncidentNotFound(incident_id)
            raise IncidentNotOpen(incident_id, status)
    return get_incident(engine, incident_id)


def _close_rows(
    conn: Connection, ids: list[int], actor: str, resolution: str, now: datetime
) -> list[Row[Any]]:
    """Close the incidents ``ids`` that are still open (one statement: an incident another
    person closed meanwhile is left as it is) and, for a retry, put their steps back: a timer
    or notice still ``failed`` becomes pending, due at once, with no attempts counted.

    Returns:
        ``(id, kind, ref_id)`` of the incidents this call closed.
    """
    closed = list(
        conn.execute(
            update(INCIDENTS)
            .where(INCIDENTS.c.id.in_(ids), INCIDENTS.c.status == OPEN)
            .values(status=CLOSED, resolved_at=now, resolved_by=actor, resolution=resolution)
            .returning(INCIDENTS.c.id, INCIDENTS.c.kind, INCIDENTS.c.ref_id)
        )
    )
    if resolution == RETRY:
        for kind, table in (("timer", TIMERS), ("notice", NOTICES)):
            refs = [row.ref_id for row in closed if row.kind == kind]
            if not refs:
                continue
            conn.execute(
                update(table)
                .where(table.c.id.in_(refs), table.c.status == "failed")
                .values(
                    status="pending",
                    attempts=0,
                    locked_by=None,
                    lock_expires_at=None,
                    last_error=None,
                )
            )
    return closed


@dataclass(frozen=True)
class Closed:
    """What a bulk retry or resolve closed: the incidents' ids, and how many of each kind."""

    ids: tuple[int, ...]
    by_kind: dict[str, int]

    @property
    def count(self) -> int:
        return len(self.ids)


def retry_incidents(engine: Engine, matching: Matching, actor: str, chunk: int = CHUNK) -> Closed:
    """``retry_incident`` for every open incident ``matching`` selects (see the module)."""
    return _close_matching(engine, matching, actor, RETRY, chunk)


def resolve_incidents(engine: Engine, matching: Matching, actor: str, chunk: int = CHUNK) -> Closed:
    """``resolve_incident`` for every open incident ``matching`` selects."""
    return _close_matching(engine, matching, actor, RESOLVE, chunk)


def _close_matching(
    engine: Engine, matching: Matching, actor: str, resolution: str, chunk: int
) -> Closed:
    query = select(INCIDENTS.c.id).where(INCIDENTS.c.status == OPEN, *matching.where())
    with engine.db.connect() as conn:
        ids = list(conn.execute(query.order_by(INCIDENTS.c.id)).scalars())
    now = engine.clock.now()
    done: list[Row[Any]] = []
    for start in range(0, len(ids), chunk):
        with engine.db.begin() as conn:  # a chunk is one transaction, as one incident is
            done.extend(_close_rows(conn, ids[start : start + chunk], actor, resolution, now))
    by_kind = {kind: sum(1 for row in done if row.kind == kind) for kind in KINDS}
    return Closed(tuple(sorted(row.id for row in done)), by_kind)
