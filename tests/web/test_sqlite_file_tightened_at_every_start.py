"""Every door that creates the SQLite database owner-only (0600) also tightens one made readable to
others before (an earlier release, a copy): ``shebao demo`` and the WSGI app as ``shebao run``
and ``shebao db upgrade`` do, the ``-wal`` and ``-shm`` files too (QA)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.web.file_modes import mode, usual_umask  # noqa: F401 (autouse fixture)
from web.cli.main import main
from web.config import PROJECT_ROOT

PROBE = """
import os, stat, sys
import web.wsgi
from web.extensions import engine_of
from sqlalchemy import text
with engine_of(web.wsgi.app).db.connect() as conn:  # WAL: -wal and -shm while it is open
    conn.execute(text("SELECT 1")).all()
    for name in sys.argv[1:]:
        if os.path.exists(name):
            print(name, oct(stat.S_IMODE(os.stat(name).st_mode)))
"""


def readable_by_others(sqlite_url: str) -> Path:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    path.chmod(0o644)
    return path


def test_the_demo_tightens_a_database_others_can_read(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = readable_by_others(sqlite_url)
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(main, ["demo", "--yes", "--people", "6"])
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    for other in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert not other.exists() or mode(other) == 0o600
    said = [r.getMessage() for r in caplog.records if "now owner-only (0600)" in r.getMessage()]
    assert len(said) == 1 and str(path) in said[0]


def test_the_wsgi_app_tightens_a_database_others_can_read(sqlite_url: str) -> None:
    path = readable_by_others(sqlite_url)
    files = [str(path), f"{path}-wal", f"{path}-shm"]
    env = {**os.environ, "SHEBAO_DATABASE_URL": sqlite_url, "SHEBAO_SECRET_KEY": "k" * 64}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *files],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modes = dict(line.split() for line in done.stdout.splitlines())
    assert modes[str(path)] == "0o600", done.stdout
    assert set(modes.values()) == {"0o600"}, done.stdout
    assert "now owner-only (0600)" in done.stderr and str(path) in done.stderr
    assert mode(path) == 0o600
