"""Hui'an: registration, a year opened, payments by the insured and by a family member, benefit
start dates, late payment, and default renewal into the next year, through the doors alone.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt"): 360 yuan a year for 2023
(line 17), the period 2022-09-01 to 2022-12-31 (line 23), renewal without registering again for
people insured in good standing (line 29), registration first for people with no record (line 31),
with the household register or a residence permit checked by a clerk (line 35). The 2022 figures
are the policy file's (assumed and practice values, marked there).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

ZHANG = "350521199001010017"  # the insured person
ZHANG_WIFE = "350521199202020027"  # a family member who pays for him, and is insured too
LATE = "350521198505050034"  # registers after the 2022 period is over


def test_register_open_pay_self_and_family_late_and_renew(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("clerks", "clerk:huian")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")

    # huian.txt:31 no record: payment refused, naming the missing registration
    refused = j.api("POST", "/payments", "counter", {"id_number": ZHANG, "amount": "320.00"})
    assert refused["code"] == "not_registered" and "参保登记" in refused["message_zh"]

    # registration (参保登记) at the counter; a clerk checks the household register in the inbox
    made = j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": ZHANG, "name": "张伟", "region": "huian", "household": "H-0301"},
        expect=201,
    )
    assert made["person"]["state"] == "registration_review"
    assert made["person"]["open_tasks"] == ["verify_residence"]
    [task] = clerk.task_ids()
    page = clerk.page(f"/inbox/{task}")
    assert "张伟" in page and "H-0301" in page and ZHANG not in page  # facts shown, ID masked
    assert clerk.complete(task, "approve_registration", document_kind="passport").status_code == 422
    assert (
        clerk.complete(
            task, "approve_registration", document_kind="household_register", note="户口簿原件已核"
        ).status_code
        == 302
    )
    # the decision stays readable in the history: the document checked and the clerk's note
    decided = clerk.page(f"/inbox/{task}")
    assert "核验的证件：户口簿" in decided and "备注：户口簿原件已核" in decided
    # approved while huian-2022's period is open: that year opened with the approval
    year = j.years(ZHANG)["huian-2022"]
    assert (year["state"], year["paid"], year["amount_due"]) == ("registered", False, "320.00")

    # the wife registers too; her registration is completed through the tasks API this time
    j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": ZHANG_WIFE, "name": "李娜", "region": "huian", "household": "H-0301"},
        expect=201,
    )
    [api_task] = [t for t in j.api("GET", "/tasks", "clerks", expect=200)["tasks"]]
    j.api(
        "POST",
        f"/tasks/{api_task['id']}/complete",
        "clerks",
        {"outcome": "approve_registration", "data": {"document_kind": "household_register"}},
        expect=200,
    )

    # pay: the amount due is checked, the time is the service's, the payer is recorded
    wrong = j.api("POST", "/payments", "counter", {"id_number": ZHANG, "amount": "0"}, expect=409)
    assert "320.00" in wrong["message_zh"]
    backdated = j.api(
        "POST",
        "/payments",
        "counter",
        {"id_number": ZHANG, "amount": "320.00", "paid_at": "2021-09-02T10:00:00+08:00"},
        expect=422,
    )
    assert backdated["code"] == "paid_at_not_allowed"
    paid = j.api(
        "POST", "/payments", "counter", {"id_number": ZHANG, "amount": "320.00"}, expect=200
    )
    assert paid["transition"]["to_state"] == "deducted"
    # paid within the period: benefits from 1 January of the insurance year (policy file)
    assert paid["benefit_start"]["inpatient"] == "2022-01-01"
    by_wife = j.api(
        "POST",
        "/payments",
        "counter",
        {
            "id_number": ZHANG_WIFE,
            "amount": "320.00",
            "payer_kind": "family",
            "payer_id_number": ZHANG,
        },
        expect=200,
    )
    assert by_wife["transition"]["to_state"] == "deducted"
    wife_year = j.years(ZHANG_WIFE)["huian-2022"]
    assert wife_year["paid"] and wife_year["payer_kind"] == "family"
    assert wife_year["payer_id_number_masked"] == "350521********0017"
    assert j.years(ZHANG)["huian-2022"]["payer_kind"] == "self"

    # a person registering in January 2022 opens the 2022 year by hand: the period is over, so
    # the year lapses at the next sweep and is then paid late (practice: no wait in Jan-Feb)
    j.at("2022-01-15T09:00:00+08:00")
    j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": LATE, "name": "王芳", "region": "huian"},
        expect=201,
    )
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="residence_permit")
    assert "huian-2022" not in j.years(LATE)  # no period open: no year opened by itself
    opened = j.api(
        "POST", "/enrollments", "counter", {"id_number": LATE, "policy": "huian-2022"}, expect=201
    )
    assert opened["to_state"] == "registered"
    assert j.sweep()["fired"] >= 1
    assert j.years(LATE)["huian-2022"]["state"] == "lapsed"
    late = j.api(
        "POST",
        "/payments",
        "counter",
        {"id_number": LATE, "policy": "huian-2022", "amount": "320.00"},
        expect=200,
    )
    assert late["transition"]["to_state"] == "paid_late"
    assert late["benefit_start"]["inpatient"] == "2022-01-15"

    # default renewal (默认续保, huian.txt:29): at the start of 2023's period, without any call
    j.at("2022-09-01T08:00:00+08:00")
    j.sweep()
    for person in (ZHANG, ZHANG_WIFE, LATE):
        renewed = j.years(person)["huian-2023"]
        assert (renewed["state"], renewed["amount_due"]) == ("renewal_pending", "360.00")
    j.sweep()  # idempotent: nobody renewed twice
    assert len([y for y in j.years(ZHANG).values() if y["policy"] == "huian-2023"]) == 1


TEKUN = "350521196001011016"  # a person in extreme poverty (特困人员)


def test_a_year_the_assistance_fund_pays_in_full_is_paid_as_it_opens_and_renewed(
    journey_factory: Any,
) -> None:
    """huian.txt: 特困人员、低保对象…个人缴费部分由医疗救助资金全额补助: nothing is left for the person
    to pay, so the year never waits for a payment and never lapses."""
    j: Journey = journey_factory("2022-11-01T09:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {"id_number": TEKUN, "name": "R", "region": "huian", "reduction_categories": ["tekun"]}
    j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    assert (
        clerk.complete(task, "approve_registration", document_kind="household_register").status_code
        == 302
    )
    year = j.years(TEKUN)["huian-2023"]
    assert (year["state"], year["paid"], year["amount_paid"]) == ("deducted", True, "0.00")
    assert year["payer_kind"] == "medical_assistance"
    assert year["benefit_start"]["general_outpatient"] == "2023-01-01"  # paid in the period

    j.at("2023-01-02T09:00:00+08:00")
    j.sweep()
    assert j.years(TEKUN)["huian-2023"]["state"] == "deducted"  # no lapse, no lapse notice
    notices = j.api("POST", "/people/notices", "counter", {"id_number": TEKUN}, expect=200)
    assert "year_lapsed" not in [n["kind"] for n in notices["notices"]]


MOVED = "350521198808080011"  # moves away after paying for 2022


def test_a_person_who_leaves_the_scheme_is_not_renewed(journey_factory: Any) -> None:
    """Leaving the scheme (moved away, insured as an employee) is sent by a channel through the
    API; the person's paid year stays paid, and the next period renews them no more."""
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    made = j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": MOVED, "name": "迁", "region": "huian"},
        expect=201,
    )
    person = made["person"]["id"]
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    j.api("POST", "/payments", "counter", {"id_number": MOVED, "amount": "320.00"}, expect=200)
    # only a channel may send it, and only the record's own events
    j.api(
        "POST", f"/registrations/{person}/events", "factory", {"event": "leave_scheme"}, expect=403
    )
    j.api("POST", f"/registrations/{person}/events", "counter", {"event": "frobnicate"}, expect=409)
    left = j.api(
        "POST",
        f"/registrations/{person}/events",
        "counter",
        {"event": "leave_scheme", "data": {"reason": "迁出"}},
        expect=200,
    )
    assert left["to_state"] == "left"
    assert j.api("GET", f"/registrations/{person}", "counter", expect=200)["state"] == "left"
    j.at("2022-09-05T10:00:00+08:00")
    j.sweep()
    assert "huian-2023" not in j.years(MOVED)  # not renewed
    assert j.years(MOVED)["huian-2022"]["paid"] is True


EARLY = "350521198002022015"  # pays 2022 late before the 2023 period opens
LATER = "350521198002022031"  # pays 2022 late after it opened


def test_a_year_paid_late_after_the_next_period_opened_is_renewed_then(
    journey_factory: Any,
) -> None:
    """默认续保 (huian.txt:29) for everyone in good standing, whenever they came into it: the
    periodic job renews those paid when the 2023 period begins; a late payment after that renews
    at once."""
    j: Journey = journey_factory("2022-08-01T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    for person in (EARLY, LATER):
        body = {"id_number": person, "name": "续", "region": "huian"}
        j.api("POST", "/registrations", "counter", body, expect=201)
    for task in clerk.task_ids():
        clerk.complete(task, "approve_registration", document_kind="household_register")
    pay_2022 = {"amount": "900.00", "policy": "huian-2022"}  # late: the policy's late amount
    j.api("POST", "/payments", "counter", {"id_number": EARLY, **pay_2022}, expect=200)
    j.at("2022-09-01T10:00:00+08:00")
    j.sweep()
    assert j.years(EARLY)["huian-2023"]["state"] == "renewal_pending"
    j.at("2022-10-15T10:00:00+08:00")
    paid = j.api("POST", "/payments", "counter", {"id_number": LATER, **pay_2022}, expect=200)
    assert paid["transition"]["to_state"] == "paid_late"
    assert j.years(LATER)["huian-2023"]["state"] == "renewal_pending"
