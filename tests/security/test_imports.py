"""Imports from outside systems: encodings, a report of every rejected row, a dry run that writes
nothing, and a non-zero exit status when a row was rejected (issue: an import with rejected rows
exited 0; a GBK file failed or was partly applied without a report)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import Result
from flask import Flask

from engine import queries
from engine.clock import SimulatedClock
from web.app import create_app
from web.cli.main import main
from web.extensions import engine_of

HOLDER = "440604198003030050"
OTHER = "44060419750707006X"
PEOPLE = (
    "id_number,name,region,card_number,card_bank,card_state\n"
    f"{HOLDER},陈明,foshan,C-1,icbc,active\n"
    f"{HOLDER},陈明,foshan,C-2,boc,active\n"
    f"{OTHER},黄丽,foshan,C-3,nowhere,active\n"
)


def _app(url: str) -> Flask:
    return create_app(
        {"SHEBAO_DATABASE_URL": url, "TESTING": True},
        clock=SimulatedClock(datetime(2021, 10, 12, 2, tzinfo=UTC)),
    )


def _run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)


def test_a_dry_run_reports_everything_and_writes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    app = _app(sqlite_url)
    path = tmp_path / "people.csv"
    path.write_bytes(PEOPLE.encode("gbk"))  # as Chinese systems export it
    rehearsed = _run(app, "import", "people", str(path), "--dry-run")
    assert rehearsed.exit_code == 1  # a row was rejected
    assert "applied: 2  unchanged: 0  rejected: 1  reviews opened: 1" in rehearsed.output
    # in Chinese and English, as the file's own refusals
    assert (
        "line 4: nowhere 不是佛山市的社保卡合作银行 / nowhere is not a partner bank of Foshan"
        in (rehearsed.output)
    )
    assert "dry run" in rehearsed.output
    assert queries.total_instances(engine_of(app).db) == 0  # nothing written
    done = _run(app, "import", "people", str(path))
    assert done.exit_code == 1 and "applied: 2" in done.output and "dry run" not in done.output
    # the person, 2 cards, 1 review, and the foshan-2022 year the import opened (its period is
    # open on 2021-10-12, so the person is insured as a clerk's approval would insure them)
    assert queries.total_instances(engine_of(app).db) == 5


def test_deductions_dry_run_and_exit_status(sqlite_url: str, tmp_path: Path) -> None:
    app = _app(sqlite_url)
    people = tmp_path / "p.csv"
    people.write_text(f"id_number,name,region\n{HOLDER},陈明,foshan\n", encoding="utf-8")
    _run(app, "import", "people", str(people))  # opens foshan-2022: its period is open
    good = tmp_path / "good.csv"
    good.write_text(
        f"\ufeffid_number,policy_year,amount,result,reason\n{HOLDER},2022,320.00,success,\n",
        encoding="utf-8",
    )
    rehearsed = _run(app, "import", "deductions", str(good), "--policy", "foshan-2022", "--dry-run")
    assert rehearsed.exit_code == 0 and "applied: 1" in rehearsed.output
    [(year, state)] = queries.by_business_key(
        engine_of(app).db, "enrollment", f"{HOLDER}:foshan-2022"
    )
    assert state == "registered"  # rolled back
    assert _run(app, "import", "deductions", str(good), "--policy", "foshan-2022").exit_code == 0
    assert queries.instance(engine_of(app).db, year)["state"] == "deducted"  # type: ignore[index]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id_number,policy_year,amount,result,reason\n44060419800303005,2022,320,success,\n",
        encoding="utf-8",
    )
    refused = _run(app, "import", "deductions", str(bad), "--policy", "foshan-2022")
    assert refused.exit_code == 1 and "line 2: id_number" in refused.output
