"""The ``shebao`` command line: help, migrations, definition validation, stats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from web.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    return CliRunner()


def test_console_script_lists_the_commands() -> None:
    shebao = Path(sys.executable).with_name("shebao")
    result = subprocess.run([str(shebao), "--help"], capture_output=True, text=True, check=True)
    for command in ("db", "definitions", "stats", "run"):
        assert f"  {command} " in result.stdout, result.stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    monkeypatch.setenv("SHEBAO_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    import sqlite3

    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "new.db").execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {"wf_instance", "wf_history", "wf_task", "wf_timer", "wf_idempotency_key"} <= tables


def test_validate_passes_on_the_shipped_definitions(runner: CliRunner) -> None:
    result = runner.invoke(main, ["definitions", "validate"])
    assert result.exit_code == 0, result.output
    assert "card v1" in result.output and "enrollment v1" in result.output


def test_validate_fails_on_an_event_to_a_missing_state(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "card-broken.yaml"
    shutil.copy(ROOT / "definitions" / "card.yaml", broken)
    text = broken.read_text(encoding="utf-8")
    broken.write_text(text.replace("    to: produced\n", "    to: shredded\n", 1), encoding="utf-8")
    result = runner.invoke(main, ["definitions", "validate", str(broken)])
    assert result.exit_code == 1
    assert "shredded" in result.output and str(broken) in result.output


def test_stats_counts_instances_per_state(runner: CliRunner, sqlite_url: str) -> None:
    from web.app import create_app, engine_of

    engine = engine_of(create_app({"SHEBAO_DATABASE_URL": sqlite_url}))
    people = ["11010519491231002X", "440524188001010014"]
    for person in people:
        engine.start(
            "card",
            business_key=person,
            variables={"id_number": person, "bank": "icbc", "channel": "online"},
        )
    card = engine.start(
        "card", variables={"id_number": people[0], "bank": "icbc", "channel": "fast_issuance"}
    )
    engine.fire(card.instance_id, "issue_on_the_spot")
    result = runner.invoke(main, ["stats", "card", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["states"]["applied"] == 2 and figures["states"]["active"] == 1
    assert figures["states"]["lost"] == 0 and figures["total"] == 3


def test_import_deductions_reports_applied_unchanged_and_rejected(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    from datetime import date

    from web.app import create_app, engine_of
    from workflows.identity import make_id_number
    from workflows.payments import Person, open_renewals
    from workflows.policy import load_policies

    engine = engine_of(create_app({"SHEBAO_DATABASE_URL": sqlite_url}))
    policy = load_policies(ROOT / "definitions" / "policies")["huian-2023"]
    people = [make_id_number("350521", date(1970, 1, 1 + i), 1 + i) for i in range(3)]
    open_renewals(engine, policy, [Person(p, "huian") for p in people])
    path = tmp_path / "d.csv"
    path.write_text(
        "id_number,policy_year,amount,result,reason\n"
        + "".join(f"{p},2023,360,success,\n" for p in people)
        + "12345,2023,360,success,\n",
        encoding="utf-8",
    )
    first = runner.invoke(main, ["import-deductions", str(path), "--policy", "huian-2023"])
    assert first.exit_code == 0, first.output
    assert "applied: 3  unchanged: 0  rejected: 1" in first.output
    assert "line 5:" in first.output
    again = runner.invoke(main, ["import-deductions", str(path), "--policy", "huian-2023"])
    assert "applied: 0  unchanged: 3  rejected: 1" in again.output
    unknown = runner.invoke(main, ["import-deductions", str(path), "--policy", "atlantis-2023"])
    assert unknown.exit_code == 2 and "unknown policy" in unknown.output
