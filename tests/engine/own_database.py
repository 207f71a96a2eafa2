"""A database of a test's own, beside the suite's, for tests that migrate a database from an old
revision (the suite's own is migrated to the head once and shared): an SQLite file, or a
PostgreSQL database named after the suite's; and a moment as raw statements bind it there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.db import normalise_url


@contextmanager
def postgres_database(url: str, suffix: str) -> Iterator[str]:
    """An empty database named after ``url``'s with ``suffix`` (one a run left behind is dropped
    first): its URL. Dropped on the way out."""
    parsed = make_url(normalise_url(url))
    name = f"{parsed.database}{suffix}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def blank_database(kind: str, folder: Path, suffix: str) -> Iterator[str]:
    """An empty database of the test's own (``kind`` "sqlite": a file in ``folder``;
    "postgres": ``postgres_database`` with ``suffix``; skipped without
    ``SHEBAO_TEST_POSTGRES_URL``): its URL."""
    if kind == "sqlite":
        name = suffix.strip("_")
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    url = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    with postgres_database(url, suffix) as own:
        yield own


def raw_moment(moment: datetime, postgres: bool) -> datetime | str:
    """``moment`` as raw statements bind it: itself on PostgreSQL, naive UTC text on SQLite."""
    return moment if postgres else moment.strftime("%Y-%m-%d %H:%M:%S")
