"""Shared fixtures: a migrated database per test, on SQLite and (marked ``postgres``) PostgreSQL.

The PostgreSQL URL comes from ``SHEBAO_TEST_POSTGRES_URL``; without it those tests skip, except in
CI (``CI=true``), where a missing URL is an error rather than a silent skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.db import normalise_url
from web.migrate import upgrade_database

POSTGRES_URL = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
BENCH_FIGURES: list[str] = []


@pytest.fixture
def bench_report() -> Callable[[str, str], None]:
    """``bench_report(name, line)``: a benchmark's figures, printed at the end of the run."""

    def report(name: str, line: str) -> None:
        BENCH_FIGURES.append(f"{name}: {line}")

    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BENCH_FIGURES:
        terminalreporter.section("benchmark figures")
        for line in BENCH_FIGURES:
            terminalreporter.write_line(line)


def _all_tables() -> list[str]:
    from engine.models import Base
    from web.models import WebBase

    return [t.name for m in (Base.metadata, WebBase.metadata) for t in m.sorted_tables]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    if not POSTGRES_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but SHEBAO_TEST_POSTGRES_URL is not set")
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    url = normalise_url(POSTGRES_URL)
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()
    upgrade_database(url)
    return url


def _truncate(url: str) -> None:
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_all_tables())} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the test PostgreSQL truncated."""
    if request.param == "sqlite":
        path = tmp_path / "shebao.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_migrated")
        _truncate(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database only (for tests that need no PostgreSQL variant)."""
    path = tmp_path / "shebao.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"
