"""The security events of the API's refusals and of token use (QA 5).

A record outside the token's scope (another bank's card, another region's task) answers 404 as a
missing one, and the attempt is one ``permission_denied`` event naming the record's kind and id,
the operation and the token (never the person's data); a missing record is no such event. A
token's first use on each day (Beijing time) is one ``token_used`` event, not every request.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_helpers import add_staff, log_in

from engine import queries
from web.api import tokens as api_tokens
from web.api.tokens import create_token
from web.app import engine_of
from web.security_log import recent
from workflows.identity import make_id_number

PERSON = make_id_number("440604", date(1990, 5, 17), 21)
HUIAN = make_id_number("350521", date(1980, 3, 3), 15)
MISSING = 999_999
SCOPES = {
    "app": "channel",
    "factory": "factory",
    "icbc": "bank:icbc",
    "boc": "bank:boc",
    "huian-clerks": "clerk:huian",
    "foshan-clerks": "clerk:foshan",
}
"""The tokens the ``tokens`` fixture makes (``conftest.py``): name and scope."""


def call(client: FlaskClient, token: str, method: str, path: str, body: Any = None) -> Any:
    return client.open(
        f"/api/v1{path}",
        method=method,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def denials(app: Flask) -> list[dict[str, Any]]:
    return [dict(e) for e in recent(engine_of(app).db, 500, "permission_denied")]


def an_icbc_card_with_its_task(client: FlaskClient, tokens: dict[str, str]) -> tuple[int, int]:
    """An ICBC card ready at the bank, with the teller's activation task open."""
    applied = call(
        client,
        tokens["app"],
        "POST",
        "/cards",
        {"id_number": PERSON, "channel": "online", "bank": "icbc", "region_code": "440604"},
    )
    assert applied.status_code == 201, applied.get_json()
    card = applied.get_json()["card"]["id"]
    for token, event in (("factory", "produce"), ("icbc", "notify_holder")):
        sent = call(client, tokens[token], "POST", f"/cards/{card}/events", {"event": event})
        assert sent.status_code == 200, sent.get_json()
    [task] = call(client, tokens["icbc"], "GET", "/tasks").get_json()["tasks"]
    return card, task["id"]


def a_huian_review_task(client: FlaskClient, tokens: dict[str, str]) -> int:
    """A Hui'an registration waiting for its clerk's review."""
    body = {"id_number": HUIAN, "name": "陈明", "region": "huian"}
    assert call(client, tokens["app"], "POST", "/registrations", body).status_code == 201
    [task] = call(client, tokens["huian-clerks"], "GET", "/tasks").get_json()["tasks"]
    return int(task["id"])


def test_each_out_of_scope_record_is_a_404_and_one_permission_denied_event(
    app: Flask, tokens: dict[str, str]
) -> None:
    """QA 5: a bank:boc token sending notify_holder or close_bank_account to an ICBC card, and a
    clerk:foshan token completing a Hui'an task, got 404 and left no security event."""
    client = app.test_client()
    card, task = an_icbc_card_with_its_task(client, tokens)
    review = a_huian_review_task(client, tokens)
    before = queries.history(engine_of(app).db, card)
    doors = [
        ("boc", "GET", "/cards/{}", None, "card", card),
        ("boc", "GET", "/cards/{}/notices", None, "card", card),
        ("boc", "POST", "/cards/{}/events", {"event": "notify_holder"}, "card", card),
        ("boc", "POST", "/cards/{}/events", {"event": "close_bank_account"}, "card", card),
        ("boc", "POST", "/cards/{}/events", {"event": "issue_on_the_spot"}, "card", card),
        ("boc", "POST", "/tasks/{}/complete", {"data": {}}, "task", task),
        ("foshan-clerks", "POST", "/tasks/{}/complete", {"data": {}}, "task", task),
        ("foshan-clerks", "POST", "/tasks/{}/complete", {"outcome": "approve"}, "task", review),
        ("icbc", "POST", "/tasks/{}/complete", {"outcome": "approve"}, "task", review),
    ]
    for token, method, path, body, kind, ident in doors:
        hidden = call(client, tokens[token], method, path.format(ident), body)
        missing = call(client, tokens[token], method, path.format(MISSING), body)
        assert hidden.status_code == missing.status_code == 404, (path, hidden.get_json())
        shown = json.dumps(hidden.get_json(), ensure_ascii=False).replace(str(ident), "N")
        assert shown == json.dumps(missing.get_json(), ensure_ascii=False).replace(
            str(MISSING), "N"
        )
        newest, *_ = denials(app)
        assert newest["actor"] == f"api:{token}", (path, newest)
        assert newest["remote_addr"] == "127.0.0.1"
        rule = "/api/v1" + path.replace("{}", "<card_id>" if kind == "card" else "<task_id>")
        assert newest["detail"] == {
            "method": method,
            "endpoint": rule,
            "scopes": [SCOPES[token]],
            "record": kind,
            "record_id": ident,
        }, path
    # one event per refused attempt on a record that exists; none for the missing ones
    assert len(denials(app)) == len(doors)
    assert queries.history(engine_of(app).db, card) == before  # nothing moved
    assert PERSON not in json.dumps(denials(app), default=str)
    assert HUIAN not in json.dumps(denials(app), default=str)
    [open_review] = queries.tasks_of(engine_of(app).db, review_instance(app), "open")
    assert open_review["id"] == review


def review_instance(app: Flask) -> int:
    [(person, _)] = queries.by_business_key(engine_of(app).db, "person", HUIAN)
    return int(person)


def test_the_record_of_an_api_denial_is_shown_in_words(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    card, task = an_icbc_card_with_its_task(client, tokens)
    call(client, tokens["boc"], "POST", f"/cards/{card}/events", {"event": "notify_holder"})
    call(client, tokens["huian-clerks"], "POST", f"/tasks/{task}/complete", {"data": {}})
    add_staff(app, "boss", "supervisor")
    boss = log_in(app, "boss")
    zh = boss.get("/security/events?kind=permission_denied&lang=zh").get_data(as_text=True)
    assert "记录类型：社保卡" in zh and "记录类型：任务" in zh and "记录编号：" in zh
    en = boss.get("/security/events?kind=permission_denied&lang=en").get_data(as_text=True)
    assert "Record kind: Card" in en and "Record kind: Task" in en and "Record id: " in en
    for raw in ("record_id", "record:"):
        assert raw not in zh and raw not in en, raw


class RealTime:
    """The real time as the token code reads it, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 17:00 in Beijing
        monkeypatch.setattr(api_tokens, "utcnow", lambda: self.now)

    def forward(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def test_a_tokens_first_use_each_day_is_one_token_used_event(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README lists token use among the events written; none was. Each token's first use on a
    Beijing calendar day writes one (with the operation and the address); the other uses of that
    day only move its "last used" time, so the log is not flooded."""
    clock = RealTime(monkeypatch)
    db = engine_of(app).db
    board = create_token(db, "board", ["read"])
    other = create_token(db, "other", ["read"])
    client = app.test_client()

    def use(token: str) -> None:
        answer = call(client, token, "GET", "/processes/card/counts")
        assert answer.status_code == 200, answer.get_json()

    def used() -> list[dict[str, Any]]:
        return [dict(e) for e in reversed(recent(db, 500, "token_used"))]

    use(board)
    use(board)
    clock.forward(minutes=5)
    use(board)
    [first] = used()
    assert first["actor"] == "api:board" and first["remote_addr"] == "127.0.0.1"
    assert first["at"] == clock.now - timedelta(minutes=5)
    assert first["detail"] == {
        "token": "board",
        "scopes": ["read"],
        "method": "GET",
        "endpoint": "/api/v1/processes/<process>/counts",
        "first_use": True,
    }
    use(other)  # another token's own first use
    assert [e["actor"] for e in used()] == ["api:board", "api:other"]
    clock.forward(hours=6, minutes=54)  # 23:59 in Beijing: still the same day
    use(board)
    assert len(used()) == 2
    clock.forward(minutes=2)  # 00:01 in Beijing, the next day
    use(board)
    use(board)
    *_, nextday = used()
    assert len(used()) == 3 and nextday["actor"] == "api:board"
    assert nextday["detail"]["first_use"] is False
    assert board not in json.dumps(used(), default=str) and board[3:20] not in str(used())


def test_a_token_used_event_is_shown_in_words(app: Flask) -> None:
    token = create_token(engine_of(app).db, "board", ["read"])
    client = app.test_client()
    assert call(client, token, "GET", "/processes/card/counts").status_code == 200
    add_staff(app, "boss", "supervisor")
    boss = log_in(app, "boss")
    zh = boss.get("/security/events?kind=token_used&lang=zh").get_data(as_text=True)
    assert "使用接口令牌" in zh and "首次使用：是" in zh
    en = boss.get("/security/events?kind=token_used&lang=en").get_data(as_text=True)
    assert "API token used" in en and "First use of the token: Yes" in en
