"""Runs the Alembic migrations under ``migrations/`` against a database URL, and tells whether a
database is at their head (the readiness check, and ``schema_fault``: why a query failed on a
database that was never migrated or is behind)."""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from engine.db import normalise_url
from web.config import PROJECT_ROOT

VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


@cache
def head_revisions() -> frozenset[str]:
    """The head revision(s) of ``migrations/``: what a current database is at (read once: the
    migrations this process's code expects do not change while it runs)."""
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def database_revisions(db: Engine) -> frozenset[str]:
    """The revision(s) the database's ``alembic_version`` holds (none for a database never
    migrated). Read with plain SQL: Alembic's migration context logs two lines each time, and
    a readiness probe asks every few seconds."""
    with db.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return frozenset()
        found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        return frozenset(str(revision) for revision in found)


UPGRADE = "请运行 / run `shebao db upgrade`"


def schema_fault(db: Engine) -> str | None:
    """In words, why a query failed if the schema is the cause: the database has none (a new or
    a mistyped SQLite file, an empty PostgreSQL database) or it is not at the head; None when
    it is at the head or cannot be asked (then the query's own error stands). In Chinese, then
    English, as the commands' other one-line faults."""
    try:
        found = database_revisions(db)
    except Exception:  # a database that cannot be asked now: the failure is not the schema's
        return None
    if not found:
        return f"数据库尚无表结构 / the database has no schema: {UPGRADE}"
    heads = head_revisions()
    if found != heads:
        at, head = ",".join(sorted(found)), ",".join(sorted(heads))
        return (
            f"数据库表结构的版本是 {at}，不是最新的 {head} / the database schema is at {at}, "
            f"not at {head}: {UPGRADE}"
        )
    return None
