"""The incidents' ``kind`` filter at every door (QA): an operator lists only the timers' incidents
or only the notices' (the outbox's) through ``GET /api/v1/admin/incidents?kind=``, ``shebao
incidents list --kind`` and the supervisors' page, and each door lists the same incidents; a kind
the incidents table does not hold is a 422 naming the field and the kinds there are."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from failed_notices import cards_with_failed_notices, closed_port, refused_timer
from flask import Flask
from staff_login import client_for
from support import MakeApp

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main

NOW = datetime(2022, 3, 16, 1, tzinfo=UTC)
ROW = re.compile(r'data-incident="(\d+)"')


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(
        SimulatedClock(NOW),
        staff=[("boss", "supervisor", None)],
        SHEBAO_NOTICE_CHANNEL=f"webhook:http://127.0.0.1:{closed_port()}/hook",
        SHEBAO_NOTICE_MAX_ATTEMPTS="1",
    )


def test_each_door_lists_only_the_incidents_of_the_kind_asked_for(app: Flask) -> None:
    cards_with_failed_notices(app, 1)  # its two notices fail: two notice incidents
    refused_timer(app)  # one timer incident
    admin = {"Authorization": f"Bearer {create_token(engine_of(app).db, 'ops', ['admin'])}"}
    client = app.test_client()
    boss = client_for(app, "boss")
    runner = app.test_cli_runner()
    everything = client.get("/api/v1/admin/incidents", headers=admin).json["incidents"]
    assert sorted(i["kind"] for i in everything) == ["notice", "notice", "timer"]
    for kind, count in (("timer", 1), ("notice", 2)):
        listed = client.get(f"/api/v1/admin/incidents?kind={kind}", headers=admin)
        assert listed.status_code == 200, listed.json
        api_ids = [i["id"] for i in listed.json["incidents"]]
        assert len(api_ids) == count
        assert {i["kind"] for i in listed.json["incidents"]} == {kind}
        both = client.get(f"/api/v1/admin/incidents?kind={kind}&process=card", headers=admin)
        assert [i["id"] for i in both.json["incidents"]] == api_ids
        closed = client.get(f"/api/v1/admin/incidents?kind={kind}&status=closed", headers=admin)
        assert closed.json["incidents"] == []
        command = runner.invoke(main, ["incidents", "list", "--kind", kind, "--json"])
        assert command.exit_code == 0, command.output
        cli_ids = [json.loads(line)["id"] for line in command.output.splitlines()]
        page = boss.get(f"/processes/incidents?kind={kind}").get_data(as_text=True)
        page_ids = [int(found) for found in ROW.findall(page)]
        assert api_ids == cli_ids == page_ids  # every door agrees, newest first


def test_an_unknown_kind_is_a_422_naming_the_kinds_there_are(app: Flask) -> None:
    refused_timer(app)
    admin = {"Authorization": f"Bearer {create_token(engine_of(app).db, 'ops', ['admin'])}"}
    client = app.test_client()
    refused = client.get("/api/v1/admin/incidents?kind=outbox", headers=admin)
    assert refused.status_code == 422, refused.json
    assert refused.json["code"] == "invalid_request"
    [detail] = refused.json["details"]
    assert detail["field"] == "kind"
    assert detail["message_en"] == "expected one of: timer, notice"  # as the bulk body's
    assert "timer" in detail["message_zh"] and "notice" in detail["message_zh"]
    retry = client.post("/api/v1/admin/incidents/retry", json={"kind": "outbox"}, headers=admin)
    assert retry.status_code == 422 and retry.json["code"] == "invalid_request"
    [detail] = retry.json["details"]
    assert detail["field"] == "kind" and detail["message_en"] == "expected one of: timer, notice"
    command = app.test_cli_runner().invoke(main, ["incidents", "list", "--kind", "outbox"])
    assert command.exit_code == 2 and "timer" in command.output and "notice" in command.output
    assert len(client.get("/api/v1/admin/incidents", headers=admin).json["incidents"]) == 1


def test_the_description_offers_the_kind_filter(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
    operation = next(
        v["get"] for k, v in spec["paths"].items() if k.endswith("/admin/incidents") and "get" in v
    )
    [kind] = [p for p in operation["parameters"] if p["name"] == "kind"]
    assert kind["in"] == "query" and kind["schema"]["enum"] == ["timer", "notice"]
