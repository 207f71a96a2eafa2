"""Hui'an: a reduction granted after registering reassesses the years not yet paid, each in the
state it is in: through the doors alone (the API, the inbox, the scheduler).

A year whose batch deduction failed stays ``deduction_failed`` (the holder still has to pay, now
the reduced amount), a renewed year stays ``renewal_pending``, and a lapsed year that the policy
still lets be paid late (huian-2022: late payment accepted through 2022-12-31) stays ``lapsed``
with the reduced amount, so the late payer pays that; a lapsed year past that stays as it was.
Left with nothing to pay (低保, paid in full by the medical assistance fund, huian.txt:55), a
failed year is paid by the fund at once, as a year opening with nothing to pay is, and a lapsed
year is paid late by the fund (``paid_late``, as any late payment).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

FAILED = "350521195804040094"  # 64; the batch deduction fails, then low-income (70% off)
FAILED_DIBAO = "35052119750202010X"  # the batch deduction fails, then 低保 (all of it)
RENEWED = "350521195503030116"  # 67; paid 2022, renewed into 2023, then low-income
LATE = "350521195601010127"  # 66; 2022 lapses unpaid, low-income while it can be paid late
LATE_DIBAO = "350521198001010135"  # 2022 lapses unpaid, 低保 while it can be paid late
TOO_LATE = "350521195707070144"  # 65; 2022 lapses unpaid, low-income after late payment ends


def _register(j: Journey, clerk: Any, number: str) -> None:
    body = {"id_number": number, "name": "核", "region": "huian"}
    j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302, done.get_data(as_text=True)


def _grant(j: Journey, clerk: Any, number: str, category: str) -> None:
    body = {"id_number": number, "category": category, "evidence": "证明 2022-77"}
    j.api("POST", "/people/reduction-claims", "counter", body, expect=201)
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_reduction").status_code == 302


def _fail(j: Journey, number: str) -> None:
    year = j.years(number)["huian-2023"]
    body = {"event": "fail_deduction", "data": {"amount": "360.00", "reason": "余额不足"}}
    failed = j.api("POST", f"/enrollments/{year['enrollment_id']}/events", "tax", body, expect=200)
    assert failed["to_state"] == "deduction_failed"


def _pay(j: Journey, number: str, amount: str, policy: str, expect: int) -> Any:
    body = {"id_number": number, "amount": amount, "policy": policy}
    return j.api("POST", "/payments", "counter", body, expect=expect)


def _owes_reduced(
    j: Journey, number: str, policy: str, state: str, full: str, reduced: str
) -> dict[str, Any]:
    """After a grant: the year is still in ``state``, owing ``reduced``; paying ``full`` is
    refused naming ``reduced``, paying ``reduced`` is taken. The year as it was before paying."""
    year: dict[str, Any] = j.years(number)[policy]
    assert (year["state"], year["amount_due"]) == (state, reduced)
    refused = _pay(j, number, full, policy, 409)
    assert reduced in refused["message_en"]
    _pay(j, number, reduced, policy, 200)
    return year


def test_a_reduction_keeps_a_failed_or_renewed_year_in_its_state(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("tax", "tax")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    _register(j, clerk, RENEWED)
    _pay(j, RENEWED, "320.00", "huian-2022", 200)
    j.at("2022-09-02T08:00:00+08:00")
    j.sweep()
    assert j.years(RENEWED)["huian-2023"]["state"] == "renewal_pending"
    _register(j, clerk, FAILED)
    _register(j, clerk, FAILED_DIBAO)
    _fail(j, FAILED)
    _fail(j, FAILED_DIBAO)

    _grant(j, clerk, FAILED, "low_income")
    # still the failed deduction it was (the holder must pay), at 30% of 360
    year = _owes_reduced(j, FAILED, "huian-2023", "deduction_failed", "360.00", "108.00")
    assert year["state_label"] == {"zh": "扣费失败", "en": "Deduction failed"}
    assert j.years(FAILED)["huian-2023"]["state"] == "deducted"

    _grant(j, clerk, RENEWED, "low_income")
    year = j.years(RENEWED)["huian-2023"]
    assert (year["state"], year["amount_due"]) == ("renewal_pending", "108.00")

    # nothing left to pay: the fund pays the failed year at once
    _grant(j, clerk, FAILED_DIBAO, "dibao")
    year = j.years(FAILED_DIBAO)["huian-2023"]
    assert (year["state"], year["amount_paid"], year["payer_kind"]) == (
        "deducted",
        "0.00",
        "medical_assistance",
    )


def test_a_lapsed_year_still_payable_late_owes_the_reduced_amount(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    for person in (LATE, LATE_DIBAO, TOO_LATE):
        _register(j, clerk, person)
    j.at("2022-01-02T10:00:00+08:00")
    j.sweep()
    j.at("2022-02-10T10:00:00+08:00")  # lapsed; paying late is accepted until 2022-12-31
    year = j.years(LATE)["huian-2022"]
    assert (year["state"], year["amount_due"]) == ("lapsed", "320.00")

    _grant(j, clerk, LATE, "low_income")
    _owes_reduced(j, LATE, "huian-2022", "lapsed", "320.00", "96.00")
    assert j.years(LATE)["huian-2022"]["state"] == "paid_late"

    _grant(j, clerk, LATE_DIBAO, "dibao")
    year = j.years(LATE_DIBAO)["huian-2022"]
    # paid late by the fund, so paid late: benefits from the payment as for any late payer
    assert (year["state"], year["amount_paid"], year["payer_kind"]) == (
        "paid_late",
        "0.00",
        "medical_assistance",
    )
    assert year["state_label"] == {"zh": "逾期缴费", "en": "Paid late"}
    assert year["benefit_start"] == j.years(LATE)["huian-2022"]["benefit_start"]

    # past the late payment: the lapsed year stays as it is, and the grant still goes through
    j.at("2023-01-05T10:00:00+08:00")
    _grant(j, clerk, TOO_LATE, "low_income")
    year = j.years(TOO_LATE)["huian-2022"]
    assert (year["state"], year["amount_due"]) == ("lapsed", None)
