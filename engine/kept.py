"""Pooled connections kept checked out between uses: the one keeper behind the engine's write
transactions (``engine.writers``) and the API's one-statement reads (``web.reads``).

Checking a connection out of SQLAlchemy's pool and back costs more than a whole firing's Python
work on SQLite, and on PostgreSQL the pool's pre-ping adds a round trip to every use. A keeper
holds up to ``keep`` idle connections (never inside a transaction) and hands out the last one
returned, the one most likely to be warm. A connection is given back to the pool once it is as
old as the pool's recycle age, so that the pool replaces it as it would its own.

A kept connection skips the pool's pre-ping, so it may have been closed by the server while it
waited (a restart, an administrator ending the session). ``stale`` tells its user that a failure
came from such a connection: it is discarded with every other kept one (whatever ended one has
likely ended them all), and the work may run again on a fresh, pinged connection from the pool.
``Engine.dispose()`` on the SQLAlchemy engine closes the kept connections too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

from engine.db import is_broken
from engine.raw_connection import RawConnection


def recycle_age(db: Engine) -> float:
    """The pool's recycle age in seconds (infinite when it recycles nothing)."""
    recycle = getattr(db.pool, "_recycle", -1)
    return float(recycle) if recycle and recycle > 0 else float("inf")


class Keeper:
    """Up to ``keep`` idle connections, opened by ``open_fresh`` and returned to the pool by
    ``hand_back`` (which may reset what the user changed, e.g. autocommit)."""

    def __init__(
        self,
        db: Engine,
        keep: int,
        open_fresh: Callable[[], RawConnection],
        hand_back: Callable[[RawConnection], None] = RawConnection.close,
    ) -> None:
        self.keep = keep
        self.recycle = recycle_age(db)
        self._open_fresh = open_fresh
        self._hand_back = hand_back
        self._idle: list[RawConnection] = []
        event.listen(db, "engine_disposed", self._on_disposed)

    def take(self) -> tuple[RawConnection, bool]:
        """A connection, and whether it was kept (not pinged by the pool just now)."""
        try:
            return self._idle.pop(), True
        except IndexError:
            return self._open_fresh(), False

    def give_back(self, held: RawConnection) -> None:
        """Take back a connection whose use has ended: kept, returned to the pool, or (broken)
        discarded."""
        if is_broken(held.driver_connection):
            held.discard()
        elif len(self._idle) < self.keep and time.monotonic() - held.checked_out_at < self.recycle:
            self._idle.append(held)
        else:
            self._hand_back(held)

    def stale(self, held: RawConnection, kept: bool) -> bool:
        """Whether ``held`` failed because it was a kept connection the server had closed: if so,
        it is discarded with every other kept one, and the work may run again."""
        if not kept or not is_broken(held.driver_connection):
            return False
        held.discard()
        self.close(discard=True)
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
                self._hand_back(held)

    def _on_disposed(self, _db: Any) -> None:
        # The pool they came from is gone: close them rather than hand them back to it.
        self.close(discard=True)
