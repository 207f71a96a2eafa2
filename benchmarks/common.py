"""What the benchmarks share: fresh databases, valid ID numbers, the result line."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
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
