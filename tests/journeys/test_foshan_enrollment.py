"""Foshan: people brought in by file, years renewed by default, the tax authority's deduction file
(GBK) with successes and failures, self-payment after a failure, benefit start dates, lapse at the
period's end, refunds accepted and refused: through the doors alone.

Source: foshan-card-one-card-and-2022-medical-insurance.txt ("foshan.txt"): collection extended to
2022-02-28 (line 46); general outpatient benefits from the 1st of the month after the payment,
inpatient from 1 January (lines 48-50); duplicate-payment refunds until 2022-02-28 for people in
employee insurance who used no resident benefits (lines 51-52); batch deduction, then self-payment
after a failure (lines 57-58); unpaid after the deadline: the year's benefits are given up (line 67).
Fees are the policy files' (assumed there: the document's table is missing).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

A = "440604198003030050"
B = "44060419750707006X"
C = "440604198808080071"
D = "44060419950909008X"
STRANGER = "44060419660606009X"  # never brought in

PEOPLE = f"""id_number,name,region,household
{A},陈明,foshan,F-1
{B},黄丽,foshan,F-1
{C},梁军,foshan,F-2
{D},何静,foshan,F-3
"""


def test_renewal_deduction_file_self_payment_lapse_and_refunds(journey_factory: Any) -> None:
    j: Journey = journey_factory("2020-08-20T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("tax", "tax")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")

    people = j.file("people.csv", PEOPLE)
    assert "applied: 4" in j.cli("import", "people", people).output
    assert "unchanged: 4" in j.cli("import", "people", people).output  # idempotent

    # 2021: each opens a year and the tax authority deducts the fee (280 yuan, policy file)
    j.at("2020-10-01T10:00:00+08:00")
    for person in (A, B, C, D):
        year = j.api(
            "POST",
            "/enrollments",
            "counter",
            {"id_number": person, "policy": "foshan-2021"},
            expect=201,
        )
        j.api(
            "POST",
            f"/enrollments/{year['instance_id']}/events",
            "tax",
            {"event": "deduct", "data": {"amount": "280.00"}},
            expect=200,
        )

    # default renewal into 2022 when its period opens (2021-09-01), with no call
    j.at("2021-09-01T09:00:00+08:00")
    j.sweep()
    assert {j.years(p)["foshan-2022"]["state"] for p in (A, B, C, D)} == {"renewal_pending"}

    # the tax authority's deduction file, in GBK as Chinese tax systems export it
    j.at("2021-10-15T10:00:00+08:00")
    rows = (
        "id_number,policy_year,amount,result,reason\n"
        f"{A},2022,320.00,成功,\n"
        f"{B},2022,320.00,失败,余额不足\n"
        f"{C},2022,300.00,成功,\n"  # not the amount due: refused
        f"{STRANGER},2022,320.00,成功,\n"  # no enrollment
        "44060419660606009,2022,320.00,成功,\n"  # not an ID number
    )
    deductions = j.file("deductions.csv", rows, encoding="gbk")
    first = j.cli("import", "deductions", deductions, "--policy", "foshan-2022", exit_code=1)
    assert "applied: 2  unchanged: 0  rejected: 3" in first.output
    assert (
        "line 4: 应缴金额为 320.00 元，收到 300.00 元 / the amount due is 320.00 yuan, got 300.00"
        in first.output
    )
    again = j.cli("import", "deductions", deductions, "--policy", "foshan-2022", exit_code=1)
    assert "applied: 0  unchanged: 2  rejected: 3" in again.output
    assert j.years(A)["foshan-2022"]["state"] == "deducted"
    assert j.years(B)["foshan-2022"]["state"] == "deduction_failed"
    assert j.years(C)["foshan-2022"]["state"] == "renewal_pending"

    # B pays herself after the failure (foshan.txt:58); paid 2022-01-10: outpatient from
    # 2022-02-01, inpatient from 2022-01-01 (foshan.txt:49-50)
    j.at("2022-01-10T10:00:00+08:00")
    paid = j.api("POST", "/payments", "counter", {"id_number": B, "amount": "320.00"}, expect=200)
    assert paid["transition"]["to_state"] == "deducted"
    assert paid["benefit_start"] == {
        "general_outpatient": "2022-02-01",
        "inpatient": "2022-01-01",
        "special_outpatient": "2022-01-01",
    }
    # C is paid at a tax hall; the tax authority reports when (its word is the one taken)
    c_year = j.years(C)["foshan-2022"]["enrollment_id"]
    hall = j.api(
        "POST",
        f"/enrollments/{c_year}/payments",
        "tax",
        {"amount": "320.00", "paid_at": "2022-01-05T15:00:00+08:00", "channel": "tax_hall"},
        expect=200,
    )
    assert hall["benefit_start"]["general_outpatient"] == "2022-02-01"

    # refunds (foshan.txt:51-52): refused when benefits were used, else a clerk decides
    j.at("2022-02-10T10:00:00+08:00")
    a_year = j.years(A)["foshan-2022"]["enrollment_id"]
    used = j.api(
        "POST",
        f"/enrollments/{a_year}/events",
        "counter",
        {
            "event": "request_refund",
            "data": {"employee_insurance_elsewhere": True, "benefits_used": True},
        },
        expect=409,
    )
    assert "benefits" in used["message_en"]
    j.api(
        "POST",
        f"/enrollments/{a_year}/events",
        "counter",
        {
            "event": "request_refund",
            "data": {
                "employee_insurance_elsewhere": True,
                "benefits_used": False,
                "evidence": "职工医保参保证明 2022-01",
            },
        },
        expect=200,
    )
    [task] = clerk.task_ids()
    page = clerk.page(f"/inbox/{task}")
    assert "职工医保参保证明 2022-01" in page and "320.00" in page
    # a decision is never guessed: no outcome for a task with two is refused at both doors
    j.token("mi", "clerk:foshan")
    note = {"data": {"note": "材料不全，不予退费"}}
    unsaid = j.api("POST", f"/tasks/{task}/complete", "mi", note, expect=422)
    assert unsaid["code"] == "invalid_task_outcome", unsaid
    assert "“Refund approved”" in unsaid["message_en"] and "choose one of" in unsaid["message_en"]
    refused = clerk.complete(task, "", note="材料不全，不予退费")
    assert refused.status_code == 422 and "须选择其一" in refused.get_data(as_text=True)
    assert j.years(A)["foshan-2022"]["state"] == "refund_review"
    assert clerk.complete(task, "approve_refund").status_code == 302
    assert j.years(A)["foshan-2022"]["state"] == "refunded"

    # the deadline: 00:00 of 2022-03-01. Before the sweep runs, a deduction after the period is
    # refused, and the person's years still answer
    j.at("2022-03-01T00:30:00+08:00")
    d_year = j.years(D)["foshan-2022"]["enrollment_id"]
    late = j.api(
        "POST",
        f"/enrollments/{d_year}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "320.00"}},
        expect=409,
    )
    assert "outside the payment period" in late["message_en"]
    assert "(Beijing time)" in late["message_en"] and "（北京时间）" in late["message_zh"]
    assert "Asia/Shanghai" not in late["message_zh"] + late["message_en"]
    assert j.years(D)["foshan-2022"]["state"] == "renewal_pending"
    j.sweep()
    assert j.years(D)["foshan-2022"]["state"] == "lapsed"  # foshan.txt:67
    refused = j.api(
        "POST", "/payments", "counter", {"id_number": D, "amount": "320.00"}, expect=409
    )
    assert "does not accept a late payment" in refused["message_en"]

    # refund window closed after 2022-02-28 (foshan.txt:52)
    closed = j.api(
        "POST",
        f"/enrollments/{c_year}/events",
        "counter",
        {
            "event": "request_refund",
            "data": {"employee_insurance_elsewhere": True, "benefits_used": False},
        },
        expect=409,
    )
    assert "2022-02-28" in closed["message_en"]
