"""Instances per state give the same figures at every door once a supervisor cancelled one: the
process page, ``GET /api/v1/processes/{process}/counts`` and ``shebao stats``. The cancelled
instance is counted in the total and in a row (a key) of its own, ``_cancelled_by_supervisor``.
Runs on SQLite and (marker postgres) on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for, token_of
from support import MakeApp, counter_card

from engine.clock import SimulatedClock
from engine.specs import CANCELLED
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=[("boss", "supervisor", None)])


@pytest.fixture
def boss(app: Flask) -> FlaskClient:
    """The supervisor, logged in, after applying for three cards at the counter, producing one
    and cancelling another on its instance page (终止流程)."""
    cards = [
        counter_card(app, make_id_number("440604", date(1980, 1, day), 11)).instance_id
        for day in (1, 2, 3)
    ]
    engine_of(app).fire(cards[0], "produce")
    boss = client_for(app, "boss")
    form_page = boss.get(f"/processes/instances/{cards[2]}/cancel").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', form_page)
    assert version
    form = {"csrf_token": token_of(form_page), "version": version.group(1), "reason": "重复申领"}
    assert boss.post(f"/processes/instances/{cards[2]}/cancel", data=form).status_code == 303
    return boss


def page_counts(boss: FlaskClient) -> tuple[int, dict[str, int]]:
    """The process page's total ("实例数 N") and its table's count per state row."""
    page = boss.get("/processes/card").get_data(as_text=True)
    total = re.search(r"实例数 ([\d,]+)", page)
    assert total
    table = page[page.index('id="state-counts"') :]
    rows = re.findall(r'<tr data-state="([^"]+)">.*?class="num count">([\d,]+)<', table, re.S)
    return int(total.group(1).replace(",", "")), {s: int(n.replace(",", "")) for s, n in rows}


def test_the_api_and_the_cli_count_cancelled_instances_as_the_page_does(
    app: Flask, boss: FlaskClient
) -> None:
    total, rows = page_counts(boss)
    assert total == 3 and rows["applied"] == 1 and rows["produced"] == 1 and rows[CANCELLED] == 1

    token = create_token(engine_of(app).db, "board", ["read"])
    answer = app.test_client().get(
        "/api/v1/processes/card/counts", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200
    counts = answer.json
    assert counts is not None
    assert counts["total"] == total
    assert counts["states"][CANCELLED] == 1
    assert {s: n for s, n in counts["states"].items() if n or s in rows} == rows
    assert sum(counts["states"].values()) == counts["total"]

    runner = app.test_cli_runner()
    as_json = runner.invoke(main, ["stats", "card", "--json"], catch_exceptions=False)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == counts

    as_text = runner.invoke(main, ["stats", "card"], catch_exceptions=False)
    assert as_text.exit_code == 0, as_text.output
    lines = {line.split()[0]: line.split() for line in as_text.output.splitlines()}
    assert lines[CANCELLED][1:] == ["已由主管终止", "1"]
    assert lines["applied"][-1] == "1" and lines["total"][-1] == "3"


def test_the_counts_answer_is_described_with_its_cancelled_key(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert spec is not None
    described = spec["components"]["schemas"]["Counts"]["properties"]
    assert CANCELLED in described["states"]["description"]
    assert CANCELLED in described["total"]["description"]
