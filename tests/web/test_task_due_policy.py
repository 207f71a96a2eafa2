"""A task due when a policy value says: the teller's ``confirm_loss`` (make a temporary loss report
formal) is due when the report lapses, the region's ``card.loss_report_lapses_after`` (Foshan: five
days, policy file). A definition naming a policy value no policy gives is refused by ``shebao
definitions validate``. On SQLite and PostgreSQL (the API test).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import MakeApp

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
HOLDER = "440604198003030050"


def test_the_tellers_formal_loss_task_is_due_when_the_report_lapses(make_app: MakeApp) -> None:
    clock = SimulatedClock(datetime.fromisoformat("2021-06-01T10:00:00+08:00"))
    app = make_app(clock)
    db = engine_of(app).db
    counter, icbc = (
        create_token(db, "counter", ["channel"]),
        create_token(db, "icbc", ["bank:icbc"]),
    )
    client = app.test_client()

    def call(method: str, path: str, token: str, body: object = None) -> object:
        headers = {"Authorization": f"Bearer {token}"}
        answer = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert answer.status_code < 300, answer.get_json()
        return answer.get_json()

    application = {"id_number": HOLDER, "channel": "fast_issuance", "bank": "icbc"}
    card = call("POST", "/cards", counter, {**application, "region_code": "440604"})
    card_id = card["card"]["id"]  # type: ignore[index]
    call("POST", f"/cards/{card_id}/events", counter, {"event": "report_loss"})

    tasks = call("GET", "/tasks", icbc)["tasks"]  # type: ignore[index]
    [task] = [t for t in tasks if t["instance_id"] == card_id]
    assert task["name"] == "confirm_loss"
    # Foshan: the report lapses five days after it was made, at 10:00 on 6 June 2021 (UTC+8)
    due = datetime.fromisoformat(task["due_at"].replace("Z", "+00:00"))
    assert due == datetime(2021, 6, 6, 2, 0, tzinfo=UTC)
    notices = call("GET", f"/cards/{card_id}/notices", icbc)["notices"]  # type: ignore[index]
    assert "请于2021年6月6日 10:00前" in notices[0]["text"]["zh"]  # what the holder was told


@pytest.fixture
def runner(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    return CliRunner()


def test_validate_refuses_a_due_date_naming_no_policy_value(
    runner: CliRunner, tmp_path: Path
) -> None:
    broken = tmp_path / "card-broken.yaml"
    shutil.copy(ROOT / "definitions" / "card.yaml", broken)
    text = broken.read_text(encoding="utf-8")
    named = "due: {policy: card.loss_report_lapses_after}"
    assert named in text
    broken.write_text(text.replace(named, "due: {policy: card.loss_lapses}"), encoding="utf-8")
    result = runner.invoke(main, ["definitions", "validate", str(broken)])
    assert result.exit_code == 1
    assert "states.loss_reported.task.due.policy: unknown policy value 'card.loss_lapses'" in (
        result.output
    )
    assert "gives no date or duration at card.loss_lapses" in result.output
