"""Hui'an: registration, a year opened, payments by the insured and by a family member, benefit
start dates, late payment, and default renewal into the next year, through the doors alone.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt"): 360 yuan a year for 2023
(line 17), the period 2022-09-01 to 2022-12-31 (line 23), renewal without registering again for
people insured in good standing (line 29), registration first for people with no record (line 31),
with the household register or a residence permit checked by a clerk (line 35). The 2022 figures
are the policy file's (assumed and practice values, marked there).
"""

from __future__ import annotations

import re
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


BETWEEN_DIBAO = "350521199909090731"  # 低保, registered between two payment periods
BETWEEN = "350521198006060596"  # registered between two payment periods, pays herself
AFTER_DIBAO = "350521201004040473"  # 低保, registered after the 2023 period is over


def test_people_insured_between_periods_get_the_next_year_and_the_fund_pays_whenever_it_opens(
    journey_factory: Any,
) -> None:
    """A person insured when no payment period is open has no year; when the next period opens,
    the periodic job opens theirs as an approval would (registered, or paid at once by the
    medical assistance fund for 低保, huian.txt). A year the fund pays opened after the period,
    while late payments are accepted, is paid at once too: never a lapse, never a notice."""
    j: Journey = journey_factory("2022-03-01T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    for person, reductions in ((BETWEEN_DIBAO, ["dibao"]), (BETWEEN, [])):
        body = {"id_number": person, "name": "间", "region": "huian"}
        j.api("POST", "/registrations", "counter", {**body, "reduction_categories": reductions})
    for task in clerk.task_ids():
        clerk.complete(task, "approve_registration", document_kind="household_register")
    assert j.years(BETWEEN_DIBAO) == {} and j.years(BETWEEN) == {}  # no period open

    j.at("2022-09-02T08:00:00+08:00")
    j.sweep()
    year = j.years(BETWEEN_DIBAO)["huian-2023"]
    assert (year["state"], year["payer_kind"], year["amount_paid"]) == (
        "deducted",
        "medical_assistance",
        "0.00",
    )
    assert year["benefit_start"]["inpatient"] == "2023-01-01"
    year = j.years(BETWEEN)["huian-2023"]
    assert (year["state"], year["paid"], year["amount_due"]) == ("registered", False, "360.00")

    j.at("2023-01-02T08:00:00+08:00")
    body = {"id_number": AFTER_DIBAO, "name": "后", "region": "huian"}
    j.api("POST", "/registrations", "counter", {**body, "reduction_categories": ["dibao"]})
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    opened = j.api(
        "POST", "/enrollments", "counter", {"id_number": AFTER_DIBAO, "policy": "huian-2023"}
    )
    assert opened["to_state"] == "registered" and opened["followups"]
    j.sweep()
    year = j.years(AFTER_DIBAO)["huian-2023"]
    assert (year["state"], year["paid"], year["payer_kind"]) == (
        "deducted",
        True,
        "medical_assistance",
    )
    assert year["benefit_start"]["inpatient"] == "2023-01-02"  # the late rules: from paying
    for person in (BETWEEN_DIBAO, AFTER_DIBAO):
        notices = j.api("POST", "/people/notices", "counter", {"id_number": person}, expect=200)
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
    # an event the record has not: the request's fault, naming the field (422)
    j.api("POST", f"/registrations/{person}/events", "counter", {"event": "frobnicate"}, expect=422)
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
    # LATER's 2022 year is opened, not paid: it lapses, so the 2023 period does not carry her
    later = {"id_number": LATER, "policy": "huian-2022"}
    j.api("POST", "/enrollments", "counter", later, expect=201)
    j.at("2022-09-01T10:00:00+08:00")
    j.sweep()
    assert j.years(EARLY)["huian-2023"]["state"] == "renewal_pending"
    assert "huian-2023" not in j.years(LATER)
    j.at("2022-10-15T10:00:00+08:00")
    paid = j.api("POST", "/payments", "counter", {"id_number": LATER, **pay_2022}, expect=200)
    assert paid["transition"]["to_state"] == "paid_late"
    assert j.years(LATER)["huian-2023"]["state"] == "renewal_pending"


IMPORTED = "350521197003030012"  # insured in the old system: brought in by the import
APPROVED = "350521197104040017"  # registers at the counter the same day; a clerk approves
IMPORTED_TEKUN = "350521195505050014"  # imported with the 特困 reduction: the fund pays in full


def test_an_imported_insured_person_gets_the_year_an_approval_opens_and_is_renewed(
    journey_factory: Any,
) -> None:
    """One rule path: "this person is insured in Hui'an" has the same effects whether a clerk
    approved their registration or the province's import brought them in (``shebao import
    people``, ``POST /imports/people``): the year whose period is open opens at once, in the same
    state with the same facts, is paid, and default renewal (默认续保, huian.txt:29) finds it."""
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": APPROVED, "name": "审", "region": "huian"},
        expect=201,
    )
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    j.cli("import", "people", j.file("p.csv", f"id_number,name,region\n{IMPORTED},导,huian\n"))
    rows = [{"id_number": IMPORTED_TEKUN, "name": "特", "region": "huian"}]
    rows[0]["reduction_categories"] = "tekun"
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)

    def facts(person: str) -> tuple[Any, ...]:
        year = j.years(person)["huian-2022"]
        return (year["state"], year["state_label"]["zh"], year["paid"], year["amount_due"])

    assert facts(IMPORTED) == facts(APPROVED) == ("registered", "已登记", False, "320.00")
    tekun = j.years(IMPORTED_TEKUN)["huian-2022"]  # paid by the assistance fund as it opened
    assert (tekun["state"], tekun["payer_kind"]) == ("deducted", "medical_assistance")
    # imported again: unchanged, and no second year
    again = j.cli(
        "import", "people", j.file("p.csv", f"id_number,name,region\n{IMPORTED},导,huian\n")
    )
    assert "applied: 0  unchanged: 1" in again.output
    assert list(j.years(IMPORTED)) == ["huian-2022"]

    for person in (IMPORTED, APPROVED):
        j.api("POST", "/payments", "counter", {"id_number": person, "amount": "320.00"}, expect=200)
    j.at("2022-09-01T08:00:00+08:00")
    j.sweep()
    for person in (IMPORTED, APPROVED, IMPORTED_TEKUN):
        assert j.years(person)["huian-2023"]["state"] in ("renewal_pending", "deducted"), person
    assert j.years(IMPORTED)["huian-2023"]["state"] == "renewal_pending"
    assert j.years(IMPORTED_TEKUN)["huian-2023"]["state"] == "deducted"  # the fund pays again


DECLARES = "35052119820606003X"  # declares 低保 and 低收入 (disabled) at the counter terminal
REJECTED = "350521198407070058"  # whose registration a clerk rejects
FAILED = "350521198608080076"  # whose batch deduction fails


def _facts(page: str) -> str:
    return page[page.index('id="task-facts"') : page.index("</dl>", page.index('id="task-facts"'))]


def test_a_clerk_refuses_a_declared_reduction_and_rejects_with_a_reason_only(
    journey_factory: Any,
) -> None:
    """huian.txt:19, 55-59: a reduction holds only for a category the person is in. The clerk
    reviewing a registration reads the declared categories in words, may approve the person but
    refuse a category (with the reason: the year then owes what the other categories leave), and
    rejects a registration with nothing but the reason, which the person is told. The counter
    terminal (``shebao people register``) takes every fact the API takes."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    j.cli(
        "people",
        "register",
        "--id-number",
        DECLARES,
        "--name",
        "减",
        "--region",
        "huian",
        "--reduction",
        "dibao",
        "--reduction",
        "low_income",
        "--flag",
        "disabled",
    )
    unknown = j.cli(
        "people",
        "register",
        "--id-number",
        REJECTED,
        "--name",
        "拒",
        "--region",
        "huian",
        "--flag",
        "rich",
        exit_code=2,
    )
    assert "rich" in unknown.output  # not a fact the rules know: refused, nothing written
    [task] = clerk.task_ids()
    page = clerk.page(f"/inbox/{task}")
    facts = _facts(page)
    assert "低保对象" in facts and "低收入家庭成员" in facts
    assert "dibao" not in facts and "low_income" not in facts
    # the document checked is approval's field alone: the browser does not ask for it to reject
    assert 'name="document_kind" required' not in page
    assert 'data-only-for="approve_registration"' in page
    assert 'data-only-for="reject_registration"' in page
    english = clerk.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "Minimum living allowance recipients" in _facts(english)
    clerk.get(f"/inbox/{task}?lang=zh")

    approve = {"document_kind": "household_register"}
    no_reason = clerk.complete(task, "approve_registration", **approve, reductions_refused="dibao")
    assert no_reason.status_code != 302 and "理由" in no_reason.get_data(as_text=True)
    undeclared = clerk.complete(
        task,
        "approve_registration",
        **approve,
        reductions_refused="tekun",
        reductions_refused_reason="x",
    )
    assert undeclared.status_code != 302 and "低保对象（dibao）" in undeclared.get_data(
        as_text=True
    )
    done = clerk.complete(
        task,
        "approve_registration",
        **approve,
        reductions_refused="dibao",
        reductions_refused_reason="低保证明已过期",
    )
    assert done.status_code == 302
    # the year opened without 低保 (which the fund would have paid in full): the low-income
    # reduction of a disabled person stays, 70% of 360 paid by the county
    year = j.years(DECLARES)["huian-2023"]
    assert (year["state"], year["amount_due"]) == ("registered", "108.00")

    # a rejection: only the reason; the person is told why
    j.api(
        "POST",
        "/registrations",
        "counter",
        {"id_number": REJECTED, "name": "拒", "region": "huian"},
        expect=201,
    )
    [task] = clerk.task_ids()
    empty = clerk.complete(task, "reject_registration")
    assert empty.status_code == 422  # the reason is required
    rejected = clerk.complete(task, "reject_registration", reason="居住证已过期")
    assert rejected.status_code == 302, rejected.get_data(as_text=True)
    found = j.api("POST", "/people/notices", "counter", {"id_number": REJECTED}, expect=200)
    [notice] = [n for n in found["notices"] if n["kind"] == "registration_rejected"]
    assert "居住证已过期" in notice["text"]["zh"] and "惠安县" in notice["text"]["zh"]
    assert "居住证已过期" in notice["text"]["en"] and "Hui'an" in notice["text"]["en"]


def test_a_failed_deduction_tells_the_person_to_pay_by_the_end_of_the_period(
    journey_factory: Any,
) -> None:
    """foshan.txt:58, 67 (the same rule in Hui'an's policy): after a failed batch deduction the
    person can pay online or at a tax hall until the period ends; they are told until when."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("tax", "tax")
    j.token("counter", "channel")
    j.token("importer", "import")
    rows = [{"id_number": FAILED, "name": "扣", "region": "huian"}]
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)
    year = j.years(FAILED)["huian-2023"]
    j.api(
        "POST",
        f"/enrollments/{year['enrollment_id']}/events",
        "tax",
        {"event": "fail_deduction", "data": {"reason": "余额不足"}},
        expect=200,
    )
    found = j.api("POST", "/people/notices", "counter", {"id_number": FAILED}, expect=200)
    [notice] = [n for n in found["notices"] if n["kind"] == "deduction_failed"]
    assert "余额不足" in notice["text"]["zh"] and "2022年12月31日" in notice["text"]["zh"]
    assert "办税服务厅" in notice["text"]["zh"]
    assert "31 December 2022" in notice["text"]["en"] and "tax service hall" in notice["text"]["en"]


DUP_DIBAO = "350521197507070210"  # 低保: the assistance fund pays her year in full
DUP_SELF = "350521197507080224"  # pays herself, then the tax authority deducts too
DUP_TAX = "350521197507090238"  # deducted once, the result reported by the API and the file


def test_a_deduction_for_a_year_already_paid_is_rejected_as_a_duplicate_payment(
    journey_factory: Any,
) -> None:
    """``shebao import deductions``: a successful deduction for a year paid already (by the
    assistance fund, or by the person herself) took money twice: the row is rejected naming the
    payment on record and the refund needed, not passed over as unchanged; the same deduction
    reported again (same amount and time) is unchanged."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("tax", "tax")
    j.token("counter", "channel")
    j.token("importer", "import")
    rows = [
        {"id_number": DUP_DIBAO, "name": "低", "region": "huian", "reduction_categories": "dibao"},
        {"id_number": DUP_SELF, "name": "自", "region": "huian"},
        {"id_number": DUP_TAX, "name": "税", "region": "huian"},
    ]
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)
    assert j.years(DUP_DIBAO)["huian-2023"]["payer_kind"] == "medical_assistance"
    j.api("POST", "/payments", "counter", {"id_number": DUP_SELF, "amount": "360.00"}, expect=200)
    year = j.years(DUP_TAX)["huian-2023"]["enrollment_id"]
    deducted = {"amount": "360.00", "paid_at": "2022-10-10T09:00:00+08:00"}
    j.api(
        "POST",
        f"/enrollments/{year}/events",
        "tax",
        {"event": "deduct", "data": deducted},
        expect=200,
    )
    j.at("2022-10-20T10:00:00+08:00")
    csv = (
        "id_number,policy_year,amount,result,reason,paid_at\n"
        f"{DUP_DIBAO},2023,360.00,成功,,2022-10-19T10:00:00+08:00\n"
        f"{DUP_SELF},2023,360.00,成功,,\n"
        f"{DUP_TAX},2023,360.00,成功,,2022-10-10T09:00:00+08:00\n"  # the same deduction
        f"{DUP_TAX},2023,360.00,成功,,2022-10-19T10:00:00+08:00\n"  # a second one
    )
    out = j.cli(
        "import", "deductions", j.file("d.csv", csv), "--policy", "huian-2023", exit_code=1
    ).output
    assert "applied: 0  unchanged: 1  rejected: 3" in out
    lines = {int(n): text for n, text in re.findall(r"line (\d+): (.*)", out)}
    assert sorted(lines) == [2, 3, 5]
    assert "paid on 2022-10-10 (0.00 yuan, by the medical assistance fund)" in lines[2]
    assert (
        "paid on 2022-10-10 (360.00 yuan, by the insured person via the online service hall)"
        in lines[3]
    )
    assert (
        "paid on 2022-10-10 (360.00 yuan, by the insured person via the tax authority's batch deduction)"
        in lines[5]
    )
    for text in lines.values():
        assert "duplicate payment, refund needed" in text
    for person in (DUP_DIBAO, DUP_SELF, DUP_TAX):
        assert j.years(person)["huian-2023"]["state"] == "deducted"
        assert person not in out
    # the same second deduction sent through the API: refused with the file's words (one rule)
    again = {"amount": "360.00", "paid_at": "2022-10-19T10:00:00+08:00"}
    refused = j.api(
        "POST", f"/enrollments/{year}/events", "tax", {"event": "deduct", "data": again}, expect=409
    )
    assert refused["code"] == "deduction_refused", refused
    assert "duplicate payment, refund needed" in refused["message_en"]
    assert "重复缴费，需要退费" in refused["message_zh"] and DUP_TAX not in str(refused)
    same = {"event": "deduct", "data": deducted}  # the deduction on record, reported again
    assert j.api("POST", f"/enrollments/{year}/events", "tax", same, expect=200)["unchanged"]
    assert j.years(DUP_TAX)["huian-2023"]["state"] == "deducted"
