"""Hui'an: reductions claimed after registering (资助参保), a clerk's decision on them, and the
notice of a refusal, through the doors alone (the API, ``shebao people claim-reduction``, the
inbox).

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt"): people in a reduction
category pay less (line 19): 特困, 低保 ... in full from the medical assistance fund (line 55), the
disabled of low-income families 70% from the county (line 59). The documents are silent on someone
who comes into a category after registering; the journey is the office's practice: a claim with
the certificate, a clerk's check, the years not yet paid owe the reduced amount, later years too.
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

NEW_DIBAO = "350521197003030127"  # registered without reductions, then on 低保
LOW_INCOME = "350521195804040211"  # 64, her batch deduction failed, then low-income (70%)
NOBODY = "350521198505050333"  # never registered
PAID_FIRST = "350521199006060451"  # paid 2022 in full, then on 低保: 2023 renews with it
REFUSED = "350521199207070568"  # declares 低保 at registration, the clerk refuses it


def _register(j: Journey, clerk: Any, number: str, **extra: Any) -> None:
    body = {"id_number": number, "name": "减", "region": "huian", **extra}
    j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302, done.get_data(as_text=True)


def _notices(j: Journey, number: str, kind: str) -> list[dict[str, Any]]:
    found = j.api("POST", "/people/notices", "counter", {"id_number": number}, expect=200)
    return [n for n in found["notices"] if n["kind"] == kind]


def _facts(page: str) -> str:
    return page[page.index('id="task-facts"') : page.index("</dl>", page.index('id="task-facts"'))]


def test_a_reduction_claimed_after_registering_lowers_the_years_not_yet_paid(
    journey_factory: Any,
) -> None:
    """An insured person newly on 低保 claims it through a channel; a clerk of the region checks
    the certificate in the inbox; approving records it and the fund pays the unpaid year at once.
    A low-income claim after a failed deduction leaves 30% to pay. Bad claims change nothing."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("tax", "tax")
    j.token("reader", "read")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    _register(j, clerk, NEW_DIBAO)
    _register(j, clerk, LOW_INCOME, flags=["disabled"])
    assert j.years(NEW_DIBAO)["huian-2023"]["amount_due"] == "360.00"

    claim = {"id_number": NEW_DIBAO, "category": "dibao", "evidence": "低保证 QZ2022-0815"}
    # bad claims: clear 4xx, no ID number in the answer, nothing written
    for body, code in (
        ({**claim, "category": "royalty"}, "reduction_claim_refused"),
        ({**claim, "id_number": NOBODY}, "not_registered"),
        ({**claim, "evidence": ""}, None),
        ({**claim, "id_number": "350521197003030128"}, None),  # a wrong check digit
    ):
        answer = j.api("POST", "/people/reduction-claims", "counter", body)
        assert answer["code"] == code if code else answer["code"], answer
        assert NEW_DIBAO not in str(answer) and NOBODY not in str(answer)
    j.api("POST", "/people/reduction-claims", "reader", claim, expect=403)
    assert clerk.task_ids() == []

    made = j.api("POST", "/people/reduction-claims", "counter", claim, expect=201)
    assert made["person"]["state"] == "reduction_review"
    assert made["person"]["open_tasks"] == ["review_reduction"]
    again = j.api("POST", "/people/reduction-claims", "counter", claim, expect=422)
    assert "审核" in again["message_zh"]  # one claim in review at a time
    # still insured meanwhile: the year can be asked for and is unchanged until the decision
    assert j.years(NEW_DIBAO)["huian-2023"]["amount_due"] == "360.00"

    [task] = clerk.task_ids()
    page = clerk.page(f"/inbox/{task}")
    assert "低保对象" in _facts(page) and "低保证 QZ2022-0815" in _facts(page)
    assert clerk.complete(task, "approve_reduction").status_code == 302
    year = j.years(NEW_DIBAO)["huian-2023"]
    assert (year["state"], year["amount_paid"], year["payer_kind"]) == (
        "deducted",
        "0.00",
        "medical_assistance",
    )
    [granted] = _notices(j, NEW_DIBAO, "reduction_granted")
    assert "低保对象" in granted["text"]["zh"]
    assert "Minimum living allowance recipients" in granted["text"]["en"]
    held = j.api("POST", "/people/reduction-claims", "counter", claim, expect=422)
    assert "已认定" in held["message_zh"] and "held already" in held["message_en"]

    # the batch deduction failed; then the low-income reduction (disabled): 30% of 360 left
    year = j.years(LOW_INCOME)["huian-2023"]
    j.api(
        "POST",
        f"/enrollments/{year['enrollment_id']}/events",
        "tax",
        {"event": "fail_deduction", "data": {"reason": "余额不足"}},
        expect=200,
    )
    body = {"id_number": LOW_INCOME, "category": "low_income", "evidence": "低收入证明 77"}
    j.api("POST", "/people/reduction-claims", "counter", body, expect=201)
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_reduction", note="民政数据已核").status_code == 302
    year = j.years(LOW_INCOME)["huian-2023"]
    # the failed deduction is not forgotten: still hers to pay, at the new amount
    assert (year["state"], year["amount_due"]) == ("deduction_failed", "108.00")


def test_a_claim_at_the_counter_terminal_holds_for_next_year_and_a_refusal_is_told(
    journey_factory: Any,
) -> None:
    """``shebao people claim-reduction``: a person who paid 2022 in full and is on 低保 since
    keeps the payment, and the 2023 year renewed for them takes the reduction. A refused claim
    needs the reason; the person is told which category and why."""
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    _register(j, clerk, PAID_FIRST)
    j.api("POST", "/payments", "counter", {"id_number": PAID_FIRST, "amount": "320.00"}, expect=200)

    bad = j.cli(
        "people",
        "claim-reduction",
        "--id-number",
        PAID_FIRST,
        "--category",
        "royalty",
        "--evidence",
        "x",
        exit_code=1,
    )
    assert "royalty" in bad.output and PAID_FIRST not in bad.output
    first = ("people", "claim-reduction", "--id-number", PAID_FIRST, "--category", "tekun")
    done = j.cli(*first, "--evidence", "特困证 1")
    assert PAID_FIRST not in done.output and "review" in done.output
    [task] = clerk.task_ids()
    no_reason = clerk.complete(task, "refuse_reduction")
    assert no_reason.status_code == 422
    refused = clerk.complete(task, "refuse_reduction", reason="特困证明不属实")
    assert refused.status_code == 302
    [notice] = _notices(j, PAID_FIRST, "reduction_refused")
    assert "特困人员" in notice["text"]["zh"] and "特困证明不属实" in notice["text"]["zh"]
    assert "People in extreme poverty" in notice["text"]["en"]
    assert "特困证明不属实" in notice["text"]["en"]

    j.cli(*first[:-1], "dibao", "--evidence", "低保证 2")
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_reduction").status_code == 302
    year = j.years(PAID_FIRST)["huian-2022"]
    assert (year["state"], year["amount_paid"]) == ("deducted", "320.00")  # paid: stays so

    j.at("2022-09-02T08:00:00+08:00")
    j.sweep()
    year = j.years(PAID_FIRST)["huian-2023"]
    assert (year["state"], year["amount_paid"], year["payer_kind"]) == (
        "deducted",
        "0.00",
        "medical_assistance",
    )


def test_a_reduction_refused_at_registration_is_told_with_the_reason(
    journey_factory: Any,
) -> None:
    """A clerk approving a registration but refusing a declared category: the person is told
    which category, in words, and why, as for a refused claim."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {"id_number": REFUSED, "name": "拒", "region": "huian"}
    j.api("POST", "/registrations", "counter", {**body, "reduction_categories": ["dibao"]})
    [task] = clerk.task_ids()
    done = clerk.complete(
        task,
        "approve_registration",
        document_kind="household_register",
        reductions_refused="dibao",
        reductions_refused_reason="低保证明已过期",
    )
    assert done.status_code == 302
    assert j.years(REFUSED)["huian-2023"]["amount_due"] == "360.00"
    [notice] = _notices(j, REFUSED, "reduction_refused")
    assert "低保对象" in notice["text"]["zh"] and "低保证明已过期" in notice["text"]["zh"]
    assert "Minimum living allowance recipients" in notice["text"]["en"]
    assert "低保证明已过期" in notice["text"]["en"] and "Hui'an" in notice["text"]["en"]


def test_a_claim_before_the_registration_is_approved_is_refused_in_words_about_claims(
    journey_factory: Any,
) -> None:
    """A claim for someone not on the books, or whose registration awaits the clerk, is refused
    (422 ``not_registered``) saying a reduction can be claimed once registered, not that years
    can be opened and paid (QA: the words were the year's); nothing is written."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": NEW_DIBAO, "name": "减", "region": "huian"},
        expect=201,
    )
    [review] = clerk.task_ids()
    for number, zh, en in (
        (NEW_DIBAO, "审核通过后才能申请减免", "a reduction can be claimed once it is approved"),
        (NOBODY, "登记通过后才能申请减免", "a reduction can be claimed once the registration"),
    ):
        claim = {"id_number": number, "category": "dibao", "evidence": "低保证 QZ2022-0815"}
        answer = j.api("POST", "/people/reduction-claims", "counter", claim, expect=422)
        assert answer["code"] == "not_registered", answer
        assert zh in answer["message_zh"] and en in answer["message_en"], answer
        assert "年度" not in answer["message_zh"] and number not in str(answer)
    assert clerk.task_ids() == [review]  # the registration's review only: no claim was made
    # a year asked for meanwhile keeps the year's words
    body = {"id_number": NEW_DIBAO, "policy": "huian-2023"}
    year = j.api("POST", "/enrollments", "counter", body, expect=422)
    assert "开立年度和缴费" in year["message_zh"], year
