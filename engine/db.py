"""Database connections: the SQLite default (WAL, one writer at a time) and PostgreSQL (psycopg 3).

Writes go through ``writer(engine)``: on SQLite it begins with ``BEGIN IMMEDIATE`` so a transaction
that reads then writes holds the single write lock from its first statement; reads use plain
deferred transactions and never block the writer (WAL).

Faults: every PostgreSQL connection is made with a connect timeout, TCP keepalives and the session
limits of ``ConnectionSettings`` (statement, lock and idle-in-transaction timeouts), so a stalled
server or a forgotten transaction cannot hold a request forever; the pool pings a connection before
handing it out, replaces old ones, and discards one the driver reports broken instead of taking it
back, so a restarted database is picked up without restarting the service. ``is_unavailable``
tells the errors that mean "the database cannot serve now, try again" from the others.

An SQLite file holds the whole register (full ID numbers): ``make_engine`` creates it owner-only
(0600; SQLite gives its ``-wal`` and ``-shm`` files the database file's mode), and
``make_owner_only`` tightens one made before. A command that only works on an existing database
opens it with ``create=False``: a mistyped path is an error, not a new empty file.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

WRITE_OPTION = "shebao_write"


@dataclass(frozen=True)
class ConnectionSettings:
    """Timeouts and keepalives of the service's database connections.

    PostgreSQL gets all but ``busy_timeout_ms``; SQLite gets only ``busy_timeout_ms`` (how long a
    writer waits for the write lock before "database is locked"). A timeout of 0 leaves the
    server's own setting (PostgreSQL: none, unless the role or database sets one).

    Attributes:
        connect_timeout_s: seconds to wait for a new connection (libpq ``connect_timeout``).
        statement_timeout_ms: the server cancels a statement that runs longer.
        lock_timeout_ms: the server cancels a statement that waits longer for a lock.
        idle_in_transaction_timeout_ms: the server ends a session that sits idle inside an open
            transaction for longer (its locks are released).
        keepalives_idle_s, keepalives_interval_s, keepalives_count: TCP keepalives; a server
            that vanished without closing the connection is noticed after about
            idle + interval * count seconds, which also bounds unacknowledged writes
            (``tcp_user_timeout``).
        pool_recycle_s: a pooled connection older than this is replaced when next checked out.
        busy_timeout_ms: SQLite's busy timeout.
    """

    connect_timeout_s: int = 5
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 10_000
    idle_in_transaction_timeout_ms: int = 60_000
    keepalives_idle_s: int = 10
    keepalives_interval_s: int = 5
    keepalives_count: int = 3
    pool_recycle_s: int = 1800
    busy_timeout_ms: int = 30_000

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.connect_timeout_s < 1:
            raise ValueError("connect_timeout_s must be at least 1")

    def server_options(self) -> str:
        """The session settings, as libpq's ``options`` (``-c name=value ...``)."""
        limits = {
            "statement_timeout": self.statement_timeout_ms,
            "lock_timeout": self.lock_timeout_ms,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_timeout_ms,
        }
        return " ".join(f"-c {name}={ms}" for name, ms in limits.items() if ms)

    def connect_args(self) -> dict[str, Any]:
        """psycopg's connection parameters: the connect timeout, keepalives, session limits."""
        args: dict[str, Any] = {
            "connect_timeout": self.connect_timeout_s,
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle_s,
            "keepalives_interval": self.keepalives_interval_s,
            "keepalives_count": self.keepalives_count,
            "tcp_user_timeout": 1000
            * (self.keepalives_idle_s + self.keepalives_interval_s * self.keepalives_count),
        }
        options = self.server_options()
        if options:
            args["options"] = options
        return args


TOOL_SETTINGS = ConnectionSettings(
    statement_timeout_ms=0, lock_timeout_ms=0, idle_in_transaction_timeout_ms=0
)
"""``make_engine``'s default: connect timeout and keepalives, but no statement, lock or idle
limits (migrations and tools may run long statements); the service passes its own settings."""


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def normalise_url(url: str) -> str:
    """Let users write ``postgresql://``; we speak psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(
    url: str,
    settings: ConnectionSettings | None = None,
    *,
    read_only: bool = False,
    create: bool = True,
    **kwargs: Any,
) -> Engine:
    """Create the SQLAlchemy engine for ``url`` with the settings the service relies on.

    Args:
        url: the database URL (``sqlite:///...``, ``postgresql://...``).
        settings: timeouts and keepalives (``TOOL_SETTINGS`` when not given). Parameters written
            in the URL's query (``?connect_timeout=10``) win over them; ``options`` there are
            kept and the session limits appended.
        read_only: every transaction is read-only (a replica's reads): PostgreSQL's
            ``default_transaction_read_only``, SQLite's ``query_only``; the SQLite file's journal
            mode is left as it is and no folder is made for it. A write through it fails.
        create: an SQLite file that does not exist is created, owner-only (0600), with its
            folder; False: neither is, and connecting fails as the database unavailable
            (SQLite's "unable to open database file") until something creates it.
        kwargs: passed on to ``sqlalchemy.create_engine``.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    settings = settings or TOOL_SETTINGS
    # Every transaction ends explicitly (the engine commits or rolls back its raw connections,
    # SQLAlchemy's Connection rolls back on close): the pool's extra rollback on return is waste.
    kwargs.setdefault("pool_reset_on_return", None)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and not path.exists():
            if create and not read_only:
                _create_owner_only(path)
            elif not create:  # SQLite would create it: open it read-write only, as a URI
                url = parsed.set(
                    database=f"file:{quote(str(path))}", query={"mode": "rw", "uri": "true"}
                ).render_as_string(hide_password=False)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", settings.busy_timeout_ms / 1000)
        db = create_engine(url, **kwargs)
        _configure_sqlite(db, settings.busy_timeout_ms, read_only)
        return db
    connect_args = kwargs.setdefault("connect_args", {})
    for name, value in settings.connect_args().items():
        if name == "options" and "options" in parsed.query:
            value = f"{parsed.query['options']} {value}"
        elif name in parsed.query:
            continue
        connect_args.setdefault(name, value)
    if read_only:
        given = connect_args.get("options", parsed.query.get("options", ""))
        connect_args["options"] = f"{given} -c default_transaction_read_only=on".strip()
    kwargs.setdefault("pool_pre_ping", True)  # a connection the server dropped is replaced
    kwargs.setdefault("pool_recycle", settings.pool_recycle_s)
    db = create_engine(url, **kwargs)
    event.listen(db.pool, "checkin", _discard_broken)
    return db


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite ``url``; None for another database, an in-memory one, or a URL that
    is already an SQLite URI (``?uri=true``), or text that is no URL."""
    try:
        parsed = make_url(normalise_url(url))
    except sa_exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or "uri" in parsed.query:
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_owner_only(path: Path) -> None:
    """An empty file (SQLite's empty database) readable and writable by its owner only, and its
    folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        pass  # another process made it first; or a folder we may not write: SQLite says so


def make_owner_only(url: str) -> list[Path]:
    """Take the group's and others' access away from an SQLite database file and its ``-wal``
    and ``-shm`` files (one made before ``make_engine`` created them 0600, or copied in); the
    files changed. Nothing for another database."""
    path = sqlite_file(url)
    if path is None:
        return []
    changed = []
    for found in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = found.stat().st_mode & 0o777
            if mode & 0o077:
                found.chmod(mode & 0o700)
                changed.append(found)
        except OSError:  # no such file; or not ours to change
            continue
    return changed


def is_broken(dbapi_connection: Any) -> bool:
    """Whether the driver reports ``dbapi_connection`` closed or its session lost (psycopg's
    ``closed`` and ``broken``; an SQLite connection never breaks this way)."""
    return bool(
        getattr(dbapi_connection, "broken", False) or getattr(dbapi_connection, "closed", False)
    )


def _discard_broken(dbapi_connection: Any, record: Any) -> None:
    """A broken connection coming back to the pool is closed and forgotten, never handed out
    again (the pool opens a new one in its place when needed)."""
    if dbapi_connection is not None and is_broken(dbapi_connection):
        record.invalidate()


def _configure_sqlite(db: Engine, busy_timeout_ms: int, read_only: bool = False) -> None:
    @event.listens_for(db, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite; we emit BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        else:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(db, "begin")
    def on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(db: Engine) -> Engine:
    """The same engine, marked so that SQLite transactions take the write lock at BEGIN."""
    return db.execution_options(**{WRITE_OPTION: True})


def is_sqlite(db: Engine) -> bool:
    return db.dialect.name == "sqlite"


# -- faults --------------------------------------------------------------------------------------

# SQLite's primary result codes that mean "the database file cannot serve now" (busy after the busy
# timeout, cannot be opened, I/O failure, full, read-only), not "this SQL is wrong".
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
)
_SQLITE_MESSAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
    "readonly database",
)
# psycopg's InternalError for the server ending an idle-in-transaction session (SQLSTATE 25P03).
_PG_UNAVAILABLE_STATES = {"25P03"}


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve now, so that trying again later may work.

    True for: a connection that cannot be made or was lost (PostgreSQL down, restarting, shutting
    down, a dropped session), a statement cancelled by the statement or lock timeout, the pool
    having no connection to give in time, and SQLite's "database is locked" after the busy timeout
    or a database file that cannot be opened or read. Both the driver's own exceptions (the
    engine's raw connections) and SQLAlchemy's wrappers of them count. An error in the SQL or the
    data (a constraint, a missing table) does not.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True  # the pool had no connection to give within its timeout
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or (
            exc.orig is not None and exc.orig is not exc and is_unavailable(exc.orig)
        )
    if isinstance(exc, psycopg.Error):
        return isinstance(exc, psycopg.OperationalError) or exc.sqlstate in _PG_UNAVAILABLE_STATES
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None)
        if name:
            return name.startswith(_SQLITE_UNAVAILABLE)
        message = str(exc).lower()
        return any(m in message for m in _SQLITE_MESSAGES)
    return False
