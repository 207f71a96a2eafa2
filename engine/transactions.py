"""The engine's transactions: one write transaction per unit of work (retried on a lost
optimistic-lock race, on a kept connection, pipelined on PostgreSQL when asked), rehearsals (a dry
run: every transaction a savepoint of one that is rolled back), reads without the write lock, and
the two ways work runs once per key: a delivery's idempotency key (its result replayed) and a
finished-once marker (``run_once``).

Mixed into ``engine.runtime.Engine``, which holds the connections (``writers``), the statements
(``sql``) and the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine as SqlEngine

from engine import outcomes
from engine.errors import ConcurrentModification
from engine.outcomes import Idempotency, Transition
from engine.raw_connection import RawConnection, open_raw
from engine.tx import Tx, end_pipelined
from engine.tx import pipelined as pipelined_transaction

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.statements import HotPath
    from engine.writers import Writers

log = logging.getLogger(__name__)
T = TypeVar("T")


class Transactions:
    """Mixed into ``Engine``: the attributes below are the engine's."""

    db: SqlEngine
    dialect: str
    writers: Writers
    sql: HotPath
    clock: Clock
    _integrity_error: type[Exception]
    _rehearsal: ContextVar[Any]

    def transaction(
        self, work: Callable[[Tx], T], retries: int = 3, *, pipelined: bool = False
    ) -> T:
        """Run ``work`` in one write transaction, retrying a lost optimistic-lock race.

        On SQLite the transaction takes the write lock at its start (``BEGIN IMMEDIATE``). Inside
        ``rehearsal()`` it is a savepoint of the rehearsal's transaction instead.

        Args:
            pipelined: on PostgreSQL, run ``work`` in psycopg's pipeline mode
                (``engine.tx.pipelined``): ``BEGIN`` and the writes it only sends travel with the
                next read or with the pipeline's end, and so does ``COMMIT`` when the version
                checks are the server's (migration 0014), so a firing costs a round trip per
                read plus one instead of one per statement. Not for work that copies (``COPY``
                cannot run in a pipeline).
        """
        held = self._rehearsal.get()
        if held is not None:
            return self._savepoint(held, work)
        attempt = 0
        while True:
            in_pipeline = pipelined and self.dialect == "postgresql"
            if in_pipeline:
                self.sql.check_on_server(self.db)
            proxied, driver, kept = self.writers.begin()
            committing = False
            tx: Tx | None = None
            try:
                if in_pipeline:
                    with pipelined_transaction(driver) as tx:
                        result = work(tx)
                else:
                    result = work(Tx(driver, self.dialect))
                committing = True
                proxied.commit()  # sends nothing when the pipeline committed
                return result
            except ConcurrentModification:
                proxied.rollback()
                if attempt == retries:
                    raise
                attempt += 1
                log.info("lost a race, retrying (attempt %d)", attempt)
            except BaseException:
                proxied.rollback()
                # Once a COMMIT is on its way, whether it ran is unknown: never run the work twice.
                committing = committing or (tx is not None and tx.commit_queued)
                if committing or not self.writers.stale(proxied, kept):
                    raise
                # A kept connection the server had closed: nothing ran; again on a fresh one.
                log.info("a kept connection was closed by the server; running on a new one")
            finally:
                if in_pipeline:
                    end_pipelined(proxied)
                self.writers.release(proxied)

    def _savepoint(self, driver: Any, work: Callable[[Tx], T]) -> T:
        tx = Tx(driver, self.db.dialect.name)
        tx.cursor.execute("SAVEPOINT shebao_rehearsal")
        try:
            result = work(tx)
        except BaseException:
            tx.cursor.execute("ROLLBACK TO SAVEPOINT shebao_rehearsal")
            tx.cursor.execute("RELEASE SAVEPOINT shebao_rehearsal")
            raise
        tx.cursor.execute("RELEASE SAVEPOINT shebao_rehearsal")
        return result

    @property
    def rehearsing(self) -> bool:
        """Whether transactions are savepoints of a ``rehearsal()`` (one connection, in turn)."""
        return self._rehearsal.get() is not None

    @contextmanager
    def rehearsal(self) -> Iterator[None]:
        """Every transaction run inside is a savepoint of one transaction that is rolled back at
        the end: a dry run (``--dry-run`` of the imports) sees its own earlier rows, then leaves
        nothing behind. Reads through ``engine.db`` on other connections do not see it."""
        proxied, driver = open_raw(self.db)
        token = self._rehearsal.set(driver)
        try:
            yield
        finally:
            self._rehearsal.reset(token)
            proxied.rollback()
            proxied.close()

    def read(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` on a connection of its own without taking the write lock (pages)."""
        proxied = RawConnection(self.db.raw_connection())
        try:
            return work(Tx(proxied.driver_connection, self.db.dialect.name))
        finally:
            proxied.rollback()
            proxied.close()

    def run_idempotent(
        self,
        idempotency: Idempotency,
        digest: str,
        work: Callable[[Tx], Transition],
        *,
        ahead: Callable[[Tx], object] | None = None,
        ahead_under_lock: Callable[[Tx, str], bool] | None = None,
    ) -> Transition:
        """Run ``work`` once per idempotency key: a retry with the same request replays its result.

        The key row is written in the same transaction as the work, so a delivery is applied
        exactly once; the same key with a different request raises ``IdempotencyConflict``. A
        transaction-scoped lock on the key makes a concurrent delivery of the same key wait for
        the first and replay its result. ``ahead`` may queue the reads ``work`` begins with
        (``Tx.read_ahead``): on PostgreSQL they travel with the key's lookup, in one round trip.
        ``ahead_under_lock(tx, lock)`` instead queues a read that takes the key's lock itself
        (``select_instance_under_key_lock``: one statement where the lock and the read were two)
        and returns whether it did; if not, the lock is taken on its own and ``ahead`` runs.
        """
        digest = idempotency.digest or digest
        lock = f"idempotency:{idempotency.scope}:{idempotency.key}"

        def guarded(tx: Tx) -> Transition:
            # Deliveries of one key wait for each other: the second replays the first's result
            # instead of racing it (SQLite serialises writers already). The key is read after
            # the lock, in a statement of its own, so that it sees what the first committed.
            if ahead_under_lock is None or not ahead_under_lock(tx, lock):
                tx.lock(lock)
                if ahead is not None:
                    ahead(tx)  # queued after the lock: read once the key is ours
            replay = outcomes.replay(tx, self.sql, idempotency, digest)
            if replay:
                return replay
            done = work(tx)
            outcomes.remember(tx, self.sql, idempotency, digest, done, self.clock.now())
            return done

        try:
            return self.transaction(guarded, pipelined=True)
        except self._integrity_error:
            # A concurrent delivery of the same key won; answer with its result.
            replay = self.transaction(lambda tx: outcomes.replay(tx, self.sql, idempotency, digest))
            if replay is None:
                raise
            return replay

    def read_instance_under_lock(self, tx: Tx, instance_id: int, lock: str) -> bool:
        """Queue the instance's read, taking the key's ``lock`` in the same statement: an
        ``ahead_under_lock`` for ``run_idempotent``. False where nothing was queued (no
        pipeline: SQLite, a rehearsal)."""
        locking = self.sql.select_instance_under_key_lock
        if locking is None:
            return False
        plain = {"iid": instance_id}
        return tx.read_ahead(
            locking, {**plain, "lock": lock}, serves=(self.sql.select_instance, plain)
        )

    def run_once(self, scope: str, key: str, work: Callable[[], int]) -> int | None:
        """Run ``work`` unless it already ran to the end for (``scope``, ``key``).

        The key is written after ``work`` returns, so work cut short by a crash runs again (it
        must be safe to repeat); two processes may both run it, and the second key write is
        ignored. Returns ``work``'s result, or None when it had already run.
        """

        def done(tx: Tx) -> bool:
            return tx.one(self.sql.select_idempotency, {"scope": scope, "key": key}) is not None

        if self.transaction(done):
            return None
        result = work()
        marker = {
            "scope": scope,
            "key": key,
            "request_hash": "",
            "instance_id": None,
            "response": {"result": result},
            "created_at": self.clock.now(),
        }
        try:
            self.transaction(lambda tx: tx.run(self.sql.insert_key, marker))
        except self._integrity_error:
            log.info("%s %s was finished by another process too", scope, key)
        return result
