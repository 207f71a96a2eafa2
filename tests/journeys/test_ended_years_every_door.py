"""A year that has ended says the same at every door: a refunded year and a year closed when its
person left the scheme, through the API (payments by enrollment and by ID number, opening the year,
the tax authority's event door), a deduction file and the command line, on SQLite and PostgreSQL.

Issues (QA D4, D6, D7): after a refund, the deduction on record sent again was refused by the API
(409) and by a file the API had delivered first, while it is unchanged before the refund; the
refund's refusal told the person to register again, which cannot help, and the approval of that
new registration listed a start of the year that never happened; a person who left the scheme was
told by the ID-number door to register first "having no record", and the deduction doors named
the year's state instead of saying why it takes no payment.
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey
from tests.journeys.deduction_setup import (
    foshan_journey,
    import_deductions,
    refund_requested,
    register_in_foshan,
)

REFUNDED = "440604199001010018"  # pays by deduction, is refunded as an employee, leaves, returns
LEAVER = "440604198505050019"  # registered, leaves the scheme before paying
TAKEN_AT = "2022-01-08T10:00:00+08:00"
DEDUCT = {"event": "deduct", "data": {"amount": "320.00", "paid_at": TAKEN_AT}}


def _words(answer: dict[str, Any]) -> tuple[str, str]:
    return answer["message_zh"], answer["message_en"]


def _leave(j: Journey, record: int) -> None:
    body = {"event": "leave_scheme", "data": {"reason": "迁出"}}
    j.api("POST", f"/registrations/{record}/events", "counter", body, expect=200)


def _refund(j: Journey, year: int) -> None:
    task = refund_requested(j, year)
    j.api("POST", f"/tasks/{task}/complete", "clerks", {"outcome": "approve_refund"}, expect=200)


def _pay_year(j: Journey, year: int) -> dict[str, Any]:
    """A channel's payment of enrollment ``year``, refused (422)."""
    body = {"amount": "320.00"}
    return dict(j.api("POST", f"/enrollments/{year}/payments", "counter", body, expect=422))


def _years(j: Journey, person: str) -> list[dict[str, Any]]:
    """Every year of ``person``'s, in whichever list the year query puts it."""
    found = j.api("POST", "/people/enrollments", "counter", {"id_number": person}, expect=200)
    listed = [y for part in found.values() if isinstance(part, list) for y in part]
    return list({y["enrollment_id"]: y for y in listed}.values())


def test_the_deduction_on_record_is_unchanged_after_its_refund_at_both_doors(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    register_in_foshan(j, REFUNDED)
    year = j.years(REFUNDED)["foshan-2022"]["enrollment_id"]
    j.api("POST", f"/enrollments/{year}/events", "tax", DEDUCT, expect=200)
    _refund(j, year)
    assert j.years(REFUNDED)["foshan-2022"]["state"] == "refunded"

    again = j.api("POST", f"/enrollments/{year}/events", "tax", DEDUCT, expect=200)
    assert again["unchanged"]["en"] == "this result is on record already"
    assert again["from_state"] == again["to_state"] == "refunded"
    same_row = f"{REFUNDED},2022,320.00,成功,,{TAKEN_AT}\n"
    out = import_deductions(j, "same.csv", same_row, exit_code=0)
    assert "applied: 0  unchanged: 1  rejected: 0" in out

    # a deduction that is not the one on record: the refunded year's own words at both doors,
    # and the money it took is to be given back
    other = {
        "event": "deduct",
        "data": {"amount": "320.00", "paid_at": "2022-01-09T10:00:00+08:00"},
    }
    refused = j.api("POST", f"/enrollments/{year}/events", "tax", other, expect=409)
    assert refused["code"] == "deduction_refused"
    paying = _pay_year(j, year)
    zh = f"{paying['message_zh']}；本次扣款 320.00 元需要退还"
    en = f"{paying['message_en']}; this deduction of 320.00 yuan is to be refunded"
    assert (refused["message_zh"], refused["message_en"]) == (zh, en)
    other_row = f"{REFUNDED},2022,320.00,成功,,2022-01-09T10:00:00+08:00\n"
    out = import_deductions(j, "other.csv", other_row, exit_code=1)
    assert f"line 2: {zh} / {en}" in out
    assert j.years(REFUNDED)["foshan-2022"]["state"] == "refunded"  # nothing was written


def test_a_deduction_first_delivered_by_file_is_unchanged_at_the_api_after_the_refund(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    register_in_foshan(j, REFUNDED)
    year = j.years(REFUNDED)["foshan-2022"]["enrollment_id"]
    row = f"{REFUNDED},2022,320.00,成功,,{TAKEN_AT}\n"
    assert "applied: 1" in import_deductions(j, "d.csv", row, exit_code=0)
    _refund(j, year)

    again = j.api("POST", f"/enrollments/{year}/events", "tax", DEDUCT, expect=200)
    assert again["unchanged"]["zh"] == "该结果已记录"
    assert "applied: 0  unchanged: 1  rejected: 0" in import_deductions(
        j, "d2.csv", row, exit_code=0
    )


def test_a_refunded_year_says_what_can_still_be_done_and_no_start_is_made_up(
    journey_factory: Any,
) -> None:
    j = foshan_journey(journey_factory)
    record, approved = register_in_foshan(j, REFUNDED)
    [opened] = approved["followups"]  # a real start: the year opens
    year = opened["instance_id"]
    assert (opened["event"], opened["to_state"], opened["replayed"]) == (
        "start",
        "registered",
        False,
    )
    j.api("POST", f"/enrollments/{year}/events", "tax", DEDUCT, expect=200)
    _refund(j, year)
    pay = {"id_number": REFUNDED, "amount": "320.00"}
    refused = j.api("POST", "/payments", "counter", pay, expect=422)
    zh, en = _words(refused)
    # registering again cannot help (the year stays theirs): the next year or an appeal can
    assert "not even after registering again" in en and "重新办理参保登记也不能" in zh
    assert "next policy year" in en and "appeal" in en
    assert "下一年度" in zh and "申诉" in zh

    _leave(j, record)
    assert _words(j.api("POST", "/payments", "counter", pay, expect=422)) == (zh, en)
    _, approved = register_in_foshan(j, REFUNDED)
    assert approved["to_state"] == "insured"
    assert approved["followups"] == []  # the refunded year stays: nothing started
    # the same words by ID number, by enrollment, opening the year, and at the command line
    assert _words(j.api("POST", "/payments", "counter", pay, expect=422)) == (zh, en)
    by_year = _pay_year(j, year)
    assert _words(by_year) == (zh, en)
    reopen = {"id_number": REFUNDED, "policy": "foshan-2022"}
    reopened = j.api("POST", "/enrollments", "counter", reopen, expect=422)
    assert _words(reopened) == (zh, en)
    [detail] = reopened["details"]  # the rule and the year that decided it
    assert (detail["field"], detail["rule"]) == ("policy", "year_ended")
    assert detail["facts"] == {
        "policy": "foshan-2022",
        "year": 2022,
        "instance_id": year,
        "state": _years(j, REFUNDED)[0]["state"],
    }
    cli = j.cli(
        "people", "open-year", "--id-number", REFUNDED, "--policy", "foshan-2022", exit_code=1
    )
    assert en in cli.output and zh in cli.output
    assert [y["enrollment_id"] for y in _years(j, REFUNDED)] == [year]


def test_a_year_closed_on_leaving_says_why_at_every_door(journey_factory: Any) -> None:
    j = foshan_journey(journey_factory)
    record, _ = register_in_foshan(j, LEAVER)
    year = j.years(LEAVER)["foshan-2022"]["enrollment_id"]
    _leave(j, record)
    assert j.years(LEAVER)["foshan-2022"]["state"] == "closed_on_leaving"

    by_year = _pay_year(j, year)
    zh, en = _words(by_year)
    assert "left the scheme" in en and "register again" in en
    by_person = j.api(
        "POST", "/payments", "counter", {"id_number": LEAVER, "amount": "320.00"}, expect=422
    )
    assert _words(by_person) == (zh, en)
    named = {"id_number": LEAVER, "amount": "320.00", "policy": "foshan-2022"}
    assert _words(j.api("POST", "/payments", "counter", named, expect=422)) == (zh, en)
    reopen = {"id_number": LEAVER, "policy": "foshan-2022"}
    assert _words(j.api("POST", "/enrollments", "counter", reopen, expect=422)) == (zh, en)
    cli = j.cli(
        "people", "open-year", "--id-number", LEAVER, "--policy", "foshan-2022", exit_code=1
    )
    assert en in cli.output and zh in cli.output
    # money deducted all the same: the same words, and it is to be given back
    taken = (
        f"{zh}；本次扣款 320.00 元需要退还",
        f"{en}; this deduction of 320.00 yuan is to be refunded",
    )
    deducted = j.api("POST", f"/enrollments/{year}/events", "tax", DEDUCT, expect=409)
    assert deducted["code"] == "deduction_refused" and _words(deducted) == taken
    out = import_deductions(j, "left.csv", f"{LEAVER},2022,320.00,成功,,{TAKEN_AT}\n", exit_code=1)
    assert f"line 2: {taken[0]} / {taken[1]}" in out
    assert LEAVER not in out and LEAVER not in zh + en
    # a failure reported for the closed year no longer matters, at both doors
    failed = {"event": "fail_deduction", "data": {"reason": "余额不足"}}
    late = j.api("POST", f"/enrollments/{year}/events", "tax", failed, expect=200)
    assert late["unchanged"]["zh"] == "已结束"

    # registering again opens the year anew, as the words say
    _, approved = register_in_foshan(j, LEAVER)
    [opened] = approved["followups"]
    assert (opened["event"], opened["to_state"]) == ("start", "registered")
    assert {(y["enrollment_id"], y["state"]) for y in _years(j, LEAVER)} == {
        (year, "closed_on_leaving"),
        (opened["instance_id"], "registered"),
    }
