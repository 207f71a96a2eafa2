"""Refusals say states, events, task statuses and regions in words, in the message's language;
the keys stay in the machine-readable fields (``code``, ``allowed``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine import interventions, queries
from engine.clock import SimulatedClock
from tests.web.insured_years import insured_year
from web.api.tokens import create_token
from web.app import engine_of
from workflows.identity import make_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
ALICE = make_id_number("440604", date(1990, 5, 17), 21)
CAROL = make_id_number("350521", date(1992, 2, 2), 41)
SCOPES = {"app": "channel", "tax": "tax", "icbc": "bank:icbc", "factory": "factory"}
KEY = re.compile(r"\b(deducted|pay|pay_late|huian|_cancelled_by_supervisor)\b")


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def call(app: Flask) -> Any:
    tokens = {n: create_token(engine_of(app).db, n, [s]) for n, s in SCOPES.items()}
    client = app.test_client()

    def call(method: str, path: str, who: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)

    return call


def no_keys(body: dict[str, Any]) -> None:
    for lang in ("message_zh", "message_en"):
        assert not KEY.search(body[lang]), body[lang]


def applied_card(call: Any) -> int:
    """Alice's card, applied for online at ICBC in Foshan: its id."""
    body = {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"}
    return int(call("POST", "/cards", "app", body).json["card"]["id"])


def test_a_second_payment_names_the_year_paid_in_words(app: Flask, call: Any) -> None:
    year = insured_year(app, CAROL)
    payment = {"amount": "360", "payer_kind": "self", "channel": "tax_hall"}
    assert call("POST", f"/enrollments/{year}/payments", "tax", payment).status_code == 200
    again = call("POST", f"/enrollments/{year}/payments", "tax", payment)
    assert again.status_code == 409 and again.json["code"] == "event_not_allowed"
    assert "已扣费" in again.json["message_zh"] and "Deducted" in again.json["message_en"]
    assert "缴费期内自行缴费" in again.json["message_zh"]
    no_keys(again.json)
    assert isinstance(again.json["allowed"], list)  # keys, as before


def test_an_event_to_a_cancelled_card_names_the_cancellation(app: Flask, call: Any) -> None:
    card = applied_card(call)
    engine = engine_of(app)
    version = queries.instance(engine.db, card)["version"]  # type: ignore[index]
    interventions.cancel(engine, card, expected_version=version, actor="boss", reason="重复申领")
    refused = call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    assert refused.status_code == 409 and refused.json["code"] == "event_not_allowed"
    assert "已由主管终止" in refused.json["message_zh"]
    assert "Cancelled by a supervisor" in refused.json["message_en"]
    no_keys(refused.json)


def test_a_task_done_already_says_so_in_words(app: Flask, call: Any) -> None:
    card = applied_card(call)
    call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    [task] = call("GET", "/tasks", "icbc").json["tasks"]
    body = {"data": {"presented_id_number": ALICE}}
    assert call("POST", f"/tasks/{task['id']}/complete", "icbc", body).status_code == 200
    again = call("POST", f"/tasks/{task['id']}/complete", "icbc", body)
    assert again.status_code == 409 and again.json["code"] == "task_not_open"
    assert "办结" in again.json["message_zh"] and "completed" not in again.json["message_zh"]
    no_keys(again.json)


def test_a_year_of_another_region_names_the_persons_region(app: Flask, call: Any) -> None:
    insured_year(app, CAROL)
    body = {"id_number": CAROL, "policy": "foshan-2022"}
    refused = call("POST", "/enrollments", "app", body)
    assert refused.status_code == 422 and refused.json["code"] == "registration_refused"
    assert "惠安县" in refused.json["message_zh"] and "Hui'an" in refused.json["message_en"]
    no_keys(refused.json)


def test_an_event_no_outside_system_sends_is_named_in_words(app: Flask, call: Any) -> None:
    card = applied_card(call)
    label = engine_of(app).definition("card").events["seal_uncollected"].label
    refused = call("POST", f"/cards/{card}/events", "icbc", {"event": "seal_uncollected"})
    assert refused.status_code == 409 and refused.json["code"] == "event_not_allowed"
    assert f"“{label.zh}”" in refused.json["message_zh"]
    assert f"“{label.en}”" in refused.json["message_en"]
    assert "seal_uncollected" not in refused.json["message_zh"] + refused.json["message_en"]


def test_an_outcome_the_task_has_not_is_refused_naming_its_outcomes(app: Flask, call: Any) -> None:
    card = applied_card(call)
    call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    [task] = call("GET", "/tasks", "icbc").json["tasks"]
    events = engine_of(app).definition("card").events
    body = {"outcome": "produce", "data": {"presented_id_number": ALICE}}
    refused = call("POST", f"/tasks/{task['id']}/complete", "icbc", body)
    assert refused.status_code == 422 and refused.json["code"] == "invalid_task_outcome"
    assert f"“{events['produce'].label.zh}”" in refused.json["message_zh"]
    assert f"“{events['activate'].label.en}”" in refused.json["message_en"]
    assert "activate" in refused.json["allowed"]  # the keys, as before
