"""One-statement reads (and single-row touches) for the API's hot path, each one round trip.

A read through SQLAlchemy's ``db.connect()`` on PostgreSQL costs four round trips for its one
statement: the pool's pre-ping, ``BEGIN``, the statement and the ``ROLLBACK`` when the connection
is closed. The API authenticates every request and looks the card up before every event, so those
reads cost more than the event's own transaction. A ``Reader`` runs such a statement (compiled
once per dialect, ``engine.sqlexec.Prepared``, run by ``engine.tx.Tx``) on a pooled connection in autocommit mode that it
keeps checked out between reads (``engine.kept``, the keeper of the engine's write connections too):
the statement is the only thing sent. A single statement is its own transaction, so it sees
committed data as the read inside a transaction did.

A kept connection skips the pool's pre-ping, so it may have been closed by the server while it
waited (a restart, an administrator ending the session): the statement then runs again, once, on
a fresh connection from the pool (pinged), and the other kept connections are let go too. A read
changes nothing, and the only write (``touch``: a token's "last used" time) may safely run twice.

Only PostgreSQL connections are kept: on SQLite a statement is no round trip, a kept connection
would count as checked out of the pool, and autocommit is how its connections run already (the
engine's ``BEGIN`` is issued explicitly). Connections go back to the pool with autocommit off, as
they came, and ``Engine.dispose()`` closes the kept ones.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from psycopg.pq import TransactionStatus
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from engine.kept import Keeper
from engine.raw_connection import RawConnection
from engine.sqlexec import Prepared
from engine.tx import Tx

T = TypeVar("T")


class Reader:
    """Runs one statement at a time of ``db`` on kept autocommit connections (PostgreSQL)."""

    def __init__(self, db: Engine, keep: int | None = None) -> None:
        self.dialect = db.dialect
        self._db = weakref.ref(db)  # the engine holds this reader (its dispose listener)
        self.postgres = db.dialect.name == "postgresql"
        pool = db.pool
        if keep is None:
            keep = max(1, pool.size() // 2) if self.postgres and isinstance(pool, QueuePool) else 0
        self.keeper = Keeper(db, keep, self._open, self._return)
        self._prepared: dict[Any, Prepared] = {}

    def prepared(self, key: Any, build: Callable[[], Any]) -> Prepared:
        """The statement ``build()`` makes, compiled once for this database under ``key``."""
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = Prepared(build(), self.dialect)
        return found

    def one(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        """The statement's first row (a named tuple), or None."""
        return self._run(lambda tx: tx.one(prepared, values))

    def run(self, prepared: Prepared, values: Mapping[str, Any]) -> int:
        """Execute a statement that may safely run twice; the number of rows it changed."""
        return self._run(lambda tx: tx.run(prepared, values))

    def close(self, *, discard: bool = False) -> None:
        """Return every kept connection to the pool (or close them: ``discard``)."""
        self.keeper.close(discard=discard)

    def _run(self, work: Callable[[Tx], T]) -> T:
        for attempt in (1, 2):
            held, kept = self.keeper.take()
            try:
                result = work(Tx(held.driver_connection, self.dialect.name))
            except BaseException:
                # A kept connection the server had closed: again, once, on a fresh one.
                if attempt == 1 and self.keeper.stale(held, kept):
                    continue
                self.keeper.give_back(held)
                raise
            self.keeper.give_back(held)
            return result
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _open(self) -> RawConnection:
        db = self._db()
        if db is None:
            raise RuntimeError("the database engine of this reader is gone")
        held = RawConnection(db.raw_connection())
        if self.postgres:  # SQLite's connections run in autocommit already (engine.db)
            driver = held.driver_connection
            try:
                if driver.info.transaction_status != TransactionStatus.IDLE:
                    driver.rollback()  # never expected: every user ends its transactions
                driver.autocommit = True  # no BEGIN, nothing to roll back
            except BaseException:
                held.close()
                raise
        return held

    def _return(self, held: RawConnection) -> None:
        """Back to the pool with autocommit off, as the pool's other users expect it."""
        if self.postgres:
            try:
                held.driver_connection.autocommit = False
            except Exception:
                held.discard()
                return
        held.close()


_READERS: weakref.WeakKeyDictionary[Engine, Reader] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def reader(db: Engine) -> Reader:
    """The reader of ``db`` (one per SQLAlchemy engine, made on first use)."""
    found = _READERS.get(db)
    if found is None:
        with _LOCK:
            found = _READERS.get(db)
            if found is None:
                found = _READERS[db] = Reader(db)
    return found
