"""A request body of the wrong shape is refused naming each field, in Chinese and English, in the
words an event's data gets for the same fact, whichever endpoint it came to; nothing it sent (an
ID number) comes back. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from engine.forms import AMOUNT_PATTERN, parse_amount
from tests.web.insured_years import insured_year
from web.api.tokens import create_token
from web.app import engine_of
from workflows.identity import make_id_number, mask_id_number

CAROL = make_id_number("350521", date(1992, 2, 2), 41)
NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # huian-2023's payment period is open


class Door:
    """The JSON API with a tax authority's token."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.token = create_token(engine_of(app).db, "tax", ["tax"])

    def post(self, path: str, body: Any) -> tuple[int, dict[str, Any], str]:
        answer = self.client.post(
            f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        return answer.status_code, answer.get_json(), answer.get_data(as_text=True)

    def refused(self, path: str, body: Any, code: str) -> dict[str, Any]:
        status, found, text = self.post(path, body)
        assert (status, found["code"]) == (422, code), found
        # nothing the caller sent as an ID number comes back, whole or masked
        assert CAROL not in text and mask_id_number(CAROL) not in text, found
        return found

    def event_words(self, year: int, data: Any) -> dict[str, tuple[str, str]]:
        """What the event-data check says of each field of a deduction's ``data``."""
        found = self.refused(
            f"/enrollments/{year}/events", {"event": "deduct", "data": data}, "invalid_data"
        )
        return {d["field"]: (d["message_zh"], d["message_en"]) for d in found["details"]}


def words(found: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each field a refusal names, with its words in Chinese and English."""
    return {d["field"]: (d["message_zh"], d["message_en"]) for d in found["details"]}


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def door(app: Flask) -> Door:
    return Door(app)


@pytest.fixture
def year(app: Flask) -> int:
    """Carol's huian-2023 year: brought in while its payment period is open, the import opens it."""
    return insured_year(app, CAROL)


def test_an_amount_of_the_wrong_form_gets_the_event_datas_words_at_every_door(
    door: Door, year: int
) -> None:
    """``320`` (a number) and ``"３２０"`` (full-width digits) are refused as a payment's body
    with the words, in both languages, that the same amount gets as a deduction's data."""
    for amount in (320, "３２０"):
        same = door.event_words(year, {"amount": amount})["amount"]
        for path, body in [
            ("/payments", {"id_number": CAROL, "amount": amount}),
            (f"/enrollments/{year}/payments", {"amount": amount}),
        ]:
            found = door.refused(path, body, "invalid_request")
            assert words(found) == {"amount": same}, (path, found)
            assert [d["loc"] for d in found["details"]] == [["amount"]]  # as before
            # the message names the field and says what is wrong, in each language
            assert f"amount：{same[0]}" in found["message_zh"], found
            assert f"amount: {same[1]}" in found["message_en"], found


def test_a_time_of_the_wrong_form_gets_the_event_datas_words(door: Door, year: int) -> None:
    for paid_at in ("2022-10-01 10:00", "1999-10-01T10:00:00+08:00", 1664589600):
        same = door.event_words(year, {"amount": "360", "paid_at": paid_at})["paid_at"]
        found = door.refused(
            f"/enrollments/{year}/payments",
            {"amount": "360", "paid_at": paid_at},
            "invalid_request",
        )
        assert words(found) == {"paid_at": same}, (paid_at, found)


def test_a_body_of_the_wrong_shape_names_where_in_both_languages(door: Door, year: int) -> None:
    """A list for the body or for ``data``, a key no endpoint takes, a field left out: each named,
    in the words the event-data check uses for an unknown field and a missing one."""
    unknown = door.event_words(year, {"amount": "360", "colour": "blue"})["colour"]
    missing = door.event_words(year, {})["amount"]
    whole = door.refused("/payments", [], "invalid_request")
    assert [d["field"] for d in whole["details"]] == [""], whole
    [detail] = whole["details"]
    assert "对象" in detail["message_zh"] and "object" in detail["message_en"], whole
    assert "请求体" in whole["message_zh"] and "the body" in whole["message_en"], whole
    listed = door.refused(
        f"/enrollments/{year}/events", {"event": "deduct", "data": []}, "invalid_request"
    )
    assert words(listed) == {"data": (detail["message_zh"], detail["message_en"])}, listed
    extra = door.refused(
        f"/enrollments/{year}/payments", {"amount": "360", "colour": "blue"}, "invalid_request"
    )
    assert words(extra) == {"colour": unknown}, extra
    left_out = door.refused("/payments", {"id_number": CAROL}, "invalid_request")
    assert words(left_out) == {"amount": missing}, left_out


def test_a_value_of_no_accepted_type_in_data_is_named_once(door: Door, year: int) -> None:
    """An object where an event's data takes a value: one problem for the field, not one per
    type the value could have been; an ID number sent as a key is not named back."""
    found = door.refused(
        f"/enrollments/{year}/events",
        {"event": "deduct", "data": {"amount": {"yuan": 360}}, CAROL: 1},
        "invalid_request",
    )
    fields = [d["field"] for d in found["details"]]
    assert sorted(fields) == ["<key>", "data.amount"], found
    for detail in found["details"]:
        assert detail["message_zh"] and detail["message_en"], found


def test_the_description_still_says_what_an_amount_must_look_like(app: Flask) -> None:
    """Found by CI's schemathesis run: with the amount's check run before its pattern declared
    after it, pydantic left the pattern out of the API description, which then called amounts
    valid that the service refused. Every amount a client sends is described with its pattern,
    and what the pattern admits is an amount the check accepts."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for model in ("PaymentRequest", "PersonPayment"):
        amount = schemas[model]["properties"]["amount"]
        assert amount.get("pattern") == AMOUNT_PATTERN, (model, amount)
    for sample in ("0", "360", "360.5", "9999999.99"):
        assert re.fullmatch(AMOUNT_PATTERN, sample)
        parse_amount(sample)
