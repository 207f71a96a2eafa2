"""The SQLite database holds the whole register (full ID numbers): a fresh start creates it
readable by its owner only (0600), its ``-wal`` and ``-shm`` too, whatever the umask lets
through; ``shebao db upgrade`` (and ``shebao run``) tighten a file made before, saying so in one
log line (QA A-11)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.web.file_modes import mode, usual_umask  # noqa: F401 (autouse fixture)
from web.app import create_app, engine_of
from web.cli.main import main


def test_db_upgrade_creates_the_database_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "instance" / "shebao.db"
    monkeypatch.setenv("SHEBAO_DATABASE_URL", f"sqlite:///{path}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600


def test_a_fresh_service_start_creates_the_database_and_its_wal_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "shebao.db"
    app = create_app({"SHEBAO_DATABASE_URL": f"sqlite:///{path}", "TESTING": True})
    db = engine_of(app).db
    try:
        with db.begin() as conn:  # WAL: the -wal and -shm files exist while a connection is open
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
        with db.connect() as conn:
            conn.execute(text("SELECT x FROM probe")).all()
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        db.dispose()


def test_db_upgrade_tightens_a_database_others_can_read(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    path.chmod(0o644)
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    with caplog.at_level(logging.WARNING, logger="web.cli.main"):
        result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    said = [r.getMessage() for r in caplog.records if r.name == "web.cli.main"]
    assert len(said) == 1 and "now owner-only (0600)" in said[0] and str(path) in said[0]
    again = CliRunner().invoke(main, ["db", "upgrade"])  # nothing more to say
    assert again.exit_code == 0 and mode(path) == 0o600
