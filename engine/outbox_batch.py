"""One claimed batch of the outbox, notice by notice: send each, record what became of it, and
keep the lease of the rest alive.

``engine.outbox`` claims a batch and hands it here. Each notice is sent outside any transaction;
the outcomes are recorded in one transaction, fenced by ``locked_by = me AND status = 'pending'``
(an outcome of a notice another worker has taken over changes nothing and counts as lost). A
delivered notice is ``delivered``; a failed attempt counts, keeps its error and waits the worker's
``delay`` before the next; the last allowed attempt makes it ``failed`` with an incident.

Before each send, once half the lease has gone by since it was stamped, the outcomes so far are
recorded and the lease of the notices not yet sent is extended, in one transaction (a heartbeat);
those another worker took over meanwhile are dropped from the batch unsent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, Table, bindparam, literal_column, update

from engine.id_lists import InIds
from engine.incidents import IncidentLog, redact
from engine.models import Notice, UtcDateTime
from engine.outbox_queries import DELIVERED, FAILED
from engine.sqlexec import Prepared
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.outbox import Channel, DeliveryReport, OutboxNotice
    from engine.runtime import Engine

log = logging.getLogger("engine.outbox")  # the worker's messages keep one logger name

NOTICES: Table = Notice.__table__  # type: ignore[assignment]
_PENDING: ColumnElement[Any] = literal_column("'pending'")  # inlined: the partial index applies
_MINE = (NOTICES.c.locked_by == bindparam("b_me"), NOTICES.c.status == _PENDING)
EXTEND = (
    update(NOTICES)
    .where(InIds(NOTICES.c.id, "ids"), *_MINE)
    .values(lock_expires_at=bindparam("b_until", type_=UtcDateTime()))
    .returning(NOTICES.c.id)
)
"""The lease of notices still claimed by this worker, renewed: the ids it still holds."""
MARK_DELIVERED = (
    update(NOTICES)
    .where(InIds(NOTICES.c.id, "ids"), *_MINE)
    .values(
        status=DELIVERED,
        delivered_at=bindparam("b_at", type_=UtcDateTime()),
        lock_expires_at=None,
        attempts=NOTICES.c.attempts + 1,
    )
)
MARK_RETRY = (
    update(NOTICES)
    .where(NOTICES.c.id == bindparam("nid"), *_MINE)
    .values(
        attempts=NOTICES.c.attempts + 1,
        last_error=bindparam("b_error"),
        lock_expires_at=bindparam("b_next", type_=UtcDateTime()),
        locked_by=None,
    )
)
MARK_FAILED = (
    update(NOTICES)
    .where(NOTICES.c.id == bindparam("nid"), *_MINE)
    .values(
        status=FAILED,
        attempts=NOTICES.c.attempts + 1,
        last_error=bindparam("b_error"),
        lock_expires_at=None,
        locked_by=None,
    )
)


class Sender(Protocol):
    """What a batch needs of the worker that claimed it (``engine.outbox.OutboxWorker``)."""

    engine: Engine
    channel: Channel
    name: str
    lease: timedelta
    max_attempts: int

    def delay(self, attempts: int) -> timedelta: ...


class BatchDelivery:
    """Sends the batches one worker claims and records their outcomes (statements compiled once)."""

    def __init__(self, worker: Sender) -> None:
        self.worker = worker
        dialect = worker.engine.db.dialect
        self._extend = Prepared(EXTEND, dialect)
        self._delivered = Prepared(MARK_DELIVERED, dialect)
        self._retry = Prepared(MARK_RETRY, dialect)
        self._failed = Prepared(MARK_FAILED, dialect)
        self._incidents = IncidentLog(worker.engine)

    def send(
        self,
        claimed: Sequence[OutboxNotice],
        now: datetime,
        stamped: datetime,
        clock: Callable[[], datetime],
        report: DeliveryReport,
    ) -> None:
        """Send ``claimed`` oldest first and record the outcomes into the database and ``report``.

        Args:
            now: the time due-ness and backoffs count from.
            stamped: when the claim's lease was stamped.
            clock: the time now, for leases and delivery times.
        """
        engine, lease = self.worker.engine, self.worker.lease
        queue = list(reversed(claimed))  # popped from the end: oldest first
        sent: list[int] = []
        errors: list[tuple[OutboxNotice, str]] = []
        while queue:
            if clock() - stamped >= lease / 2:
                stamped = clock()
                beat = partial(self._heartbeat, now, stamped, sent, errors, queue, report)
                held = engine.transaction(beat)
                sent, errors = [], []
                report.lost += len(queue) - len(held)  # taken over before this worker sent them
                queue = [notice for notice in queue if notice.id in held]
                continue
            notice = queue.pop()
            try:
                self.worker.channel.send(notice)
            except Exception as exc:  # noqa: BLE001 - any failure of a channel is a failed attempt
                errors.append((notice, redact(f"{type(exc).__name__}: {exc}")))
            else:
                sent.append(notice.id)
        if sent or errors:
            at = clock()
            engine.transaction(lambda tx: self._record(tx, now, at, sent, errors, report))

    def _heartbeat(
        self,
        now: datetime,
        at: datetime,
        sent: Sequence[int],
        errors: Sequence[tuple[OutboxNotice, str]],
        unsent: Sequence[OutboxNotice],
        report: DeliveryReport,
        tx: Tx,
    ) -> set[int]:
        """Record the outcomes so far and extend the lease of ``unsent`` from ``at``: the ids
        this worker still holds."""
        self._record(tx, now, at, sent, errors, report)
        if not unsent:
            return set()
        until = at + self.worker.lease
        values = {"ids": [n.id for n in unsent], "b_me": self.worker.name, "b_until": until}
        return {row.id for row in tx.all(self._extend, values)}

    def _record(
        self,
        tx: Tx,
        now: datetime,
        at: datetime,
        sent: Sequence[int],
        errors: Sequence[tuple[OutboxNotice, str]],
        report: DeliveryReport,
    ) -> None:
        me = self.worker.name
        if sent:
            marked = tx.run(self._delivered, {"ids": list(sent), "b_me": me, "b_at": at})
            report.delivered += marked
            report.lost += len(sent) - marked
        for notice, error in errors:
            attempts = notice.attempts + 1
            values = {"nid": notice.id, "b_me": me, "b_error": error}
            if attempts < self.worker.max_attempts:
                values["b_next"] = now + self.worker.delay(attempts)
                changed = tx.run(self._retry, values)
                report.retried += changed
            else:
                changed = tx.run(self._failed, values)
                if changed:
                    self._open_incident(tx, notice, error, attempts, at)
                report.failed += changed
            report.lost += 1 - changed

    def _open_incident(
        self, tx: Tx, notice: OutboxNotice, error: str, attempts: int, at: datetime
    ) -> None:
        state = None
        if notice.process and notice.event:
            try:
                spec = self.worker.engine.definition(notice.process).events.get(notice.event)
            except LookupError:
                spec = None
            state = spec.target if spec else None
        log.warning(
            "notice %s (%s) failed %d attempts: %s", notice.id, notice.kind, attempts, error
        )
        self._incidents.open(
            tx,
            kind="notice",
            ref_id=notice.id,
            step=notice.kind,
            error=error,
            attempts=attempts,
            now=at,
            instance_id=notice.instance_id,
            process=notice.process,
            state=state,
        )


__all__ = ["BatchDelivery", "Sender"]
