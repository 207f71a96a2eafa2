"""Incidents read as words (QA A#4): the incidents page, ``shebao incidents list`` and the admin
API name the step as the instance page names it (提醒领卡激活 · 领卡提醒, not
``collection_reminder``; a timer's event by its label), and say what a notice receiver's failure
means in the page's language, with the technical error beside it; that error names the webhook's
port and path (which of several receivers on one host is down), never its password or query."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from failed_notices import cards_with_failed_notices, closed_port, refused_timer
from flask import Flask
from lxml import html as lxml_html
from staff_login import client_for
from staff_pages import untranslated, visible_text
from support import MakeApp

from engine.clock import SimulatedClock
from engine.incidents import Matching, list_incidents
from engine.outbox_channels import channel_failure
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main

NOW = datetime(2022, 3, 16, 1, tzinfo=UTC)
PORT = closed_port()


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(
        SimulatedClock(NOW),
        staff=[("boss", "supervisor", None)],
        SHEBAO_NOTICE_CHANNEL=f"webhook:http://qa:secretpw@127.0.0.1:{PORT}/hook?key=tok123",
        SHEBAO_NOTICE_MAX_ATTEMPTS="1",
    )


def rows_of(page: str) -> dict[str, str]:
    """The incident rows of the page: ``data-step`` -> the visible text of the row."""
    tree = lxml_html.fromstring(page)
    return {
        row.get("data-step"): " ".join(row.getparent().text_content().split())
        for row in tree.xpath("//td[@data-step]")
    }


def test_the_page_names_the_step_and_the_failure_in_the_pages_language(app: Flask) -> None:
    cards_with_failed_notices(app, 1)
    refused_timer(app)
    boss = client_for(app, "boss")
    zh = boss.get("/processes/incidents?lang=zh").get_data(as_text=True)
    rows = rows_of(zh)
    assert set(rows) == {"card_ready", "collection_reminder", "remind_holder"}
    reminder = rows["collection_reminder"]
    assert "提醒领卡激活 · 领卡提醒" in reminder  # as the instance page names the notice
    assert "通知接收方拒绝连接" in reminder
    assert f"127.0.0.1:{PORT}/hook" in reminder  # the detail beside: which receiver
    assert "提醒领卡激活" in rows["remind_holder"]  # a timer's event by its label
    for shown in (zh, boss.get("/processes/incidents?lang=en").get_data(as_text=True)):
        assert "secretpw" not in shown and "tok123" not in shown
    # the Chinese page reads wholly in Chinese (the technical error marked translate="no")
    texts = visible_text(zh)
    assert "collection_reminder" not in " ".join(texts)
    raw = {"collection_reminder", "card_ready", "remind_holder"}
    assert untranslated(texts, "zh", raw_names=raw, allowed={"boss"}) == []
    en = rows_of(boss.get("/processes/incidents?lang=en").get_data(as_text=True))
    assert (
        "Remind the holder to collect · Reminder to collect the card" in en["collection_reminder"]
    )
    assert "The notice receiver refused the connection" in en["collection_reminder"]
    # the instance page's incident list says the same
    card = list_incidents(engine_of(app), matching=Matching(kind="notice"))[0].instance_id
    instance = boss.get(f"/processes/instances/{card}?lang=zh").get_data(as_text=True)
    assert "通知接收方拒绝连接" in instance and "领卡提醒" in instance


def test_the_command_line_and_the_api_carry_the_words_beside_the_keys(app: Flask) -> None:
    cards_with_failed_notices(app, 1)
    listed = app.test_cli_runner().invoke(main, args=["incidents", "list", "--kind", "notice"])
    assert listed.exit_code == 0, listed.output
    [line] = [x for x in listed.output.splitlines() if "collection_reminder" in x]
    assert "提醒领卡激活 · 领卡提醒 / Remind the holder to collect" in line
    assert "(collection_reminder)" in line and "通知接收方拒绝连接" in line
    assert f"http://127.0.0.1:{PORT}/hook unreachable" in line and "secretpw" not in line
    as_json = app.test_cli_runner().invoke(main, args=["incidents", "list", "--json"])
    steps = {json.loads(x)["step"] for x in as_json.output.splitlines() if x.startswith("{")}
    assert steps == {"card_ready", "collection_reminder"}  # the keys, for machines
    db = engine_of(app).db
    admin = {"Authorization": f"Bearer {create_token(db, 'ops', ['admin'])}"}
    answer = app.test_client().get("/api/v1/admin/incidents", headers=admin)
    assert answer.status_code == 200, answer.json
    [reminder] = [i for i in answer.json["incidents"] if i["step"] == "collection_reminder"]
    assert reminder["event"] == "remind_holder"
    assert reminder["step_label"] == {
        "zh": "提醒领卡激活 · 领卡提醒",
        "en": "Remind the holder to collect · Reminder to collect the card",
    }
    assert reminder["error_label"]["zh"].startswith("通知接收方拒绝连接")
    assert f"127.0.0.1:{PORT}/hook" in reminder["error"] and "secretpw" not in answer.text


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        ("ChannelError: http://h:1/p unreachable: [Errno 111] Connection refused", "refused", None),
        ("ChannelError: https://h/p unreachable: timed out", "timeout", None),
        ("ChannelError: http://h/p unreachable: [Errno -2] Name or service not known", "unreachable", None),
        ("ChannelError: http://h:8080/sms answered HTTP 503", "http_5xx", 503),
        ("ChannelError: http://h:8080/sms answered HTTP 401", "http_4xx", 401),
        ("TimeoutError: the gateway took too long", "timeout", None),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "refused", None),
    ],
)  # fmt: skip
def test_common_channel_failures_are_told_apart(error: str, kind: str, status: int | None) -> None:
    found = channel_failure(error)
    assert found is not None and (found.kind, found.status) == (kind, status)
    assert channel_failure("ValueError: the template has no field bank") is None
