"""Malformed deduction data is the data's fault whatever the year's state: on a paid year too.

QA B3: ``POST /enrollments/{id}/events`` with ``{"event": "deduct", "data": {"paid_at":
1644460800, ...}}`` was ``422 invalid_data`` naming ``paid_at`` for a year whose deduction had
failed, but ``409 deduction_refused`` without ``details`` for a year already deducted: a paid
year's refusal was answered by the rules' status although what it said was the data's fault. The
README promises a 422 ``invalid_data`` naming the field whatever the year's state, and nothing
written; the deduction file rejects the same rows naming the field, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.journeys.conftest import Journey
from tests.journeys.deduction_setup import foshan_journey, import_deductions, register_in_foshan

PAID = "440604199001010018"  # deducted on 8 January
FAILED = "440604198505050019"  # the batch deduction failed for him

TAKEN_AT = "2022-01-08T10:00:00+08:00"
GOOD = {"amount": "320.00", "paid_at": TAKEN_AT}

MALFORMED: list[tuple[dict[str, Any], str]] = [
    ({"amount": "320.00", "paid_at": 1644460800}, "paid_at"),
    ({"amount": "320.00", "paid_at": "2022-W06-4"}, "paid_at"),
    ({"amount": "320.00", "paid_at": "2022-02-10T24:00:00+08:00"}, "paid_at"),
    ({"amount": "320.00", "paid_at": "2022-02-10T10:00:00+25:00"}, "paid_at"),
    ({"amount": 320, "paid_at": TAKEN_AT}, "amount"),
    ({"amount": "３２０", "paid_at": TAKEN_AT}, "amount"),
    ({**GOOD, "bogus": 1}, "bogus"),
]


def _years(j: Journey) -> dict[str, Any]:
    """Both people's years as the API shows them (state, payments): to see nothing written."""
    return {person: j.years(person) for person in (PAID, FAILED)}


def _paid_and_failed(j: Journey) -> tuple[int, int]:
    for person in (PAID, FAILED):
        register_in_foshan(j, person)
    paid = j.years(PAID)["foshan-2022"]["enrollment_id"]
    failed = j.years(FAILED)["foshan-2022"]["enrollment_id"]
    deduct = {"event": "deduct", "data": GOOD}
    j.api("POST", f"/enrollments/{paid}/events", "tax", deduct, expect=200)
    failure = {"event": "fail_deduction", "data": {"amount": "320.00", "reason": "余额不足"}}
    j.api("POST", f"/enrollments/{failed}/events", "tax", failure, expect=200)
    assert j.years(PAID)["foshan-2022"]["state"] == "deducted"
    assert j.years(FAILED)["foshan-2022"]["state"] == "deduction_failed"
    return paid, failed


@pytest.mark.parametrize("event", ["deduct", "fail_deduction"])
def test_malformed_result_data_is_422_naming_the_field_on_a_paid_year_too(
    journey_factory: Any, event: str
) -> None:
    j = foshan_journey(journey_factory)
    paid, failed = _paid_and_failed(j)
    before = _years(j)
    for data, field in MALFORMED:
        body = {"event": event, "data": data}
        if event == "fail_deduction" and field == "amount":
            continue  # a failure's amount is optional, but typed all the same: below
        answers = [
            j.api("POST", f"/enrollments/{year}/events", "tax", body, expect=422)
            for year in (failed, paid)
        ]
        for answer in answers:
            assert answer["code"] == "invalid_data", (data, answer)
            assert [d["field"] for d in answer["details"]] == [field], (data, answer)
            assert all(d["message_zh"] and d["message_en"] for d in answer["details"])
        # the same data is the same refusal, word for word, whatever the year's state
        assert answers[0] == answers[1], data
    assert _years(j) == before  # nothing written


def test_a_failure_with_a_malformed_amount_is_422_on_a_paid_year(journey_factory: Any) -> None:
    j = foshan_journey(journey_factory)
    paid, _ = _paid_and_failed(j)
    before = _years(j)
    for amount in (320, "３２０"):
        body = {"event": "fail_deduction", "data": {"amount": amount, "reason": "余额不足"}}
        answer = j.api("POST", f"/enrollments/{paid}/events", "tax", body, expect=422)
        assert answer["code"] == "invalid_data" and answer["details"][0]["field"] == "amount"
    assert _years(j) == before


def test_well_formed_results_for_a_paid_year_keep_their_verdicts(journey_factory: Any) -> None:
    """Only the data's shape moved ahead: the deduction on record sent again is unchanged (200),
    money taken again is the rules' 409 ``deduction_refused``."""
    j = foshan_journey(journey_factory)
    paid, _ = _paid_and_failed(j)
    again = {"event": "deduct", "data": GOOD}
    assert j.api("POST", f"/enrollments/{paid}/events", "tax", again, expect=200)["unchanged"]
    other_day = {"event": "deduct", "data": {**GOOD, "paid_at": "2022-01-09T10:00:00+08:00"}}
    twice = j.api("POST", f"/enrollments/{paid}/events", "tax", other_day, expect=409)
    assert twice["code"] == "deduction_refused" and "details" not in twice


def test_the_deduction_file_rejects_the_same_rows_naming_the_field(journey_factory: Any) -> None:
    """The file's door: each malformed row rejected (its line naming the field in both
    languages) for the paid year as for the failed one; nothing written."""
    j = foshan_journey(journey_factory)
    _paid_and_failed(j)
    before = _years(j)
    cells = [
        ("320.00", "2022-W06-4", "扣费时间", "Deducted at"),
        ("320.00", "2022-02-10T24:00:00+08:00", "扣费时间", "Deducted at"),
        ("320.00", "2022-02-10T10:00:00+25:00", "扣费时间", "Deducted at"),
        ("３２０", TAKEN_AT, "扣费金额（元）", "Amount deducted (yuan)"),
    ]
    for amount, paid_at, zh, en in cells:
        rows = "".join(f"{p},2022,{amount},成功,,{paid_at}\n" for p in (FAILED, PAID))
        out = import_deductions(j, "bad.csv", rows, exit_code=1)
        assert "applied: 0  unchanged: 0  rejected: 2" in out, out
        for line in (2, 3):
            [said] = [x for x in out.splitlines() if x.strip().startswith(f"line {line}: ")]
            assert zh in said and en in said, out
    assert _years(j) == before
