"""Fixtures of the engine's tests that more than one module uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from engine.db import make_engine


@pytest.fixture
def outbox_db(db_url: str) -> Iterator[tuple[str, SqlEngine]]:
    """This test's database (its URL and an engine on it) with no notice and no incident."""
    db = make_engine(db_url)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM wf_notice"))
        conn.execute(text("DELETE FROM wf_incident"))
    yield db_url, db
    db.dispose()
