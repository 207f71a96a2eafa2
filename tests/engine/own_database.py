"""A PostgreSQL database of a test's own, beside the suite's, for tests that migrate a database
from an old revision (the suite's own is migrated to the head once and shared)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
