"""The write transactions' connections, kept checked out between transactions.

Checking a connection out of SQLAlchemy's pool and back costs more than a whole firing's Python
work on SQLite, and on PostgreSQL the pool's pre-ping adds a round trip to every transaction. The
engine's writes therefore keep a few pooled connections checked out, idle between transactions
(committed or rolled back, never inside one), and take the last one returned (the one most likely
to be warm). Each worker thread firing events in a row keeps reusing one connection.

A kept connection skips the pool's pre-ping, so it may have been closed by the server while it
waited (a restart, an administrator ending the session). ``Writers.stale`` tells the engine that
a failure came from such a connection before anything was committed, so the transaction can be run
again on a fresh, pinged connection from the pool; the other kept connections are let go then too,
since whatever ended one has likely ended them all.

Only a ``QueuePool`` (PostgreSQL, an SQLite file) is kept from: SQLite's in-memory pools hand the
same connection to every checkout of a thread. ``Engine.dispose()`` on the SQLAlchemy engine
closes the kept connections too.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from engine.db import is_broken
from engine.sqlexec import RawConnection, open_raw


class Writers:
    """Up to ``keep`` idle write connections of ``db``, handed out one per transaction."""

    def __init__(self, db: Engine, keep: int | None = None) -> None:
        self.db = db
        self.sqlite = db.dialect.name == "sqlite"
        pool = db.pool
        if keep is None:
            keep = max(1, pool.size() // 2) if isinstance(pool, QueuePool) else 0
        self.keep = keep
        # The pool's recycle age (PostgreSQL's setting): a kept connection is handed back to the
        # pool once it is that old, so that the pool replaces it as it would its own.
        recycle = getattr(pool, "_recycle", -1)
        self.recycle = float(recycle) if recycle and recycle > 0 else float("inf")
        self._idle: list[RawConnection] = []
        event.listen(db, "engine_disposed", self._on_disposed)

    def begin(self) -> tuple[RawConnection, Any, bool]:
        """A connection with a write transaction begun on it, its driver connection, and whether
        it was kept (not pinged by the pool just now)."""
        try:
            held = self._idle.pop()
        except IndexError:
            proxied, driver = open_raw(self.db)
            return proxied, driver, False
        driver = held.driver_connection
        if self.sqlite:
            try:
                driver.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.release(held)
                raise
        return held, driver, True

    def release(self, held: RawConnection) -> None:
        """Take back a connection whose transaction has ended (kept, or returned to the pool)."""
        if is_broken(held.driver_connection):
            held.discard()
        elif len(self._idle) < self.keep and time.monotonic() - held.checked_out_at < self.recycle:
            self._idle.append(held)
        else:
            held.close()

    def stale(self, held: RawConnection, kept: bool) -> bool:
        """Whether ``held`` failed because it was a kept connection the server had closed: if so,
        it is discarded with every other kept one, and the transaction may run again."""
        if not kept or not is_broken(held.driver_connection):
            return False
        held.discard()
        self.close()
        return True

    def close(self, *, discard: bool = False) -> None:
        """Return every kept connection to the pool (or close them: ``discard``)."""
        while self._idle:
            try:
                held = self._idle.pop()
            except IndexError:
                return
            if discard:
                held.discard()
            else:
                held.close()

    def _on_disposed(self, _db: Any) -> None:
        # The pool they came from is gone: close them rather than hand them back to it.
        self.close(discard=True)
