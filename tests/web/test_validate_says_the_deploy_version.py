"""`shebao definitions validate` says what `shebao definitions deploy` would do with each file: a
changed ``card.yaml`` whose file says ``version: 1`` is stored as v2 when a different v1 is
deployed, and validate says so instead of only "card v1"; an unchanged file is said unchanged.
Without a database (a fresh clone in CI) it checks the files alone, saying only their version,
and creates no database file (QA)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from tests.web.definition_files import definition_service, definition_settings
from web.app import engine_of
from web.cli.main import main


def shebao(db_url: str, definitions: Path, *args: str) -> Result:
    """A ``shebao`` command as another process runs it (its own app: ``start_app``)."""
    env = definition_settings(db_url, definitions)
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def line_of(result: Result, key: str) -> str:
    found = [line for line in result.stdout.splitlines() if f"{key}.yaml" in line]
    assert len(found) == 1, result.output
    return found[0]


def test_validate_says_the_version_deploy_would_store(db_url: str, definitions: Path) -> None:
    engine_of(definition_service(db_url, definitions)).db.dispose()  # deploys v1 of every file
    path = definitions / "card.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")

    checked = shebao(db_url, definitions, "definitions", "validate")
    assert checked.exit_code == 0, checked.output
    card = line_of(checked, "card")
    assert card.startswith(f"ok: {path} (card v1 in the file, ")
    assert "deploy would store version 2 (v1 deployed differs)" in card
    assert "unchanged from deployed v1" in line_of(checked, "person")
    deployed = shebao(db_url, definitions, "definitions", "deploy")
    assert "card v2: deployed" in deployed.stdout  # as validate said
    assert "person v1: unchanged" in deployed.stdout
    again = shebao(db_url, definitions, "definitions", "validate", str(path))
    assert "unchanged from deployed v2" in line_of(again, "card")


def test_validate_on_a_database_with_nothing_deployed(sqlite_url: str, definitions: Path) -> None:
    checked = shebao(sqlite_url, definitions, "definitions", "validate")
    assert checked.exit_code == 0, checked.output
    assert "deploy would store version 1 (none deployed yet)" in line_of(checked, "card")


def test_validate_without_a_database_says_the_file_version_only(
    tmp_path: Path, definitions: Path
) -> None:
    missing = tmp_path / "nowhere" / "shebao.db"
    checked = shebao(f"sqlite:///{missing}", definitions, "definitions", "validate")
    assert checked.exit_code == 0, checked.output
    card = line_of(checked, "card")
    assert card.startswith(f"ok: {definitions / 'card.yaml'} (card v1 in the file, ")
    assert "deploy" not in checked.output
    assert not missing.exists()
    never_migrated = tmp_path / "empty.db"
    never_migrated.touch()
    empty = shebao(f"sqlite:///{never_migrated}", definitions, "definitions", "validate")
    assert empty.exit_code == 0, empty.output
    assert "(card v1 in the file, " in empty.stdout and "deploy" not in empty.output
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    down = shebao(unreachable, definitions, "definitions", "validate")
    assert down.exit_code == 0, down.output
    assert "(card v1 in the file, " in down.stdout and "deploy" not in down.output
