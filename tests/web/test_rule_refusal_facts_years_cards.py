"""The year and card rules' refusals say which facts decided them, as the registration rules'
do (``tests/web/test_rule_refusal_details.py``; QA: "other refusals still without facts").

``POST /enrollments`` for a year of another region, or for a year that can no longer be paid,
and ``POST /cards`` refused by one person one card per province (a second application, a second
replacement, a replacement of a card that is not active, a replacement with no card): each
answered its code and words with no ``details``. Now each gives one detail naming the field the
rule judged, the ``rule`` and its ``facts`` (the policy, its region and the record's; the
period's end, the last day of late payment and the day used; the province, the card's id, state
and bank), never the ID number; status, code and words are as before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from tests.web.api_caller import Call, api_caller
from tests.web.insured_years import insured_year
from workflows.identity import make_id_number

NOW = datetime(2022, 12, 15, 2, tzinfo=UTC)  # huian-2023's period open; 2022 too late to pay
HUIAN = make_id_number("350521", date(1985, 5, 5), 31)
FOSHAN = make_id_number("440604", date(1980, 3, 3), 17)
NUMBERS = (HUIAN, FOSHAN)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def call(app: Flask) -> Call:
    scopes = {"app": ["channel"], "factory": ["factory"], "icbc": ["bank:icbc"]}
    return api_caller(app, scopes, NUMBERS)


def _decided(refused: dict[str, Any], code: str, field: str, rule: str) -> dict[str, Any]:
    assert refused["code"] == code, refused
    [detail] = refused.get("details") or [None]
    assert detail is not None, refused
    assert (detail["field"], detail["rule"]) == (field, rule), refused
    assert (detail["message_zh"], detail["message_en"]) == (
        refused["message_zh"],
        refused["message_en"],
    )
    return dict(detail["facts"])


def test_a_year_of_another_region_names_both_regions(call: Any, app: Flask) -> None:
    insured_year(app, HUIAN)
    body = {"id_number": HUIAN, "policy": "foshan-2022"}
    refused = call("POST", "/enrollments", "app", body, 422)
    facts = _decided(refused, "registration_refused", "policy", "other_region")
    assert facts == {
        "policy": "foshan-2022",
        "year": 2022,
        "policy_region": "foshan",
        "insured_region": "huian",
    }
    assert refused["message_en"].startswith("this person is insured in Hui'an")


def test_a_year_no_longer_payable_names_its_period_and_the_day(call: Any, app: Flask) -> None:
    insured_year(app, HUIAN)
    body = {"id_number": HUIAN, "policy": "huian-2022"}
    refused = call("POST", "/enrollments", "app", body, 422)
    facts = _decided(refused, "registration_refused", "policy", "year_not_payable")
    assert facts == {
        "policy": "huian-2022",
        "year": 2022,
        "payment_period_end": "2021-12-31",
        "late_payment_until": "2022-12-31",
        "day_used": "2022-12-15",
    }


def _apply(call: Any, expect: int, **extra: Any) -> dict[str, Any]:
    body = {"id_number": FOSHAN, "channel": "counter", "bank": "icbc", "region_code": "440604"}
    return call("POST", "/cards", "app", {**body, **extra}, expect)


def test_one_card_per_province_names_the_card_held(call: Any) -> None:
    refused = _apply(call, 422, replacement_reason="damaged")
    facts = _decided(refused, "card_application_refused", "id_number", "no_card_to_replace")
    assert facts == {"province": "44"}

    card = _apply(call, 201)["card"]["id"]
    refused = _apply(call, 422)
    facts = _decided(refused, "card_application_refused", "id_number", "one_card_per_province")
    assert facts == {"province": "44", "card_id": card, "state": "applied", "bank": "icbc"}

    refused = _apply(call, 422, replacement_reason="expired")
    facts = _decided(refused, "card_application_refused", "id_number", "card_not_replaceable")
    assert facts == {"province": "44", "card_id": card, "state": "applied", "bank": "icbc"}


def test_a_second_replacement_names_the_one_in_progress(call: Any) -> None:
    card = _apply(call, 201)["card"]["id"]
    for who, event, data in (
        ("factory", "produce", {}),
        ("icbc", "notify_holder", {}),
        ("icbc", "activate", {"presented_id_number": FOSHAN}),
    ):
        call("POST", f"/cards/{card}/events", who, {"event": event, "data": data}, 200)
    replacement = _apply(call, 201, replacement_reason="damaged")["card"]["id"]
    refused = _apply(call, 422, replacement_reason="damaged")
    facts = _decided(refused, "card_application_refused", "id_number", "one_card_per_province")
    assert facts == {"province": "44", "card_id": replacement, "state": "applied", "bank": "icbc"}
