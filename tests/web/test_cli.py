"""The ``shebao`` command line: help, migrations, definition validation, stats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from web.cli.main import main

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
    for process in ("card v1", "card_review v1", "enrollment v1", "person v1"):
        assert process in result.output, process


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
    card_of = {"bank": "icbc", "region": "foshan", "region_code": "440604"}
    for person in people:
        engine.start(
            "card",
            business_key=person,
            variables={"id_number": person, "channel": "online", **card_of},
        )
    card = engine.start(
        "card", variables={"id_number": people[0], "channel": "fast_issuance", **card_of}
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
    """The tax authority's file: its rows go through the same guards as its API calls (the
    period, the amount due), its ``paid_at`` says when it deducted, and a file with a rejected
    row exits 1 so the calling script notices."""
    from datetime import date

    from web.app import create_app
    from web.extensions import domain_of, engine_of
    from workflows.identity import make_id_number
    from workflows.payments import open_renewals

    app = create_app({"SHEBAO_DATABASE_URL": sqlite_url})
    engine, domain = engine_of(app), domain_of(app)
    policy = domain.regions.policy("huian-2023")
    assert policy is not None
    people = [make_id_number("350521", date(1970, 1, 1 + i), 1 + i) for i in range(4)]
    opened = open_renewals(engine, policy, [{"id_number": p, "region": "huian"} for p in people])
    assert opened == 4
    path = tmp_path / "d.csv"
    during = "2022-10-15T10:00:00+08:00"  # within huian-2023's payment period
    path.write_text(
        "id_number,policy_year,amount,result,reason,paid_at\n"
        + "".join(f"{p},2023,360,success,,{during}\n" for p in people[:3])
        + f"{people[3]},2023,300,success,,{during}\n"  # not the 360 due
        + "12345,2023,360,success,,\n",
        encoding="utf-8",
    )
    first = runner.invoke(main, ["import", "deductions", str(path), "--policy", "huian-2023"])
    assert first.exit_code == 1, first.output
    assert "applied: 3  unchanged: 0  rejected: 2" in first.output
    assert (
        "line 5: 应缴金额为 360.00 元，收到 300.00 元 / the amount due is 360.00 yuan, got 300.00"
        in first.output
    )
    assert "line 6: id_number 列：" in first.output and " / id_number: " in first.output
    # the first release's command name still works, and a second import changes nothing
    again = runner.invoke(main, ["import-deductions", str(path), "--policy", "huian-2023"])
    assert again.exit_code == 1, again.output
    assert "applied: 0  unchanged: 3  rejected: 2" in again.output
    counts = json.loads(runner.invoke(main, ["stats", "enrollment", "--json"]).output)["states"]
    assert (counts["deducted"], counts["renewal_pending"]) == (3, 1)
    clean = tmp_path / "clean.csv"
    clean.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert (
        runner.invoke(
            main, ["import", "deductions", str(clean), "--policy", "huian-2023"]
        ).exit_code
        == 0
    )
    unknown = runner.invoke(main, ["import", "deductions", str(path), "--policy", "atlantis-2023"])
    assert unknown.exit_code == 2 and "unknown policy" in unknown.output
    engine.db.dispose()
