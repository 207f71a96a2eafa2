"""Deductions reported at both of the tax authority's doors, leaving the scheme, and refunds: what
a QA tester found through the API, the batch files and the command line (QA1 items 3, 4, 6, 7).

- The same deduction reported by the API and by a file without ``paid_at`` is one deduction:
  the deduction on record is the tax authority's deduction of the same amount, reported with no
  ``paid_at`` or on the same day (README), not a duplicate payment to refund.
- Paying for, or opening a year for, a person who left the scheme says that they left, on which
  day, and that they must register again: not that they "have no insured record".
- Rejecting a refund needs a reason, as rejecting a registration does, and the notice carries it.
- A failed deduction reported for a refunded year is unchanged because the year was refunded
  (已退费), not "closed".
"""

from __future__ import annotations

import re
from typing import Any

from tests.journeys.conftest import Journey
from tests.journeys.deduction_setup import (
    foshan_journey,
    import_deductions,
    refund_requested,
    register_in_foshan,
)

API_FIRST = "440604199203030017"  # deducted through the API, then reported by a file
FILE_FIRST = "440604199304040011"  # deducted by a file row without paid_at, then by the API
LEAVER = "440604198808080012"  # pays, leaves the scheme, then someone pays or opens a year
REFUNDED = "440604199105050014"  # deducted, asks for a refund


def _deduct(j: Journey, person: str, data: dict[str, str], expect: int) -> Any:
    year = j.years(person)["foshan-2022"]["enrollment_id"]
    body = {"event": "deduct", "data": data}
    return j.api("POST", f"/enrollments/{year}/events", "tax", body, expect=expect)


def test_one_deduction_reported_at_both_doors_without_paid_at_is_the_deduction_on_record(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    register_in_foshan(j, API_FIRST)
    register_in_foshan(j, FILE_FIRST)
    _deduct(j, API_FIRST, {"amount": "320.00"}, expect=200)
    j.at("2022-01-12T09:00:00+08:00")  # the file comes two days later, without paid_at

    out = import_deductions(j, "d.csv", f"{API_FIRST},2022,320.00,成功,\n", exit_code=0)
    assert "applied: 0  unchanged: 1  rejected: 0" in out and "重复缴费" not in out
    # the other way round: the file's row first, then the API's result of the same deduction
    assert "applied: 1" in import_deductions(
        j, "e.csv", f"{FILE_FIRST},2022,320.00,成功,\n", exit_code=0
    )
    j.at("2022-01-13T09:00:00+08:00")
    again = _deduct(j, FILE_FIRST, {"amount": "320.00"}, expect=200)
    assert again["unchanged"]["en"] == "this result is on record already"
    for person in (API_FIRST, FILE_FIRST):
        year = j.years(person)["foshan-2022"]
        assert (year["state"], year["amount_paid"]) == ("deducted", "320.00")

    # a time on the day on record is the same deduction; on another day, or another amount, it
    # is money taken twice
    recorded = j.years(API_FIRST)["foshan-2022"]["paid_at"]
    assert recorded.startswith("2022-01-10T10:00:00")
    rows = (
        f"{API_FIRST},2022,320.00,成功,,2022-01-10T08:30:00+08:00\n"  # line 2: the same day
        f"{API_FIRST},2022,320.00,成功,,2022-01-11T08:30:00+08:00\n"  # line 3: another day
    )
    out = import_deductions(j, "f.csv", rows, exit_code=1)
    assert "applied: 0  unchanged: 1  rejected: 1" in out
    [(line, text)] = re.findall(r"line (\d+): (.*)", out)
    assert line == "3" and "duplicate payment, refund needed" in text
    other_amount = _deduct(j, API_FIRST, {"amount": "300.00"}, expect=409)
    assert "duplicate payment" in other_amount["message_en"]


def test_paying_for_or_opening_a_year_for_someone_who_left_says_when_and_to_register_again(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    record, _ = register_in_foshan(j, LEAVER)
    j.api("POST", "/payments", "counter", {"id_number": LEAVER, "amount": "320.00"}, expect=200)
    leave = {"event": "leave_scheme", "data": {"reason": "迁出"}}
    j.api("POST", f"/registrations/{record}/events", "counter", leave, expect=200)
    j.at("2022-01-15T10:00:00+08:00")

    pay = {"id_number": LEAVER, "amount": "320.00", "policy": "foshan-2022"}
    paid = j.api("POST", "/payments", "counter", pay, expect=422)
    zh, en = paid["message_zh"], paid["message_en"]
    assert "已于 2022-01-10 终止参保" in zh and "请先重新办理参保登记" in zh
    assert "left the scheme on 2022-01-10" in en and "register again" in en
    assert "no insured record" not in en and "没有医保参保档案" not in zh
    assert LEAVER not in zh + en
    # the same words opening a year, through the API and at the command line
    reopen = {"id_number": LEAVER, "policy": "foshan-2022"}
    opened = j.api("POST", "/enrollments", "counter", reopen, expect=422)
    assert (opened["message_zh"], opened["message_en"]) == (zh, en)
    cli = j.cli(
        "people", "open-year", "--id-number", LEAVER, "--policy", "foshan-2022", exit_code=1
    )
    assert zh in cli.output and en in cli.output and "before paying" not in cli.output
    # registering again is what helps: then the person is insured again (the year paid before
    # they left is theirs still)
    register_in_foshan(j, LEAVER)
    again = j.api("POST", "/enrollments", "counter", reopen, expect=422)
    assert "left the scheme" not in again["message_en"] and "open already" in again["message_en"]


def _refund_task(j: Journey, person: str) -> int:
    register_in_foshan(j, person)
    _deduct(j, person, {"amount": "320.00"}, expect=200)
    return refund_requested(j, j.years(person)["foshan-2022"]["enrollment_id"])


def test_rejecting_a_refund_needs_a_reason_and_the_notice_carries_it(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    task = _refund_task(j, REFUNDED)
    bare = {"outcome": "reject_refund"}
    refused = j.api("POST", f"/tasks/{task}/complete", "clerks", bare, expect=422)
    assert "reason" in str(refused["details"]), refused
    assert j.years(REFUNDED)["foshan-2022"]["state"] == "refund_review"

    reasoned = {"outcome": "reject_refund", "data": {"reason": "未提供职工医保参保证明"}}
    j.api("POST", f"/tasks/{task}/complete", "clerks", reasoned, expect=200)
    assert j.years(REFUNDED)["foshan-2022"]["state"] == "deducted"
    found = j.api("POST", "/people/notices", "counter", {"id_number": REFUNDED}, expect=200)
    [notice] = [n for n in found["notices"] if n["kind"] == "refund_rejected"]
    assert "未提供职工医保参保证明" in notice["text"]["zh"]
    assert "未提供职工医保参保证明" in notice["text"]["en"]
    assert "—" not in notice["text"]["zh"]


def test_a_failure_for_a_refunded_year_is_unchanged_because_it_was_refunded(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    task = _refund_task(j, REFUNDED)
    j.api("POST", f"/tasks/{task}/complete", "clerks", {"outcome": "approve_refund"}, expect=200)
    assert j.years(REFUNDED)["foshan-2022"]["state"] == "refunded"

    year = j.years(REFUNDED)["foshan-2022"]["enrollment_id"]
    failed = {"event": "fail_deduction", "data": {"reason": "余额不足"}}
    late = j.api("POST", f"/enrollments/{year}/events", "tax", failed, expect=200)
    assert late["unchanged"] == {"zh": "已退费", "en": "the year's payment was refunded"}
    assert late["from_state"] == late["to_state"] == "refunded"
    out = import_deductions(j, "r.csv", f"{REFUNDED},2022,320.00,失败,余额不足,\n", exit_code=0)
    assert "unchanged (已退费 the year's payment was refunded): 1" in out
    assert "已结束" not in out and "closed" not in out
