"""A pooled DBAPI connection checked out for one transaction: ``open_raw`` and ``RawConnection``."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine

from engine.db import is_broken


class RawConnection:
    """A pooled DBAPI connection checked out for one transaction (``open_raw``).

    ``commit``, ``rollback`` and ``close`` are the pool's, except for a connection the driver
    reports broken (the server went away, ended the session, or a timeout closed it): rolling it
    back does not raise over the error that broke it (the server ended its transaction with the
    session: nothing of it was committed), and it is discarded rather than returned to the pool.
    """

    __slots__ = ("proxied", "driver_connection", "_discarded", "checked_out_at")

    def __init__(self, proxied: Any) -> None:
        self.proxied = proxied
        self.driver_connection: Any = proxied.driver_connection
        self._discarded = False
        self.checked_out_at = time.monotonic()

    def commit(self) -> None:
        self.proxied.commit()

    def rollback(self) -> None:
        try:
            self.proxied.rollback()
        except Exception:
            if not is_broken(self.driver_connection):
                raise
            self.discard()

    def discard(self) -> None:
        """Close the connection and drop it from the pool (which opens a new one when needed)."""
        if not self._discarded:
            self._discarded = True
            self.proxied.invalidate()  # closes it and gives its place in the pool back

    def close(self) -> None:
        """Return the connection to the pool, or discard it if it is broken."""
        if is_broken(self.driver_connection):
            self.discard()
        elif not self._discarded:
            self.proxied.close()


def open_raw(db: Engine) -> tuple[RawConnection, Any]:
    """Check a connection out of the pool and begin a write transaction on it.

    Returns the checked-out connection (``commit``, ``rollback``, ``close``) and the driver's.
    Errors propagate as the driver raises them (``OperationalError`` when the database cannot be
    reached or the transaction cannot begin, e.g. SQLite's "database is locked" after the busy
    timeout); a connection that cannot begin goes back to the pool, or away if it is broken.
    """
    proxied = RawConnection(db.raw_connection())
    driver = proxied.driver_connection
    if db.dialect.name == "sqlite":
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            proxied.close()
            raise
    return proxied, driver
