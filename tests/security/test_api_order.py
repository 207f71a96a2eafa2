"""The order of the answers: 401, then 403, then 400/422, then 404, then 409/422.

An unauthenticated caller learns nothing about the schema (401 before 422); a token without the
endpoint's scope learns nothing about what exists or what state it is in (403 before any lookup);
a bank's or region's token cannot tell another's card or task from none at all (404 either way).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import queries
from web.api import routes as api_routes  # noqa: F401  (imports every endpoint module: fills ENDPOINTS)
from web.api.spec import ENDPOINTS, Endpoint
from web.api.tokens import Caller, holds
from web.app import engine_of
from web.security_log import recent
from workflows.identity import make_id_number

PERSON = make_id_number("440604", date(1990, 5, 17), 21)
SCOPES = {
    "app": "channel",
    "factory": "factory",
    "tax": "tax",
    "board": "read",
    "importer": "import",
    "icbc": "bank:icbc",
    "cmb": "bank:cmb",
    "huian-clerks": "clerk:huian",
    "foshan-clerks": "clerk:foshan",
    "admin": "admin",
}
"""The tokens the ``tokens`` fixture makes (``conftest.py``): name and scope."""
GUARDED = [e for e in ENDPOINTS if e.scopes]
MISSING = 999_999


def call(client: FlaskClient, spec: Endpoint, token: str | None, body: Any, **ids: Any) -> Any:
    path = spec.path
    for name in re.findall(r"\{(\w+)\}", path):
        path = path.replace("{" + name + "}", str(ids.get(name, MISSING)))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if spec.body is None:
        return client.open(f"/api/v1{path}", method=spec.method, headers=headers)
    return client.open(
        f"/api/v1{path}",
        method=spec.method,
        data=body,
        content_type="application/json",
        headers=headers,
    )


def accepted(spec: Endpoint) -> tuple[str, ...]:
    return tuple(re.sub(r"<\w+>$", "*", s) for s in spec.scopes)


def outsider(spec: Endpoint) -> str:
    """A token none of whose scopes the endpoint accepts."""
    return next(
        name
        for name, scope in SCOPES.items()
        if not holds(Caller(name, frozenset({scope})), *accepted(spec))
    )


def insider(spec: Endpoint) -> str:
    return next(
        name
        for name, scope in SCOPES.items()
        if holds(Caller(name, frozenset({scope})), *accepted(spec))
    )


def label(spec: Endpoint) -> str:
    return f"{spec.method} {spec.path}"


DEEP = "[" * 20_000 + "]" * 20_000
INVALID = '{"colour": "blue"}'


@pytest.mark.parametrize("spec", GUARDED, ids=label)
def test_no_token_is_401_before_anything_else(app: Flask, spec: Endpoint) -> None:
    client = app.test_client()
    for body in (DEEP, INVALID, "{not json"):
        for token in (None, "nope", "sb_" + "x" * 43):
            answer = call(client, spec, token, body)
            assert answer.status_code == 401, (label(spec), answer.get_json())
            assert answer.get_json()["code"] == "unauthenticated"
            assert "details" not in answer.get_json()  # nothing about the schema


@pytest.mark.parametrize("spec", GUARDED, ids=label)
def test_a_token_without_the_scope_is_403_before_validation_and_lookup(
    app: Flask, tokens: dict[str, str], spec: Endpoint
) -> None:
    client = app.test_client()
    for body in (DEEP, INVALID):
        answer = call(client, spec, tokens[outsider(spec)], body)
        assert answer.status_code == 403, (label(spec), answer.get_json())
        assert answer.get_json()["code"] == "forbidden"
    denied = recent(engine_of(app).db, kind="permission_denied")
    assert len(denied) == 2 and denied[0]["actor"] == f"api:{outsider(spec)}"
    assert denied[0]["detail"]["endpoint"].endswith(spec.path.replace("{", "<").replace("}", ">"))


@pytest.mark.parametrize("spec", [e for e in GUARDED if e.body is not None], ids=label)
def test_validation_comes_before_lookup(app: Flask, tokens: dict[str, str], spec: Endpoint) -> None:
    client = app.test_client()
    token = tokens[insider(spec)]
    assert call(client, spec, token, DEEP).status_code == 400
    invalid = call(client, spec, token, INVALID)
    assert invalid.status_code == 422, (label(spec), invalid.get_json())
    assert invalid.get_json()["code"] == "invalid_request"


@pytest.mark.parametrize("spec", [e for e in GUARDED if "{" in e.path], ids=label)
def test_lookup_comes_before_the_rules(app: Flask, tokens: dict[str, str], spec: Endpoint) -> None:
    valid = {
        "EventRequest": '{"event": "produce"}',
        "PaymentRequest": '{"amount": "360"}',
        "TaskCompletion": "{}",
    }
    body = valid.get(spec.body.__name__, "") if spec.body is not None else ""
    answer = call(
        app.test_client(), spec, tokens[insider(spec)], body, process="atlantis", name="nobody"
    )
    assert answer.status_code == 404, (label(spec), answer.get_json())


def a_card_awaiting_activation(client: FlaskClient, tokens: dict[str, str]) -> tuple[int, int]:
    def api(method: str, path: str, token: str, body: Any = None) -> Any:
        answer = client.open(
            f"/api/v1{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {tokens[token]}"},
        )
        assert answer.status_code < 300, answer.get_json()
        return answer.get_json()

    card = api(
        "POST",
        "/cards",
        "app",
        {"id_number": PERSON, "channel": "online", "bank": "icbc", "region_code": "440604"},
    )["card"]["id"]
    api("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    [task] = api("GET", "/tasks", "icbc")["tasks"]
    return card, task["id"]


def without_ids(body: dict[str, Any], *ids: int) -> dict[str, Any]:
    text = repr(body)
    for ident in ids:
        text = text.replace(str(ident), "N")
    return {"text": text}


def test_a_token_without_the_scope_learns_nothing_about_an_instance(
    app: Flask, tokens: dict[str, str]
) -> None:
    """Whether the card exists and which state it is in: the same 403 for all."""
    client = app.test_client()
    card, task = a_card_awaiting_activation(client, tokens)
    for path, token, body in [
        ("/cards/{}/events", "tax", '{"event": "activate"}'),
        ("/cards/{}/events", "board", '{"event": "produce"}'),
        ("/cards/{}/events", "importer", '{"colour": 1}'),
        ("/enrollments/{}/events", "factory", '{"event": "deduct"}'),
        ("/enrollments/{}/payments", "icbc", '{"amount": "360"}'),
        ("/tasks/{}/complete", "app", "{}"),
        ("/tasks/{}/complete", "tax", '{"data": {"presented_id_number": 1}}'),
    ]:
        answers = [
            client.post(
                f"/api/v1{path.format(ident)}",
                data=body,
                content_type="application/json",
                headers={"Authorization": f"Bearer {tokens[token]}"},
            )
            for ident in (card, task, MISSING)
        ]
        assert {a.status_code for a in answers} == {403}, (path, token)
        assert len({a.get_data() for a in answers}) == 1, (path, token)
    assert (
        client.get(
            f"/api/v1/cards/{card}", headers={"Authorization": f"Bearer {tokens['tax']}"}
        ).status_code
        == 403
    )


def test_another_banks_card_and_task_look_like_none_at_all(
    app: Flask, tokens: dict[str, str]
) -> None:
    client = app.test_client()
    card, task = a_card_awaiting_activation(client, tokens)

    def answer(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        got = client.open(
            f"/api/v1{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {tokens[token]}"},
        )
        return got.status_code, got.get_json()

    activate = {"event": "activate", "data": {"presented_id_number": PERSON}}
    for method, path, token, body, missing in [
        ("GET", f"/cards/{card}", "cmb", None, f"/cards/{MISSING}"),
        ("POST", f"/cards/{card}/events", "cmb", activate, f"/cards/{MISSING}/events"),
        (
            "POST",
            f"/tasks/{task}/complete",
            "cmb",
            {"data": {"presented_id_number": PERSON}},
            f"/tasks/{MISSING}/complete",
        ),
        ("POST", f"/tasks/{task}/complete", "huian-clerks", {}, f"/tasks/{MISSING}/complete"),
    ]:
        status, shown = answer(method, path, token, body)
        status_none, shown_none = answer(method, missing, token, body)
        assert status == status_none == 404, (path, shown)
        assert without_ids(shown, card, task) == without_ids(shown_none, MISSING)
    # the bank's own token sees it, and nothing moved
    assert answer("GET", f"/cards/{card}", "icbc")[0] == 200
    row = queries.instance(engine_of(app).db, card)
    assert row is not None and row["state"] == "awaiting_activation"
