"""A refusal by a domain rule says which facts decided it (QA: rule refusals without details).

``POST /registrations`` refused for a newborn registered after the window, for a reduction
category whose condition is not met or for a person with a record already, ``POST /enrollments``
for a year that is open already, ``POST /people/reduction-claims`` and a clerk's approval through
``POST /tasks/{id}/complete`` refused by a category's condition: each answered ``code`` and the
messages but no ``details``, while a field's refusal names the field. Now each gives one detail
naming the field the rule judged, the ``rule`` and its ``facts`` (the window's days and the day
used; the category, the day and each condition with whether it is met; the record's process,
instance id, state and year), never the ID number, and the status and code are as before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from tests.web.api_caller import Call, api_caller
from tests.web.insured_years import insured_year
from web.app import engine_of
from workflows.identity import make_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # 2022-10-10 in China: huian-2023's period is open
ADULT = make_id_number("350521", date(1992, 2, 2), 41)  # 30, not disabled
BABY = make_id_number("350521", date(2021, 8, 1), 12)  # born 14 months before NOW
TEEN = make_id_number("350521", date(2004, 10, 15), 21)  # 17 at NOW, 18 from 2022-10-15
NUMBERS = (ADULT, BABY, TEEN)
LOW_INCOME_CONDITIONS = [
    {"condition": "flag", "value": "disabled", "met": False},
    {"condition": "age_at_least", "value": 60, "met": False},
    {"condition": "age_under", "value": 18, "met": False},
]


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(clock)


@pytest.fixture
def call(app: Flask) -> Call:
    return api_caller(app, {"app": ["channel"], "clerk": ["clerk:huian"]}, NUMBERS)


def _decided(refused: dict[str, Any], code: str, field: str, rule: str) -> dict[str, Any]:
    """The refusal's one detail, in the shape of every detail, naming ``field`` and ``rule``:
    its facts."""
    assert refused["code"] == code, refused
    [detail] = refused.get("details") or [None]
    assert detail is not None, refused
    assert detail["field"] == field, refused
    assert detail["message_zh"] and detail["message_en"], refused
    assert detail["rule"] == rule, refused
    return dict(detail["facts"])


def test_a_newborn_registered_after_the_window_is_told_the_window_and_the_day(call: Any) -> None:
    body = {"id_number": BABY, "name": "张小", "region": "huian", "flags": ["newborn"]}
    refused = call("POST", "/registrations", "app", body, 422)
    facts = _decided(refused, "registration_refused", "flags", "newborn_window")
    # the window, not its days: they would tell the baby's birth date
    assert facts == {"flag": "newborn", "window": "P1Y", "day_used": "2022-10-10"}
    assert "2021-08-01" not in str(refused) and "2022-08-01" not in str(refused)
    assert "within a year of birth" in refused["message_en"]  # the words as before


def test_a_category_whose_condition_fails_names_each_condition_at_every_door(
    call: Any, app: Flask
) -> None:
    body = {
        "id_number": ADULT,
        "name": "甲",
        "region": "huian",
        "reduction_categories": ["low_income"],
    }
    refused = call("POST", "/registrations", "app", body, 422)
    facts = _decided(refused, "registration_refused", "reduction_categories", "reduction_condition")
    assert facts == {
        "category": "low_income",
        "policy": "huian-2023",
        "day_used": "2022-10-10",
        "conditions": LOW_INCOME_CONDITIONS,
    }

    insured_year(app, ADULT)
    claim = {"id_number": ADULT, "category": "low_income", "evidence": "低收入证明 1"}
    refused = call("POST", "/people/reduction-claims", "app", claim, 422)
    assert _decided(refused, "reduction_claim_refused", "category", "reduction_condition") == facts
    # the record's events door: the claim's data refused naming the field, with the same facts
    [(person, _)] = queries.by_business_key(engine_of(app).db, "person", ADULT)
    event = {"event": "claim_reduction", "data": {"category": "low_income", "evidence": "证明"}}
    refused = call("POST", f"/registrations/{person}/events", "app", event, 422)
    assert _decided(refused, "invalid_data", "category", "reduction_condition") == facts


def test_a_clerks_approval_refused_by_a_condition_names_it(
    call: Any, clock: SimulatedClock
) -> None:
    """Declared at 17, approved at 18: the 409 of the approval's guard names the category's
    conditions and the day the clerk approved on."""
    body = {
        "id_number": TEEN,
        "name": "丙",
        "region": "huian",
        "reduction_categories": ["low_income"],
    }
    call("POST", "/registrations", "app", body, 201)
    clock.set(datetime(2022, 10, 16, 2, tzinfo=UTC))
    [task] = call("GET", "/tasks", "clerk", None, 200)["tasks"]
    done = {"outcome": "approve_registration", "data": {"document_kind": "household_register"}}
    refused = call("POST", f"/tasks/{task['id']}/complete", "clerk", done, 409)
    facts = _decided(refused, "transition_refused", "reduction_categories", "reduction_condition")
    assert facts["category"] == "low_income" and facts["day_used"] == "2022-10-16", facts
    assert facts["conditions"][2] == {"condition": "age_under", "value": 18, "met": False}


def test_a_record_or_year_on_the_books_already_is_named_by_its_instance_and_state(
    call: Any, app: Flask
) -> None:
    body = {"id_number": BABY, "name": "张小", "region": "huian"}
    made = call("POST", "/registrations", "app", body, 201)
    refused = call("POST", "/registrations", "app", body, 422)
    facts = _decided(refused, "registration_refused", "id_number", "duplicate_record")
    assert facts == {
        "process": "person",
        "instance_id": made["person"]["id"],
        "state": "registration_review",
    }
    # the words as before
    assert refused["message_zh"] == f"该居民已有参保档案（{made['person']['id']}，参保登记审核）"

    year = insured_year(app, ADULT)
    again = {"id_number": ADULT, "policy": "huian-2023"}
    refused = call("POST", "/enrollments", "app", again, 422)
    facts = _decided(refused, "registration_refused", "policy", "duplicate_record")
    assert facts == {
        "process": "enrollment",
        "instance_id": year,
        "state": "registered",
        "policy": "huian-2023",
        "year": 2023,
    }
