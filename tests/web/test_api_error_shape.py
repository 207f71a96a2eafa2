"""Every 422 of the API in one shape: ``code``, ``message_zh``, ``message_en`` and ``details``,
each naming its ``field`` with ``message_zh`` and ``message_en``. The same fact gets the same
code whichever endpoint it came to (an ID number with a wrong check digit), an event's data is
checked before the rules (a payment without the payer it names), an unknown event or query
parameter is named, and the words read as sentences (the event and the task in words). Nothing
sent as an ID number comes back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from tests.web.insured_years import insured_year
from web.api.tokens import create_token
from web.app import engine_of
from workflows.identity import make_id_number, mask_id_number

CAROL = make_id_number("350521", date(1992, 2, 2), 41)
DAVE = make_id_number("350521", date(1988, 8, 8), 51)
WRONG = CAROL[:17] + ("0" if CAROL[17] != "0" else "1")
"""Carol's number with a wrong check digit."""
NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # huian-2023's payment period is open


class Door:
    """The JSON API with a token of each scope these tests use."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        db = engine_of(app).db
        self.tokens = {
            scope: create_token(db, scope.replace(":", "-"), [scope])
            for scope in ("channel", "tax", "factory", "import", "clerk:huian")
        }

    def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any, str]:
        answer = self.client.open(
            f"/api/v1{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )
        text = answer.get_data(as_text=True)
        assert WRONG not in text and CAROL not in text and DAVE not in text, text
        return answer.status_code, answer.get_json(), text

    def refused(self, path: str, who: str, body: Any, code: str, method: str = "POST") -> Any:
        """A 422 with ``code`` in the one shape: each detail names its field in both languages."""
        status, found, _ = self.call(method, path, who, body)
        assert (status, found["code"]) == (422, code), found
        assert found["message_zh"] and found["message_en"], found
        for detail in found["details"]:
            assert isinstance(detail["field"], str), found
            assert detail["message_zh"] and detail["message_en"], found
        return found


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def door(app: Flask) -> Door:
    return Door(app)


def fields(found: dict[str, Any]) -> list[str]:
    return [d["field"] for d in found["details"]]


def test_a_wrong_check_digit_is_the_same_refusal_at_every_endpoint(door: Door) -> None:
    """QA: /payments, /registrations and /cards answered three codes of their own and no
    details; /people/* a detail without field or words."""
    for path, body in [
        ("/payments", {"id_number": WRONG, "amount": "360.00"}),
        ("/registrations", {"id_number": WRONG, "name": "张三", "region": "huian"}),
        (
            "/cards",
            {"id_number": WRONG, "channel": "online", "bank": "icbc", "region_code": "440604"},
        ),
        ("/enrollments", {"id_number": WRONG, "policy": "huian-2023"}),
        ("/people/reduction-claims", {"id_number": WRONG, "category": "dibao", "evidence": "x"}),
        ("/people/enrollments", {"id_number": WRONG}),
        ("/people/cards", {"id_number": WRONG}),
        ("/people/notices", {"id_number": WRONG}),
    ]:
        found = door.refused(path, "channel", body, "invalid_id_number")
        [detail] = found["details"]
        assert detail["field"] == "id_number", (path, found)
        assert "校验位" in detail["message_zh"] and "check character" in detail["message_en"]
        assert found["message_en"].startswith("id_number: "), found
    # a payer's number in a payment's body is refused the same way, naming its own field
    found = door.refused(
        "/payments",
        "channel",
        {"id_number": CAROL, "amount": "360", "payer_kind": "family", "payer_id_number": WRONG},
        "invalid_id_number",
    )
    assert fields(found) == ["payer_id_number"]


def test_refusals_of_the_request_name_the_field_in_both_languages(app: Flask, door: Door) -> None:
    """QA: a time of payment from a channel and an unpaired surrogate had details with ``loc``
    and ``msg`` only."""
    insured_year(app, CAROL)
    found = door.refused(
        "/payments",
        "channel",
        {"id_number": CAROL, "amount": "360", "paid_at": "2022-10-01T10:00:00+08:00"},
        "paid_at_not_allowed",
    )
    assert fields(found) == ["paid_at"]
    assert found["details"][0]["loc"] == ["paid_at"]  # the first version's place, kept
    status, _, _ = door.call("POST", "/payments", "channel", None)  # a body is needed
    assert status == 400
    answer = door.client.post(
        "/api/v1/payments",
        data='{"id_number": "\\ud800", "amount": "360"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {door.tokens['channel']}"},
    )
    assert answer.status_code == 422 and answer.json["code"] == "invalid_characters"
    [detail] = answer.json["details"]
    assert detail["field"] == "id_number" and "surrogate" in detail["message_en"]
    assert "Unicode" in detail["message_zh"]


def test_an_event_no_process_has_is_a_422_naming_the_field_event(app: Flask, door: Door) -> None:
    """QA: ``bogus_event`` was a 409 "cannot be sent through the API"; an event that exists
    but is no outside system's to send stays that 409."""
    year = insured_year(app, CAROL)
    found = door.refused(
        f"/enrollments/{year}/events", "tax", {"event": "bogus_event"}, "unknown_event"
    )
    assert fields(found) == ["event"] and "bogus_event" not in str(found)
    assert "Resident medical insurance year" in found["message_en"], found
    applied = door.call(
        "POST",
        "/cards",
        "channel",
        {"id_number": DAVE, "channel": "online", "bank": "icbc", "region_code": "440604"},
    )
    card = applied[1]["card"]["id"]
    door.refused(f"/cards/{card}/events", "factory", {"event": "bogus_event"}, "unknown_event")
    status, sealed, _ = door.call(
        "POST", f"/cards/{card}/events", "factory", {"event": "seal_uncollected"}
    )
    assert (status, sealed["code"]) == (409, "event_not_allowed")


def test_a_payment_naming_no_payer_is_refused_as_its_data_before_any_rule(
    app: Flask, door: Door
) -> None:
    """QA (Foshan): a family payment without the payer's ID number was a 409 of the rules.
    It is the data's fault: a 422 naming the field, even where a rule would refuse the payment
    too (a time of payment before the period: the period's rule spoke first)."""
    insured_year(app, CAROL)
    for paid_at in (None, "2022-08-15T10:00:00+08:00"):
        body = {"id_number": CAROL, "amount": "360", "payer_kind": "family"}
        found = door.refused(
            "/payments", "tax", body | ({"paid_at": paid_at} if paid_at else {}), "invalid_data"
        )
        assert fields(found) == ["payer_id_number"], found
        # the event and the field in words: no internal name such as enrollment.pay
        assert "enrollment." not in found["message_en"], found
        assert "Payer's ID number" in found["message_en"], found
    # with the payer named, the rules speak: the payer may not be the insured person
    status, oneself, _ = door.call("POST", "/payments", "tax", body | {"payer_id_number": CAROL})
    assert status == 409 and "other than the insured" in oneself["message_en"], oneself


def test_invalid_data_names_the_event_and_the_task_in_words(app: Flask, door: Door) -> None:
    """QA: "invalid data for enrollment.deduct: ..." and "invalid data for task 673: ..."."""
    year = insured_year(app, CAROL)
    found = door.refused(
        f"/enrollments/{year}/events",
        "tax",
        {"event": "deduct", "data": {"amount": 360}},
        "invalid_data",
    )
    assert found["message_en"].startswith(
        "the data sent for “Batch deduction succeeded” is not valid: Amount deducted (yuan): "
    ), found
    assert found["message_zh"].startswith("“税务批量扣费成功”的数据有误：扣费金额（元）："), found
    registered = door.call(
        "POST", "/registrations", "channel", {"id_number": DAVE, "name": "李四", "region": "huian"}
    )
    assert registered[0] == 201, registered[1]
    [task] = door.call("GET", "/tasks", "clerk:huian")[1]["tasks"]
    found = door.refused(
        f"/tasks/{task['id']}/complete",
        "clerk:huian",
        {"outcome": "approve_registration", "data": {"document_kind": "passport"}},
        "task_form_invalid",
    )
    label = engine_of(app).definition("person").states[task["state"]].task.label  # type: ignore[union-attr]
    assert found["message_en"].startswith(
        f"the form of task {task['id']} “{label.en}” is not filled in correctly: "
    ), found
    assert found["message_zh"].startswith(f"任务 {task['id']}“{label.zh}”填写的内容有误："), found


def test_a_time_of_payment_after_the_clock_is_said_in_words(app: Flask, door: Door) -> None:
    """QA: "paid_at cannot be later than the service clock" (a raw key in a sentence)."""
    insured_year(app, CAROL)
    status, found, _ = door.call(
        "POST",
        "/payments",
        "tax",
        {"id_number": CAROL, "amount": "360", "paid_at": "2022-10-11T10:00:00+08:00"},
    )
    assert status == 409, found
    assert found["message_en"] == "the time of payment cannot be later than the service's clock"


def test_unknown_and_malformed_query_parameters_are_named(door: Door) -> None:
    """QA: ``GET /tasks?foo=1`` was answered as ``GET /tasks``; ``?limit=abc`` said
    "after_id/limit out of range" naming no field."""
    found = door.refused("/tasks?foo=1", "clerk:huian", None, "invalid_request", "GET")
    assert fields(found) == ["foo"] and "not a parameter" in found["details"][0]["message_en"]
    found = door.refused(
        "/tasks?limit=abc&after_id=-1", "clerk:huian", None, "invalid_request", "GET"
    )
    assert fields(found) == ["after_id", "limit"], found
    found = door.refused("/tasks?limit=501", "clerk:huian", None, "invalid_request", "GET")
    assert found["details"][0]["message_en"] == "a whole number from 1 to 500", found
    # a name that is not field-like is not echoed
    found = door.refused(f"/tasks?{CAROL}=1", "clerk:huian", None, "invalid_request", "GET")
    assert fields(found) == ["<key>"], found
    status, listed, _ = door.call("GET", "/tasks?limit=5&after_id=0", "clerk:huian")
    assert status == 200 and listed["tasks"] == [], listed


def test_an_imports_rejected_rows_say_why_as_every_error_does(door: Door) -> None:
    """QA: rejected rows said ``reason``/``reason_zh`` where every other body says
    ``message_en``/``message_zh``; the first version's names stay beside them."""
    rows = [{"id_number": WRONG, "name": "张三", "region": "huian"}]
    status, report, _ = door.call("POST", "/imports/people", "import", {"rows": rows})
    assert status == 200, report
    [row] = report["rejected"]
    assert "check character" in row["message_en"] and "校验位" in row["message_zh"], row
    assert (row["reason"], row["reason_zh"]) == (row["message_en"], row["message_zh"])
    assert mask_id_number(WRONG) not in str(report)
