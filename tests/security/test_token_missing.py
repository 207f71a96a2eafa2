"""A call to the JSON API without a bearer token is a security event too (QA): an unknown token
was a ``token_refused`` event while no token at all left nothing, so an operator watching the
events could not see someone probing the API without credentials. Each 401 for a missing or
malformed ``Authorization`` header is one ``token_missing`` event, with the address, the
operation and why (never the header's value); what needs no token (the API's description, the
health checks, the metrics, the staff pages) writes none."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from staff_helpers import add_staff, log_in, make_app

from web.extensions import engine_of
from web.security_log import recent

SECRET_LOOKING = "Basic c2VjcmV0LXBhc3N3b3JkLTEyMzQ1Njc4OQ=="


@pytest.fixture
def app(db_url: str) -> Flask:
    app = make_app(db_url)
    add_staff(app, "boss", "supervisor")
    return app


def missing(app: Flask) -> list[dict[str, Any]]:
    return [dict(e) for e in recent(engine_of(app).db, 500, "token_missing")]


def test_a_call_without_a_token_is_a_401_and_one_event_a_supervisor_reads(app: Flask) -> None:
    client = app.test_client()
    answer = client.get("/api/v1/admin/incidents")
    assert answer.status_code == 401 and answer.json["code"] == "unauthenticated"
    [event] = missing(app)
    assert event["actor"] is None and event["remote_addr"] == "127.0.0.1"
    assert event["detail"] == {
        "reason": "no_header",
        "method": "GET",
        "endpoint": "/api/v1/admin/incidents",
    }
    boss = log_in(app, "boss")
    zh = boss.get("/security/events?kind=token_missing&lang=zh").get_data(as_text=True)
    assert 'data-kind="token_missing"' in zh
    assert "未带接口令牌" in zh and "原因：请求未带 Authorization 头" in zh
    en = boss.get("/security/events?kind=token_missing&lang=en").get_data(as_text=True)
    assert "API call without a token" in en and "Reason: No Authorization header" in en


def test_a_malformed_header_is_recorded_by_its_kind_never_by_its_value(app: Flask) -> None:
    client = app.test_client()
    for header, reason in (
        (SECRET_LOOKING, "not_bearer"),
        ("Bearer ", "no_token"),
        ("", "no_header"),
    ):
        answer = client.post("/api/v1/cards", json={}, headers={"Authorization": header})
        assert answer.status_code == 401, answer.json
        assert missing(app)[0]["detail"]["reason"] == reason, header
    events = missing(app)
    assert len(events) == 3  # one each
    assert {e["detail"]["endpoint"] for e in events} == {"/api/v1/cards"}
    assert {e["detail"]["method"] for e in events} == {"POST"}
    assert "c2VjcmV0" not in repr(events) and "Basic" not in repr(events)
    assert recent(engine_of(app).db, 500, "token_refused") == []  # a token refused is another


def test_what_needs_no_token_writes_no_event(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 200
    for path in ("/healthz", "/metrics"):
        assert client.get(path).status_code == 200, path
    assert client.get("/readyz").status_code in (200, 503)  # 503: no scheduler beats here
    assert client.get("/login").status_code == 200
    assert client.get("/inbox/").status_code in (302, 401)  # a page: the login, not a token
    assert missing(app) == []
