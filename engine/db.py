"""Database connections: the SQLite default (WAL, one writer at a time) and PostgreSQL (psycopg 3).

Writes go through ``writer(engine)``: on SQLite it begins with ``BEGIN IMMEDIATE`` so a transaction
that reads then writes holds the single write lock from its first statement; reads use plain
deferred transactions and never block the writer (WAL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

WRITE_OPTION = "shebao_write"


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def normalise_url(url: str) -> str:
    """Let users write ``postgresql://``; we speak psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the SQLAlchemy engine for ``url`` with the settings the service relies on."""
    url = normalise_url(url)
    parsed = make_url(url)
    # Every transaction ends explicitly (the engine commits or rolls back its raw connections,
    # SQLAlchemy's Connection rolls back on close): the pool's extra rollback on return is waste.
    kwargs.setdefault("pool_reset_on_return", None)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        db = create_engine(url, **kwargs)
        _configure_sqlite(db)
        return db
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(db: Engine) -> None:
    @event.listens_for(db, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite; we emit BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
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
