"""Hui'an: existing people and cards brought in, a person with several cards reviewed and resolved
at each bank, a lost card closed at its own bank only, the tax authority's deduction file with
successes and failures, self-payment after a failure, and no duplicate-payment refunds: through
the doors alone.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt"): one person one card per
province, unusable cards closed at the bank's counter (lines 5-9); 360 yuan for 2023 (line 17), the
period 2022-09-01 to 2022-12-31 (line 23); reductions: 低保 fully paid (line 55), 70% for low-income
people aged 60 or more (line 59). The document says nothing of refunds (the policy has none).
Hui'an's partner banks are the policy file's (assumed there).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

HOLDER = "350521196207070716"  # 60 at the deduction: low-income, 70% reduced (huian.txt:59)
DIBAO = "350521197508080728"  # 低保: the individual part fully paid (huian.txt:55)
PLAIN = "350521199009090736"
ELDER = "350521194910100746"

PEOPLE = f"""id_number,name,region,reduction_categories,card_number,card_bank,card_state
{HOLDER},郑国平,huian,low_income,H-1,fjnx,active
{HOLDER},郑国平,huian,low_income,H-2,qzccb,awaiting_activation
{DIBAO},苏秀英,huian,dibao,H-3,icbc,active
{PLAIN},林海,huian,,H-4,fjnx,active
{ELDER},许桂兰,huian,,H-5,qzccb,lost
"""


def test_cards_reviewed_and_closed_at_their_banks_then_deductions_and_payments(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2022-08-20T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("tax", "tax")
    j.token("fjnx", "bank:fjnx")
    clerk = j.staff("ss_huian", "social_security_clerk", "huian")
    fjnx = j.staff("teller_fjnx", "bank_teller", "fjnx")
    qzccb = j.staff("teller_qzccb", "bank_teller", "qzccb")

    report = j.cli("import", "people", j.file("people.csv", PEOPLE)).output
    assert "applied: 5  unchanged: 0  rejected: 0  reviews opened: 1" in report
    # the lost card's account waits at its own bank (huian.txt:9)
    [elder_close] = qzccb.task_ids("?kind=close_bank_account")
    assert fjnx.task_ids("?kind=close_bank_account") == []

    [review] = clerk.task_ids()
    cards = {c["bank"]: c["id"] for c in j.cards_of(HOLDER)}
    assert clerk.complete(review, "resolve", keep_card_id=str(cards["fjnx"])).status_code == 302
    assert {c["bank"]: c["state"] for c in j.cards_of(HOLDER)} == {
        "fjnx": "active",
        "qzccb": "cancelled",
    }
    # the cancelled card's account is closed at its bank: its teller has two tasks now
    closing = qzccb.task_ids("?kind=close_bank_account")
    assert len(closing) == 2 and elder_close in closing
    for task in closing:
        assert qzccb.complete(task, "close_bank_account").status_code == 302

    # a card reported lost (made formal in person at its bank) is closed at its own bank only
    plain_card = j.cards_of(PLAIN)[0]["id"]
    j.api("POST", f"/cards/{plain_card}/events", "counter", {"event": "report_loss"}, expect=200)
    formal = {"event": "report_loss_formally", "data": {"presented_id_number": PLAIN}}
    j.api("POST", f"/cards/{plain_card}/events", "fjnx", formal, expect=200)
    assert qzccb.task_ids("?kind=close_bank_account") == []
    j.api(
        "POST", f"/cards/{plain_card}/events", "fjnx", {"event": "close_bank_account"}, expect=200
    )
    assert j.card(plain_card)["state"] == "bank_account_closed"

    # the 2023 period: each opens a year; the tax authority deducts by file (huian.txt:17, 55, 59)
    j.at("2022-09-05T10:00:00+08:00")
    for person in (HOLDER, DIBAO, PLAIN, ELDER):
        j.api(
            "POST",
            "/enrollments",
            "counter",
            {"id_number": person, "policy": "huian-2023"},
            expect=201,
        )
    assert j.years(HOLDER)["huian-2023"]["amount_due"] == "108.00"  # 30% of 360
    # 低保: nothing is left to pay, the assistance fund pays it all as the year opens
    dibao = j.years(DIBAO)["huian-2023"]
    assert (dibao["state"], dibao["amount_paid"]) == ("deducted", "0.00")
    j.at("2022-10-20T10:00:00+08:00")
    rows = (
        "id_number,policy_year,amount,result,reason\n"
        f"{HOLDER},2023,108.00,success,\n"
        f"{DIBAO},2023,0,success,\n"  # paid already (by the fund): unchanged
        f"{PLAIN},2023,360,failed,账户状态异常\n"
        f"{ELDER},2023,108.00,success,\n"  # not low-income: 360 is due, refused
    )
    result = j.cli(
        "import", "deductions", j.file("d.csv", rows), "--policy", "huian-2023", exit_code=1
    ).output
    assert "applied: 2  unchanged: 1  rejected: 1" in result
    assert (
        "line 5: 应缴金额为 360.00 元，收到 108.00 元 / the amount due is 360.00 yuan, got 108.00"
        in result
    )
    assert j.years(PLAIN)["huian-2023"]["state"] == "deduction_failed"
    # self-payment after the failure, within the period
    paid = j.api(
        "POST", "/payments", "counter", {"id_number": PLAIN, "amount": "360.00"}, expect=200
    )
    assert paid["transition"] == {
        **paid["transition"],
        "from_state": "deduction_failed",
        "to_state": "deducted",
    }
    # Hui'an's policy has no duplicate-payment refund (the document names none)
    year = j.years(PLAIN)["huian-2023"]["enrollment_id"]
    refused = j.api(
        "POST",
        f"/enrollments/{year}/events",
        "counter",
        {
            "event": "request_refund",
            "data": {"employee_insurance_elsewhere": True, "benefits_used": False},
        },
        expect=409,
    )
    assert refused["code"] == "transition_refused"
    # the elder never paid: the year lapses at the period's end, then is paid late in January
    j.at("2023-01-03T09:00:00+08:00")
    j.sweep()
    assert j.years(ELDER)["huian-2023"]["state"] == "lapsed"
    late = j.api(
        "POST", "/payments", "counter", {"id_number": ELDER, "amount": "360.00"}, expect=200
    )
    assert late["transition"]["to_state"] == "paid_late"
