"""Runs the Alembic migrations under ``migrations/`` against a database URL, and tells whether a
database is at their head (the readiness check)."""

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
