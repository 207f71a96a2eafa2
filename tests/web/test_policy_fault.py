"""A mistaken edit of a policy file (Hui'an's period end moved without its late-payment rules):
a running service keeps the last good policies, logs the fault once and shows it on ``/readyz``;
every ``shebao`` command, and the service itself, refuses to start on it with one line naming the
file, the key and the fault, and no traceback."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.cli.main import main
from web.config import PROJECT_ROOT
from web.scheduling import make_scheduler
from workflows.identity import make_id_number

PERSON = make_id_number("350521", date(1980, 1, 1), 3)
FAULT = "huian-2023.yaml: late_payment.rules[0].from: the first rule starts the day after"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "definitions" / "policies", folder)
    return folder


def break_huian(policies: Path) -> str:
    """The mistake: the period's end moved, the late-payment rules left where they were."""
    path = policies / "huian-2023.yaml"
    good = path.read_text(encoding="utf-8")
    bad = good.replace("  end: 2022-12-31", "  end: 2023-01-31", 1)
    assert bad != good
    path.write_text(bad, encoding="utf-8")
    return good


@pytest.fixture
def app(sqlite_url: str, policies: Path) -> Iterator[Flask]:
    config = {
        "SHEBAO_DATABASE_URL": sqlite_url,
        "SHEBAO_POLICIES": str(policies),
        "SHEBAO_POLICY_CHECK_SECONDS": "0",
        "TESTING": True,
    }
    app = create_app(config, clock=SimulatedClock(datetime(2023, 1, 10, 2, tzinfo=UTC)))
    yield app
    engine_of(app).db.dispose()


def ask(app: Flask, client: FlaskClient) -> int:
    """A channel asks for a person's years (any request of the API would do)."""
    if "token" not in app.config:
        app.config["token"] = create_token(engine_of(app).db, "counter", ["channel"])
    found = client.post(
        "/api/v1/people/enrollments",
        json={"id_number": PERSON},
        headers={"Authorization": f"Bearer {app.config['token']}"},
    )
    return found.status_code


def test_a_running_service_keeps_the_last_good_policy_and_logs_the_fault_once(
    app: Flask, policies: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    assert ask(app, client) == 200
    good = break_huian(policies)
    with caplog.at_level(logging.ERROR):
        assert ask(app, client) == 200
        assert ask(app, client) == 200
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and FAULT in errors[0], errors
    ready = client.get("/readyz").get_json()["checks"]["policies"]
    assert ready["ok"] is False and FAULT in ready["error"] and ready["required"] is False
    (policies / "huian-2023.yaml").write_text(good + "\n", encoding="utf-8")
    assert ask(app, client) == 200
    assert client.get("/readyz").get_json()["checks"]["policies"] == {
        "ok": True,
        "required": False,
    }


def test_a_running_scheduler_keeps_sweeping_on_the_last_good_policy(
    app: Flask, policies: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = make_scheduler(app, blocking=True)
    try:
        break_huian(policies)
        with caplog.at_level(logging.ERROR):
            runner.run_now()  # notices the change: nothing raised, nothing moved
            runner.run_now()
    finally:
        runner.shutdown(wait=False)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and FAULT in errors[0], errors


def test_policy_reload_on_a_broken_file_exits_1_with_one_line_and_moves_nothing(
    app: Flask, policies: Path
) -> None:
    break_huian(policies)
    result = app.test_cli_runner().invoke(main, ["policy", "reload"])
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("invalid: ") and FAULT in line
    assert "moved" not in result.output


@pytest.mark.parametrize(
    "command", [["policy", "reload"], ["scheduler", "--once"], ["stats", "card"]]
)
def test_commands_refuse_to_start_on_a_broken_policy_with_one_line(
    sqlite_url: str, policies: Path, command: list[str]
) -> None:
    break_huian(policies)
    env = {"SHEBAO_DATABASE_URL": sqlite_url, "SHEBAO_POLICIES": str(policies)}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    [line] = result.output.splitlines()
    assert line.startswith("invalid: ") and FAULT in line and "Traceback" not in line
