"""A resident ID number typed into free text (a household note, a rejection's reason, a comment)
is shown masked on every staff page and goes out masked in the notices it ends up in.

The API masked such text already; the pages and the notice outbox showed it whole. A person's own
number stays whole where delivery needs it (the recipient a webhook receives), and only there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from local_server import serving
from staff_login import client_for
from support import TEAM, MakeApp, complete_confirmed

from engine import queries
from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of
from web.auth import create_user
from web.cli.main import main
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = make_id_number("440604", date(1995, 7, 1), 22)
HEAD = make_id_number("440604", date(1990, 1, 1), 901)
"""The head of the household, whose number the channel and the clerk type into free text."""
REASON = f"户口簿户主{HEAD}与申报不符"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(SimulatedClock(NOW), staff=TEAM)
    create_user(engine_of(app).db, "mi_foshan", "pw", "medical_insurance_clerk", "foshan")
    return app


def masked_only(page: Any, where: str) -> str:
    """The page's text, checked: 200, no full number of the head, the masked one instead."""
    text: str = page.get_data(as_text=True)
    assert page.status_code == 200, where
    assert HEAD not in text, f"{where} shows the full number"
    assert mask_id_number(HEAD) in text, f"{where} does not show the masked number"
    return text


def registration(app: Flask) -> tuple[int, int]:
    """A registration whose household note quotes the head's number (the channel typed it):
    the person's and the clerk's review task's ids."""
    engine = engine_of(app)
    token = create_token(engine.db, "app", ["channel"])
    registered = app.test_client().post(
        "/api/v1/registrations",
        json={"id_number": PERSON, "name": "李娜", "region": "foshan", "household": f"户主{HEAD}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert registered.status_code == 201 and registered.json, registered.json
    person = int(registered.json["person"]["id"])
    return person, int(queries.tasks_of(engine.db, person, "open")[0]["id"])


def rejected_registration(app: Flask) -> tuple[int, int]:
    """The registration, a clerk's comment and a rejection whose reason quote the number too."""
    person, task = registration(app)
    clerk = client_for(app, "mi_foshan")
    comment = clerk.post(f"/inbox/{task}/comments", data={"body": f"已核对户主 {HEAD} 的户口簿"})
    assert comment.status_code == 303
    reject = {"outcome": "reject_registration", "reason": REASON}
    done = complete_confirmed(clerk, task, reject)
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    assert queries.instance(engine_of(app).db, person)["state"] == "registration_rejected"  # type: ignore[index]
    return person, task


def test_an_id_number_in_free_text_is_masked_on_the_task_page(app: Flask) -> None:
    _, task = registration(app)
    clerk = client_for(app, "mi_foshan")
    masked_only(clerk.get(f"/inbox/{task}"), "the task's facts")
    clerk.post(f"/inbox/{task}/comments", data={"body": f"已核对户主 {HEAD} 的户口簿"})
    assert "已核对户主" in masked_only(clerk.get(f"/inbox/{task}"), "the task's comments")


def test_the_pages_and_the_notices_file_mask_a_rejections_reason(
    app: Flask, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    person, task = rejected_registration(app)
    masked_only(client_for(app, "mi_foshan").get(f"/inbox/{task}"), "the done task's history")
    boss = client_for(app, "boss")
    masked_only(boss.get(f"/people/{person}"), "the person's page")
    page = masked_only(boss.get(f"/processes/instances/{person}"), "the instance page")
    assert "与申报不符" in page  # the reason is shown, with the number masked

    # the notice tells the person why, with the number masked, in the file channel's lines
    out = tmp_path / "notices.jsonl"
    monkeypatch.setenv("SHEBAO_DATABASE_URL", db_url)
    monkeypatch.setenv("SHEBAO_NOTICE_CHANNEL", f"file:{out}")
    delivered = CliRunner().invoke(main, ["notices", "deliver"])
    assert delivered.exit_code == 0, delivered.output
    [line] = out.read_text(encoding="utf-8").splitlines()
    notice = json.loads(line)
    assert notice["kind"] == "registration_rejected"
    assert HEAD not in line and PERSON not in line
    assert f"户口簿户主{mask_id_number(HEAD)}与申报不符" in notice["text"]["zh"]
    assert notice["data"]["reason"] == f"户口簿户主{mask_id_number(HEAD)}与申报不符"
    assert notice["recipient"] == mask_id_number(PERSON)


class Gateway(BaseHTTPRequestHandler):
    """An SMS gateway that keeps the bodies it received."""

    received: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        Gateway.received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.received = []
    with serving(Gateway) as address:
        yield f"{address}/sms"


def test_the_webhook_gets_the_reason_masked_and_the_recipient_whole(
    app: Flask, db_url: str, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rejected_registration(app)
    monkeypatch.setenv("SHEBAO_DATABASE_URL", db_url)
    delivered = CliRunner().invoke(main, ["notices", "deliver", "--channel", f"webhook:{gateway}"])
    assert delivered.exit_code == 0, delivered.output
    [body] = Gateway.received
    notice = json.loads(body)
    assert HEAD not in body
    assert notice["data"]["reason"] == f"户口簿户主{mask_id_number(HEAD)}与申报不符"
    assert notice["recipient"] == PERSON  # the gateway's address of the person, in the body only


def test_the_history_keeps_a_typed_reason_masked(app: Flask) -> None:
    """The rejection's reason is stored in the history masked, not only shown masked: the rows
    go out whole to archive files (``shebao history cleanup --archive``)."""
    person, _ = rejected_registration(app)
    rows = queries.history(engine_of(app).db, person)
    assert HEAD not in json.dumps([r["data"] for r in rows], ensure_ascii=False)
    [rejected] = [r for r in rows if r["event"] == "reject_registration"]
    assert rejected["data"]["reason"] == f"户口簿户主{mask_id_number(HEAD)}与申报不符"
