"""A receiver of notices for the outbox's tests and benchmark: idempotent by notice id, and flaky.

``flaky(PATH)`` is a channel (``SHEBAO_NOTICE_CHANNEL=python:benchmarks.notice_receiver:flaky:PATH``)
that hands each notice to a receiver keeping the ids it has taken in a table (SQLite at ``PATH``,
shared by every worker process): the first time an id arrives it is *accepted*, any later time it
is a *duplicate* and dropped, as a real receiver deduplicating by ``Idempotency-Key`` would. It
fails 30% of the calls: half before the receiver sees the notice (the gateway is down), half after
it took it (the answer is lost, so the worker sends it again). ``steady(PATH)`` never fails.
``Tally(PATH)`` reads what the receiver saw.
"""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from engine.outbox import OutboxNotice

FAIL_RATE = 0.3

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS accepted (id INTEGER PRIMARY KEY, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS duplicate (id INTEGER NOT NULL, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS failure (id INTEGER NOT NULL, taken INTEGER NOT NULL)",
)


class ReceiverDown(Exception):
    """The receiver did not answer (before or after it took the notice)."""


SETUP_DEADLINE_S = 60


def _connect(path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=SETUP_DEADLINE_S, isolation_level=None)


def _set_up(conn: sqlite3.Connection) -> None:
    """WAL and the tables, written once by whichever receiver comes first. Two connections that
    both upgrade a read lock to a write lock on a new file deadlock, and SQLite answers one of
    them "database is locked" at once, without waiting: the setup is retried until it holds."""
    deadline = time.monotonic() + SETUP_DEADLINE_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
            conn.execute("PRAGMA synchronous=NORMAL")
            return
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Receiver:
    """The channel: deduplicates by notice id in a table, fails ``fail_rate`` of the calls."""

    def __init__(self, path: str | Path, fail_rate: float = FAIL_RATE) -> None:
        self.conn = _connect(path)
        _set_up(self.conn)
        self.fail_rate = fail_rate
        self.random = random.Random()  # noqa: S311 - failures to inject, not secrets

    def send(self, notice: OutboxNotice) -> None:
        roll = self.random.random()
        if roll < self.fail_rate / 2:
            self.conn.execute("INSERT INTO failure VALUES (?, 0)", (notice.id,))
            raise ReceiverDown("the gateway did not answer")
        self.take(notice.id)
        if roll < self.fail_rate:
            self.conn.execute("INSERT INTO failure VALUES (?, 1)", (notice.id,))
            raise ReceiverDown("the gateway took it, but its answer was lost")

    def take(self, notice_id: int) -> bool:
        """Accept a notice id once; a duplicate is recorded and dropped. True when accepted."""
        now = time.time()
        taken = self.conn.execute("INSERT OR IGNORE INTO accepted VALUES (?, ?)", (notice_id, now))
        if taken.rowcount == 1:
            return True
        self.conn.execute("INSERT INTO duplicate VALUES (?, ?)", (notice_id, now))
        return False


def flaky(path: str) -> Receiver:
    """The channel of the outbox's acceptance test: fails 30% of the calls."""
    return Receiver(path, FAIL_RATE)


def steady(path: str) -> Receiver:
    """The same receiver, never failing (the benchmark's)."""
    return Receiver(path, 0.0)


def _has_tables(conn: sqlite3.Connection) -> bool:
    query = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
    return int(conn.execute(query).fetchone()[0]) >= len(_SCHEMA)


@dataclass(frozen=True)
class Tally:
    """What a receiver saw."""

    accepted: int
    distinct: int
    duplicates: int
    failed_before: int
    failed_after: int

    @classmethod
    def read(cls, path: str | Path) -> Tally:
        if not Path(path).exists():
            return cls(0, 0, 0, 0, 0)
        conn = _connect(path)  # reads only: a reader never takes part in the setup's race
        try:
            if not _has_tables(conn):
                return cls(0, 0, 0, 0, 0)

            def one(sql: str) -> int:
                return int(conn.execute(sql).fetchone()[0])

            return cls(
                accepted=one("SELECT count(*) FROM accepted"),
                distinct=one("SELECT count(DISTINCT id) FROM accepted"),
                duplicates=one("SELECT count(*) FROM duplicate"),
                failed_before=one("SELECT count(*) FROM failure WHERE taken = 0"),
                failed_after=one("SELECT count(*) FROM failure WHERE taken = 1"),
            )
        finally:
            conn.close()

    @staticmethod
    def accepted_ids(path: str | Path) -> list[int]:
        conn = _connect(path)
        try:
            return [int(i) for (i,) in conn.execute("SELECT id FROM accepted ORDER BY id")]
        finally:
            conn.close()


__all__ = ["FAIL_RATE", "Receiver", "ReceiverDown", "Tally", "flaky", "steady"]
