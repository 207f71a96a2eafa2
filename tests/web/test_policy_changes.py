"""A policy date changed inside a running year (Foshan moved 2022's period end): `shebao policy
reload` moves the pending timers derived from it, and the change is recorded with who and when
(`shebao policy changes`) (issue 16)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from engine import queries
from engine.clock import SimulatedClock
from web.app import create_app, engine_of
from web.cli.main import main
from web.cli.times import shown
from web.config import PROJECT_ROOT
from web.extensions import domain_of
from workflows.identity import make_id_number
from workflows.imports import import_people

NOW = datetime(2022, 1, 10, 2, 0, tzinfo=UTC)
PERSON = make_id_number("440604", datetime(1985, 3, 4).date(), 31)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "definitions" / "policies", folder)
    return folder


@pytest.fixture
def app(db_url: str, policies: Path) -> Iterator[Flask]:
    config = {"SHEBAO_DATABASE_URL": db_url, "TESTING": True, "SHEBAO_POLICIES": str(policies)}
    app = create_app(config, clock=SimulatedClock(NOW))
    yield app
    engine_of(app).db.dispose()


def test_a_moved_period_end_moves_the_lapse_and_is_recorded(app: Flask, policies: Path) -> None:
    engine, domain = engine_of(app), domain_of(app)
    row = {"id_number": PERSON, "name": "陈明", "region": "foshan"}
    # imported while foshan-2022's period is open: the import opened the year
    assert import_people(engine, domain, [(1, row)], actor="t").rejected == []
    [(year, _)] = queries.by_business_key(engine.db, "enrollment", f"{PERSON}:foshan-2022")
    [before] = queries.timers_of(engine.db, year, "pending")
    runner = app.test_cli_runner()
    assert "no policy date" in runner.invoke(main, ["policy", "changes"]).output
    text = (policies / "foshan-2022.yaml").read_text(encoding="utf-8")
    moved_text = text.replace("  end: 2022-02-28", "  end: 2022-03-31", 1)
    assert moved_text != text
    (policies / "foshan-2022.yaml").write_text(moved_text, encoding="utf-8")
    reloaded = runner.invoke(main, ["policy", "reload", "--actor", "ops:li"])
    assert reloaded.exit_code == 0, reloaded.output
    assert "moved 1 pending timers" in reloaded.output
    [after] = queries.timers_of(engine.db, year, "pending")
    assert after["due_at"] > before["due_at"]
    listed = runner.invoke(main, ["policy", "changes"]).output
    assert "ops:li" in listed and "foshan-2022" in listed and "1 timers" in listed
    assert shown(before["due_at"]) in listed and shown(after["due_at"]) in listed  # China time
    assert "+08:00 -> " in listed
