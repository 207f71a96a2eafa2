"""The file modes the SQLite tests read: a database file's permission bits, and the umask most
hosts have (022), under which files are made group- and world-readable by default."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most hosts have (022) for the test (autouse where a test module imports it)."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
