"""The write transactions' connections, kept checked out between transactions.

Checking a connection out of SQLAlchemy's pool and back costs more than a whole firing's Python
work on SQLite, and on PostgreSQL the pool's pre-ping adds a round trip to every transaction. The
engine's writes therefore keep a few pooled connections checked out, idle between transactions
(committed or rolled back, never inside one), and take the last one returned (the one most likely
to be warm). Each worker thread firing events in a row keeps reusing one connection.

A kept connection skips the pool's pre-ping, so it may have been closed by the server while it
waited. ``Writers.stale`` tells the engine that a failure came from such a connection before
anything was committed, so the transaction can be run again on a fresh, pinged connection from the
pool. Keeping, recycling and letting go are ``engine.kept``'s, shared with the API's reads.

Only a ``QueuePool`` (PostgreSQL, an SQLite file) is kept from: SQLite's in-memory pools hand the
same connection to every checkout of a thread. ``Engine.dispose()`` on the SQLAlchemy engine
closes the kept connections too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from engine.kept import Keeper
from engine.raw_connection import RawConnection, open_raw


class Writers:
    """Up to ``keep`` idle write connections of ``db``, handed out one per transaction."""

    def __init__(self, db: Engine, keep: int | None = None) -> None:
        self.db = db
        self.sqlite = db.dialect.name == "sqlite"
        pool = db.pool
        if keep is None:
            keep = max(1, pool.size() // 2) if isinstance(pool, QueuePool) else 0
        self.keeper = Keeper(db, keep, lambda: open_raw(db)[0])

    @property
    def keep(self) -> int:
        return self.keeper.keep

    def begin(self) -> tuple[RawConnection, Any, bool]:
        """A connection with a write transaction begun on it, its driver connection, and whether
        it was kept (not pinged by the pool just now)."""
        held, kept = self.keeper.take()
        driver = held.driver_connection
        if kept and self.sqlite:  # a fresh one is begun by open_raw; PostgreSQL begins itself
            try:
                driver.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.release(held)
                raise
        return held, driver, kept

    def release(self, held: RawConnection) -> None:
        """Take back a connection whose transaction has ended (kept, or returned to the pool)."""
        self.keeper.give_back(held)

    def stale(self, held: RawConnection, kept: bool) -> bool:
        """Whether ``held`` failed because it was a kept connection the server had closed: if so,
        it is discarded with every other kept one, and the transaction may run again."""
        return self.keeper.stale(held, kept)

    def close(self, *, discard: bool = False) -> None:
        """Return every kept connection to the pool (or close them: ``discard``)."""
        self.keeper.close(discard=discard)
