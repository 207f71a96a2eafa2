"""Bulk retry and resolve of incidents (QA A#5): after a receiver's outage the operator retries
every notice incident at once, from ``shebao incidents retry --all``, the supervisors' page or
``POST /api/v1/admin/incidents/retry``, and each notice is then sent once (a second retry finds
nothing to put back); what the filter leaves out (the timer's incident, incidents opened after
the page was shown) stays open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from failed_notices import (
    cards_with_failed_notices,
    closed_port,
    receiver_on,
    refused_timer,
)
from flask import Flask
from sqlalchemy import func, select
from staff_login import client_for, logged_in, token_of
from support import MakeApp

from engine.clock import SimulatedClock
from engine.incidents import Matching, list_incidents
from engine.models import Notice
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main
from web.notices import worker_for

NOW = datetime(2022, 3, 16, 1, tzinfo=UTC)
NOTICES = Notice.__table__


@pytest.fixture
def port() -> int:
    return closed_port()


@pytest.fixture
def app(make_app: MakeApp, port: int) -> Flask:
    return make_app(
        SimulatedClock(NOW),
        staff=[("boss", "supervisor", None), ("wang", "bank_teller", "icbc")],
        SHEBAO_NOTICE_CHANNEL=f"webhook:http://127.0.0.1:{port}/hook",
        SHEBAO_NOTICE_MAX_ATTEMPTS="1",
    )


def open_ids(app: Flask, kind: str | None = None) -> list[int]:
    return sorted(r.id for r in list_incidents(engine_of(app), matching=Matching(kind=kind)))


def notice_statuses(app: Flask) -> dict[str, int]:
    query = select(NOTICES.c.status, func.count()).group_by(NOTICES.c.status)
    with engine_of(app).db.connect() as conn:
        return {str(s): int(n) for s, n in conn.execute(query)}


def deliver(app: Flask) -> None:
    worker_for(app).run_once(engine_of(app).clock.now())


def test_the_command_line_retries_every_notice_once_after_the_outage(app: Flask, port: int) -> None:
    cards_with_failed_notices(app, 3)
    refused_timer(app)
    assert len(open_ids(app, "notice")) == 6 and len(open_ids(app, "timer")) == 1
    cli = app.test_cli_runner()
    for refused in (["retry"], ["retry", "1", "--all"], ["retry", "--kind", "notice"]):
        answer = cli.invoke(main, args=["incidents", *refused])
        assert answer.exit_code == 2 and "--all" in answer.output, refused
    counted = cli.invoke(
        main, args=["incidents", "retry", "--all", "--kind", "notice", "--dry-run"]
    )
    assert counted.exit_code == 0 and "6 open incident(s) match" in counted.output
    assert len(open_ids(app, "notice")) == 6  # a dry run changes nothing
    with receiver_on(port) as received:
        retried = cli.invoke(
            main, args=["incidents", "retry", "--all", "--kind", "notice", "--actor", "ops"]
        )
        assert retried.exit_code == 0, retried.output
        assert "6 incident(s) put back" in retried.output
        deliver(app)
        again = cli.invoke(main, args=["incidents", "retry", "--all", "--kind", "notice"])
        assert "0 incident(s)" in again.output
        deliver(app)
    assert sorted(received) == sorted(set(received)) and len(received) == 6  # each once
    assert notice_statuses(app) == {"delivered": 6}
    assert open_ids(app, "notice") == [] and len(open_ids(app, "timer")) == 1
    closed = list_incidents(engine_of(app), status="closed")
    assert {(r.resolution, r.resolved_by) for r in closed} == {("retry", "ops")}


def test_resolve_all_of_one_step_leaves_the_others(app: Flask) -> None:
    cards_with_failed_notices(app, 2)
    cli = app.test_cli_runner()
    done = cli.invoke(main, args=["incidents", "resolve", "--all", "--step", "card_ready"])
    assert done.exit_code == 0 and "2 incident(s) closed without running them" in done.output
    left = list_incidents(engine_of(app))
    assert {r.step for r in left} == {"collection_reminder"} and len(left) == 2
    unknown = cli.invoke(main, args=["incidents", "retry", "--all", "--process", "nope"])
    assert unknown.exit_code == 1 and "unknown process" in unknown.output


def test_the_supervisor_retries_all_shown_with_a_csrf_protected_form(app: Flask, port: int) -> None:
    cards_with_failed_notices(app, 2)
    refused_timer(app)
    teller = client_for(app, "wang")
    boss = logged_in(app, "boss")  # forms need their CSRF token from here on
    page = boss.get("/processes/incidents?kind=notice").get_data(as_text=True)
    assert 'id="incidents-retry-all"' in page and "全部重试（4 条）" in page
    form = {"kind": "notice", "process": "", "up_to": str(max(open_ids(app)))}
    assert boss.post("/processes/incidents/retry", data=form).status_code == 400  # no token
    assert len(open_ids(app, "notice")) == 4
    cards_with_failed_notices(app, 1, first=10)  # opened after the page was shown: kept
    form["csrf_token"] = token_of(page)
    form["up_to"] = page.split('name="up_to" value="')[1].split('"')[0]
    with receiver_on(port) as received:
        done = boss.post("/processes/incidents/retry", data=form, follow_redirects=True)
        deliver(app)
    assert done.status_code == 200
    assert "已放回重试 4 条事件单（定时器 0 条，通知 4 条）" in done.get_data(as_text=True)
    assert len(received) == len(set(received)) == 4
    assert len(open_ids(app, "notice")) == 2 and len(open_ids(app, "timer")) == 1
    closed = list_incidents(engine_of(app), status="closed")
    assert {r.resolved_by for r in closed} == {"staff:boss"}  # as a single retry records it
    # resolving all asks for a ticked confirmation
    resolve = {**form, "up_to": str(max(open_ids(app))), "kind": ""}
    unconfirmed = boss.post("/processes/incidents/resolve", data=resolve, follow_redirects=True)
    assert "请先勾选确认" in unconfirmed.get_data(as_text=True) and len(open_ids(app)) == 3
    resolve["confirm"] = "1"
    resolved = boss.post("/processes/incidents/resolve", data=resolve, follow_redirects=True)
    assert "已关闭 3 条事件单" in resolved.get_data(as_text=True) and open_ids(app) == []
    bad = {**form, "kind": "everything"}
    assert boss.post("/processes/incidents/retry", data=bad).status_code == 400
    app.config["WTF_CSRF_ENABLED"] = False  # past the token check: for supervisors only
    assert teller.post("/processes/incidents/retry", data=form).status_code == 403


def test_the_admin_api_retries_all_of_a_filter_and_describes_it(app: Flask, port: int) -> None:
    cards_with_failed_notices(app, 2)
    refused_timer(app)
    db = engine_of(app).db
    admin = {"Authorization": f"Bearer {create_token(db, 'ops', ['admin'])}"}
    clerk = {"Authorization": f"Bearer {create_token(db, 'bank', ['bank:icbc'])}"}
    client = app.test_client()
    url = "/api/v1/admin/incidents/retry"
    assert client.post(url, json={"kind": "notice"}, headers=clerk).status_code == 403
    for body, field, code in (
        ({"kind": "all"}, "kind", "invalid_request"),  # outside the description: the shape
        ({"process": "nope"}, "process", "unknown_process"),  # well-formed: a rule says no
    ):
        refused = client.post(url, json=body, headers=admin)
        assert refused.status_code == 422, refused.json
        assert [d["field"] for d in refused.json["details"]] == [field]
        assert refused.json["code"] == code
    listed = client.get("/api/v1/admin/incidents?process=nope", headers=admin)
    assert (listed.status_code, listed.json["code"]) == (422, "unknown_process")
    assert "card" in listed.json["details"][0]["message_en"]  # the processes there are
    assert len(open_ids(app)) == 5  # nothing changed
    with receiver_on(port) as received:
        done = client.post(url, json={"kind": "notice", "process": "card"}, headers=admin)
        deliver(app)
    assert done.status_code == 200, done.json
    assert done.json["closed"] == 4 and done.json["by_kind"] == {"timer": 0, "notice": 4}
    assert len(received) == len(set(received)) == 4
    assert open_ids(app) == open_ids(app, "timer") and len(open_ids(app)) == 1
    resolved = client.post("/api/v1/admin/incidents/resolve", json={}, headers=admin)
    assert resolved.status_code == 200 and resolved.json["by_kind"] == {"timer": 1, "notice": 0}
    closed = list_incidents(engine_of(app), status="closed")
    assert {r.resolved_by for r in closed} == {"api:ops"}
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/admin/incidents/retry", "/admin/incidents/resolve"):
        operation = next(v["post"] for k, v in spec["paths"].items() if k.endswith(path))
        assert "requestBody" in operation and "200" in operation["responses"]
