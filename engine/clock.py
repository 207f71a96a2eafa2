"""The clock protocol the engine reads time from, and the clocks that implement it.

Nothing in the engine calls ``datetime.now()`` directly: tests and the demo inject a fixed or simulated
clock and skip time instead of sleeping.

The service's own clock is a ``DatabaseClock``: the system clock plus an offset stored in the
database (table ``wf_setting``), so that every process of one service (web workers, ``shebao
scheduler`` processes on other hosts) reads the same time. With no offset stored it is the system
clock; with one (``shebao clock set``, ``shebao demo``) it is an ``OffsetClock``: simulated time that
keeps running at real speed from the moment it was set.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, delete, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from engine.models import Setting

log = logging.getLogger(__name__)

settings: Table = Setting.__table__  # type: ignore[assignment]
CLOCK_OFFSET = "clock.offset"
"""The ``wf_setting`` key of the service clock's offset."""
DEFAULT_CACHE_SECONDS = 5.0


class Clock(Protocol):
    """Anything that tells the current time as an aware datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    simulated = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that stands still until told to move (tests, the demo, `--now`)."""

    simulated = True

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (forwards or backwards)."""
        if moment.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        """Move the clock forwards by ``delta``."""
        self._now += delta


class OffsetClock:
    """Another clock (the system clock by default) shifted by a fixed ``offset``: simulated time
    that keeps running at real speed."""

    def __init__(self, offset: timedelta, base: Clock | None = None) -> None:
        self.offset = offset
        self.base: Clock = base or SystemClock()

    @classmethod
    def reading(cls, moment: datetime, base: Clock | None = None) -> OffsetClock:
        """The clock that reads ``moment`` (aware) now and runs on from there."""
        if moment.tzinfo is None:
            raise ValueError("OffsetClock needs an aware datetime")
        base = base or SystemClock()
        return cls(moment - base.now(), base)

    @property
    def simulated(self) -> bool:
        return bool(self.offset)

    def now(self) -> datetime:
        return self.base.now() + self.offset


# -- the stored offset -------------------------------------------------------------------------


def read_setting(db: SqlEngine, key: str) -> dict[str, Any] | None:
    """The value stored under ``key`` in ``wf_setting`` (None when there is none)."""
    with db.connect() as conn:
        value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return None if value is None else dict(value)


def write_setting(db: SqlEngine, key: str, value: dict[str, Any] | None, now: datetime) -> None:
    """Store ``value`` under ``key`` (replacing what was there); None deletes the key."""
    with db.begin() as conn:
        conn.execute(delete(settings).where(settings.c.key == key))
        if value is not None:
            conn.execute(insert(settings).values(key=key, value=value, updated_at=now))


def stored_offset(db: SqlEngine) -> timedelta | None:
    """The service clock's offset from the system clock, if one is stored."""
    value = read_setting(db, CLOCK_OFFSET)
    if value is None:
        return None
    return timedelta(seconds=float(value["seconds"]))


class DatabaseClock:
    """The service clock: the ``base`` clock (system time) plus the offset stored in the database.

    Every process reading the same database agrees on the time. The offset is read at most once
    per ``cache_seconds`` (a request does not pay a query each time); ``set`` and ``reset`` in this
    process take effect at once, in other processes within ``cache_seconds``. When the database
    cannot be read, the last offset read stays in use (a scheduler must not fall back to the
    system time for a moment and fire a simulated year's deadlines); when the table does not exist
    yet (a database before its migrations), the clock is the system clock.

    Args:
        db: the service's database.
        cache_seconds: how long an offset read is used before reading it again.
        base: the clock the offset is added to (the system clock).
    """

    def __init__(
        self,
        db: SqlEngine,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        base: Clock | None = None,
    ) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.base: Clock = base or SystemClock()
        self._lock = threading.Lock()
        self._cached: tuple[float, timedelta | None] | None = None  # (read at, offset)

    def now(self) -> datetime:
        return self.base.now() + (self.offset() or timedelta(0))

    def offset(self) -> timedelta | None:
        """The offset in use: None when the service runs on the system clock."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            offset = self._read(cached)
            self._cached = (time.monotonic(), offset)
            return offset

    def _read(self, cached: tuple[float, timedelta | None] | None) -> timedelta | None:
        try:
            return stored_offset(self.db)
        except DBAPIError:
            if cached is not None:
                log.warning("cannot read the service clock's offset; keeping the last one read")
                return cached[1]
            try:
                missing = not inspect(self.db).has_table(settings.name)
            except DBAPIError:
                missing = False
            if missing:
                return None
            raise

    @property
    def simulated(self) -> bool:
        """True when an offset is stored: the service runs on a simulated clock."""
        return self.offset() is not None

    def setting(self) -> dict[str, Any] | None:
        """What is stored: the offset in seconds, the moment it was set to and when (or None)."""
        return read_setting(self.db, CLOCK_OFFSET)

    def set(self, moment: datetime) -> timedelta:
        """Make the service clock read ``moment`` (aware) now and run on from there; returns the
        offset stored."""
        if moment.tzinfo is None:
            raise ValueError("the service clock needs an aware datetime")
        system = self.base.now()
        offset = moment - system
        value = {
            "seconds": offset.total_seconds(),
            "set_to": moment.isoformat(),
            "set_at": system.isoformat(),
        }
        write_setting(self.db, CLOCK_OFFSET, value, system)
        self._cached = (time.monotonic(), offset)
        return offset

    def reset(self) -> None:
        """Back to the system clock: the stored offset is removed."""
        write_setting(self.db, CLOCK_OFFSET, None, self.base.now())
        self._cached = (time.monotonic(), None)

    def refresh(self) -> None:
        """Read the offset again at the next ``now()`` (another process may have changed it)."""
        self._cached = None


def is_simulated(clock: Clock) -> bool:
    """Whether ``clock`` tells simulated time (a clock without the attribute is taken as real)."""
    return bool(getattr(clock, "simulated", False))
