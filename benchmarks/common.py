"""What the benchmarks share: fresh databases, valid ID numbers, the result line."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from engine.db import normalise_url
from web.config import PROJECT_ROOT
from web.migrate import upgrade_database
from workflows.identity import check_character

DEFINITIONS = PROJECT_ROOT / "definitions"
POLICIES = DEFINITIONS / "policies"


def id_number(i: int) -> str:
    """A valid, distinct resident ID number for person ``i``."""
    first17 = f"440604199001{(i // 1000) % 28 + 1:02d}{i % 1000:03d}"
    return first17 + check_character(first17)


@contextmanager
def fresh_sqlite(name: str) -> Iterator[str]:
    """A migrated SQLite file in a temporary folder; gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="shebao-bench-") as folder:
        url = f"sqlite:///{Path(folder) / name}"
        upgrade_database(url)
        yield url


def reset_postgres(url: str) -> str:
    """Empty the PostgreSQL database at ``url`` and migrate it; returns the normalised URL."""
    url = normalise_url(url)
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()
    upgrade_database(url)
    return url


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last line: one JSON object with a ``ratio`` field."""
    print(json.dumps(result, ensure_ascii=False))


def engine_and_floor(
    postgres: str | None,
    run_engine: Callable[[str], tuple[float, Any]],
    run_floor: Callable[[str], float],
) -> tuple[float, Any, float, str]:
    """Run the engine and the floor, each on a fresh migrated database: PostgreSQL at
    ``postgres`` (emptied before each), else a temporary SQLite file each. Returns the engine's
    seconds and result, the floor's seconds, and the database's name for the result line."""
    if postgres:
        engine_s, outcome = run_engine(reset_postgres(postgres))
        return engine_s, outcome, run_floor(reset_postgres(postgres)), "postgresql"
    with fresh_sqlite("engine.db") as url:
        engine_s, outcome = run_engine(url)
    with fresh_sqlite("floor.db") as url:
        floor_s = run_floor(url)
    return engine_s, outcome, floor_s, "sqlite-wal-normal"
