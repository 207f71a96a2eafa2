"""The notification outbox's delivery: claim due notices, send each once, retry with backoff.

Notices are rows (``wf_notice``) that ``engine.notices`` writes in the transaction of the event
that causes them. An ``OutboxWorker`` delivers them to a channel (``engine.outbox_channels``):

1. **Claim** a batch in a short transaction: pending notices whose backoff or lease has passed,
   then those never tried, oldest first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number
   of workers share the work; SQLite has one writer), stamped with the worker's name and a lease
   (``locked_by``, ``lock_expires_at``).
2. **Send** each one outside any transaction. The notice carries its id: the receiver
   deduplicates by it (``Idempotency-Key: notice-<id>``), so at-least-once sending has an
   exactly-once effect.
3. **Record** the outcomes in one transaction, fenced by ``locked_by = me AND status = 'pending'``:
   a worker whose lease ran out and was taken over by another changes nothing. A delivered notice
   is ``delivered``; a failed attempt counts, keeps its error (long digit runs masked) and waits
   ``backoff * 2**(attempts - 1)`` (at most ``max_backoff``) before the next; after
   ``max_attempts`` it is ``failed`` with an incident (``engine.incidents``), whose retry puts it
   back to pending.

A slow batch (a receiver that hangs until the timeout) does not outlast its lease: before each
send, once half the lease has gone by since the claim was stamped, the worker records the outcomes
it has so far and extends the lease of the notices it has not sent yet, in one transaction (as a
Camunda external task's lock extension, or a Temporal activity's heartbeat). A notice another
worker has taken over meanwhile is dropped from the batch unsent. Each send thus starts with at
least half a lease in hand: a channel's timeout must stay below it.

A worker that dies mid-batch leaves its claimed notices to whoever claims them after the lease;
those it had sent are sent again, and the receiver drops them by id.

This module claims; sending a claimed batch, recording its outcomes and extending its lease are
``engine.outbox_batch``'s.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Table,
    bindparam,
    literal_column,
    select,
    update,
)

from engine.id_lists import InIds
from engine.models import Notice, UtcDateTime
from engine.outbox_batch import BatchDelivery
from engine.runtime import Engine
from engine.sqlexec import Prepared
from engine.tx import Tx

log = logging.getLogger(__name__)

NOTICES: Table = Notice.__table__  # type: ignore[assignment]

DEFAULT_BATCH = 100
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF = timedelta(minutes=1)
DEFAULT_MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class OutboxNotice:
    """One notice as a channel receives it."""

    id: int
    instance_id: int | None
    process: str | None
    event: str | None
    kind: str
    recipient: str | None
    channel: str
    text_zh: str
    text_en: str
    data: Mapping[str, Any] | None
    attempts: int
    """Attempts made before this one."""
    created_at: datetime

    @property
    def key(self) -> str:
        """The id the receiver deduplicates by (``Idempotency-Key``)."""
        return f"notice-{self.id}"

    def message(self, recipient: str | None = None) -> dict[str, Any]:
        """The notice as JSON, with ``recipient`` instead of the real one if given (masked)."""
        return {
            "id": self.key,
            "notice_id": self.id,
            "kind": self.kind,
            "channel": self.channel,
            "recipient": self.recipient if recipient is None else recipient,
            "text": {"zh": self.text_zh, "en": self.text_en},
            "data": dict(self.data or {}),
            "process": self.process,
            "event": self.event,
            "instance_id": self.instance_id,
            "created_at": self.created_at.isoformat(),
        }


class Channel(Protocol):
    """Where notices go (an SMS gateway, a bank's webhook, a file): ``send`` returns when the
    receiver has the notice and raises when it does not (the worker retries). Receivers must
    treat a notice id they have seen as done: a notice may be sent more than once."""

    def send(self, notice: OutboxNotice) -> None: ...


@dataclass
class DeliveryReport:
    """What one run of a worker did.

    Attributes:
        claimed: notices claimed (each attempt counts once).
        delivered: notices the channel took, recorded as delivered.
        retried: failed attempts that will be tried again after the backoff.
        failed: notices that failed their last attempt (status ``failed``, an incident).
        lost: outcomes not recorded, or notices left unsent, because another worker had taken
            the notice over.
        batches: claims that found work.
    """

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    batches: int = 0

    def __bool__(self) -> bool:
        """Whether the run found anything to deliver."""
        return self.claimed > 0

    def add(self, other: DeliveryReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_PENDING: ColumnElement[Any] = literal_column(
    "'pending'"
)  # inlined, so the partial index on it applies
_NOW = bindparam("b_now", type_=UtcDateTime())
_ME: BindParameter[Any] = bindparam("b_me")
_COLUMNS = [
    NOTICES.c[name]
    for name in (
        "id",
        "instance_id",
        "process",
        "event",
        "kind",
        "recipient",
        "channel",
        "text_zh",
        "text_en",
        "data",
        "attempts",
        "created_at",
    )
]
_CLAIM = select(*_COLUMNS).limit(bindparam("n")).with_for_update(skip_locked=True)
CLAIM_DUE = _CLAIM.where(NOTICES.c.status == _PENDING, NOTICES.c.lock_expires_at <= _NOW).order_by(
    NOTICES.c.lock_expires_at, NOTICES.c.id
)
"""Notices whose backoff or lease has run out, the longest waiting first."""
CLAIM_NEW = _CLAIM.where(
    NOTICES.c.status == _PENDING, NOTICES.c.lock_expires_at.is_(None)
).order_by(NOTICES.c.id)
"""Notices never tried, oldest first. Each claim query reads the partial index of pending
notices (``ix_wf_notice_pending``) in its order, whatever the number of notices delivered."""
STAMP = (
    update(NOTICES)
    .where(InIds(NOTICES.c.id, "ids"))
    .values(locked_by=_ME, lock_expires_at=bindparam("b_until", type_=UtcDateTime()))
)


def worker_name() -> str:
    """A name no other worker has: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxWorker:
    """Delivers the outbox of one engine's database to one channel.

    Args:
        engine: the engine (database, clock, definitions for the incidents' states).
        channel: where notices go.
        name: this worker's name in ``locked_by`` (unique by default).
        batch: notices claimed per transaction.
        lease: how long a claim holds; another worker takes the notices over after it.
        max_attempts: attempts before a notice is ``failed`` with an incident.
        backoff: the wait after the first failed attempt; doubled after each further one.
        max_backoff: the longest wait between attempts.
    """

    def __init__(
        self,
        engine: Engine,
        channel: Channel,
        *,
        name: str | None = None,
        batch: int = DEFAULT_BATCH,
        lease: timedelta = DEFAULT_LEASE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: timedelta = DEFAULT_BACKOFF,
        max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
    ) -> None:
        if batch < 1 or max_attempts < 1:
            raise ValueError("batch and max_attempts must be at least 1")
        if lease <= timedelta(0) or backoff < timedelta(0) or max_backoff < backoff:
            raise ValueError("the lease must be positive, and 0 <= backoff <= max_backoff")
        self.engine = engine
        self.channel = channel
        self.name = (name or worker_name())[:128]
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        dialect = engine.db.dialect
        self._claim_due = Prepared(CLAIM_DUE, dialect)
        self._claim_new = Prepared(CLAIM_NEW, dialect)
        self._stamp = Prepared(STAMP, dialect)
        self._sending = BatchDelivery(self)
        timeout = getattr(channel, "timeout", None)
        if isinstance(timeout, int | float) and timeout >= lease.total_seconds() / 2:
            log.warning(
                "the channel's timeout (%g s) is not below half the lease (%g s): a slow send "
                "may outlast its claim, and another worker send the notice meanwhile",
                timeout,
                lease.total_seconds(),
            )

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        if attempts < 1:
            return timedelta(0)
        return min(self.backoff * 2 ** min(attempts - 1, 40), self.max_backoff)

    def run_once(
        self, now: datetime | None = None, max_batches: int | None = None
    ) -> DeliveryReport:
        """Deliver every notice due at ``now`` (the engine clock's time by default), batch by
        batch, until none is left that this worker can claim.

        Due-ness and backoffs count from ``now``; leases and delivery times from ``now`` plus the
        time this run has taken, so a long run's claims do not expire early.
        """
        moment = now or self.engine.clock.now()
        began = time.monotonic()
        total = DeliveryReport()
        while max_batches is None or total.batches < max_batches:
            done = self.deliver_batch(moment, began)
            total.add(done)
            if done.claimed == 0:
                break
        if total.claimed:
            log.info("notice delivery by %s: %s", self.name, total.as_dict())
        return total

    def deliver_batch(self, now: datetime, began: float | None = None) -> DeliveryReport:
        """Claim one batch due at ``now``, send it, record the outcomes; once half the lease has
        gone by, record what is done and extend the lease of the rest before the next send.

        Args:
            began: the ``time.monotonic()`` when the run began (default: now); the time since
                is added to ``now`` for leases and delivery times.
        """
        start = time.monotonic() if began is None else began

        def clock() -> datetime:
            return now + timedelta(seconds=time.monotonic() - start)

        stamped = clock()
        claimed = self.engine.transaction(lambda tx: self._claim(tx, now, stamped))
        report = DeliveryReport(claimed=len(claimed), batches=1 if claimed else 0)
        self._sending.send(claimed, now, stamped, clock, report)
        return report

    def _claim(self, tx: Tx, now: datetime, at: datetime) -> list[OutboxNotice]:
        rows = tx.all(self._claim_due, {"b_now": now, "n": self.batch})
        if len(rows) < self.batch:
            rows += tx.all(self._claim_new, {"n": self.batch - len(rows)})
        if not rows:
            return []
        ids = [row.id for row in rows]
        tx.run(self._stamp, {"ids": ids, "b_me": self.name, "b_until": at + self.lease})
        return [OutboxNotice(**row._asdict()) for row in rows]


__all__ = [
    "Channel",
    "DeliveryReport",
    "OutboxNotice",
    "OutboxWorker",
    "worker_name",
]
