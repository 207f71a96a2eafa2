"""Years that end before they are paid for: a person who leaves the scheme owes nothing more, and a
year whose payment was refunded takes no second payment: through the doors alone.

Leaving (person.yaml ``leave_scheme``) closes the person's unpaid years in the same transaction
(enrollment.yaml ``close_on_leaving``): no payment or deduction is accepted for them by any door and
no lapse notice is sent; a year already paid stays paid. A refund (foshan.txt:51-52) is for people
insured as employees: the refunded year is shown with its payment and its refund, nothing due, and
a payment for its policy afterwards is refused, never opening a second year of the same policy.
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

PAID = "350521198808080038"  # pays 2022, renewed into 2023, then leaves
LAPSED = "350521198909090040"  # never pays 2022 (lapses), then leaves while it could pay late
NEW = "350521199010100057"  # registers for 2023, then leaves before paying

LEFT = "left the scheme"


def _register(j: Journey, clerk: Any, person: str) -> int:
    body = {"id_number": person, "name": "离", "region": "huian"}
    made = j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    return int(made["person"]["id"])


def _leave(j: Journey, record: int) -> None:
    body = {"event": "leave_scheme", "data": {"reason": "参加职工医保"}}
    left = j.api("POST", f"/registrations/{record}/events", "counter", body, expect=200)
    assert left["to_state"] == "left"


def _notices(j: Journey, person: str) -> list[str]:
    found = j.api("POST", "/people/notices", "counter", {"id_number": person}, expect=200)
    return [n["kind"] for n in found["notices"]]


def test_leaving_the_scheme_closes_the_unpaid_years_at_every_door(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("tax", "tax")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    records = {PAID: _register(j, clerk, PAID), LAPSED: _register(j, clerk, LAPSED)}
    j.api("POST", "/payments", "counter", {"id_number": PAID, "amount": "320.00"}, expect=200)
    j.at("2022-01-02T10:00:00+08:00")
    j.sweep()
    assert j.years(LAPSED)["huian-2022"]["state"] == "lapsed"
    j.at("2022-09-05T10:00:00+08:00")
    j.sweep()
    assert j.years(PAID)["huian-2023"]["state"] == "renewal_pending"
    records[NEW] = _register(j, clerk, NEW)
    assert j.years(NEW)["huian-2023"]["state"] == "registered"

    for person in (PAID, LAPSED, NEW):
        _leave(j, records[person])
    paid, renewed = j.years(PAID)["huian-2022"], j.years(PAID)["huian-2023"]
    assert (paid["state"], paid["paid"]) == ("deducted", True)  # a paid year stays paid
    for year in (renewed, j.years(LAPSED)["huian-2022"], j.years(NEW)["huian-2023"]):
        assert (year["state"], year["paid"], year["amount_due"]) == (
            "closed_on_leaving",
            False,
            None,
        )
        assert year["state_label"]["en"] == "Closed: left the scheme"

    # the channel by enrollment, the channel by ID number, the tax authority, a late payment
    by_year = j.api(
        "POST",
        f"/enrollments/{renewed['enrollment_id']}/payments",
        "counter",
        {"amount": "360.00"},
        expect=422,
    )
    assert LEFT in by_year["message_en"] and "终止参保" in by_year["message_zh"]
    by_person = {"id_number": PAID, "amount": "360.00", "policy": "huian-2023"}
    j.api("POST", "/payments", "counter", by_person, expect=422)
    new_year = j.years(NEW)["huian-2023"]["enrollment_id"]
    deduct = {"event": "deduct", "data": {"amount": "360.00"}}
    j.api("POST", f"/enrollments/{new_year}/events", "tax", deduct, expect=409)
    late = j.years(LAPSED)["huian-2022"]["enrollment_id"]
    refused = j.api(
        "POST", f"/enrollments/{late}/payments", "counter", {"amount": "900.00"}, expect=422
    )
    assert LEFT in refused["message_en"]
    # the tax authority's file: the leaver's row rejected in the words the payment doors say
    rows = f"id_number,policy_year,amount,result,reason\n{NEW},2023,360.00,成功,\n"
    report = j.cli(
        "import",
        "deductions",
        j.file("d.csv", rows),
        "--policy",
        "huian-2023",
        exit_code=1,
    ).output
    assert "rejected: 1" in report and by_year["message_en"] in report

    # the period ends: nothing lapses, nobody is told their cover lapsed
    j.at("2023-01-02T10:00:00+08:00")
    j.sweep()
    for person, policy in ((PAID, "huian-2023"), (NEW, "huian-2023"), (LAPSED, "huian-2022")):
        assert j.years(person)[policy]["state"] == "closed_on_leaving"
    assert "year_lapsed" not in _notices(j, PAID) + _notices(j, NEW)


FOSHAN = "440604198003030050"


def test_a_refunded_year_owes_nothing_and_takes_no_second_payment(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-10-15T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")
    people = j.file("p.csv", f"id_number,name,region\n{FOSHAN},陈明,foshan\n")
    j.cli("import", "people", people)
    pay = {"id_number": FOSHAN, "amount": "320.00"}
    j.api("POST", "/payments", "counter", pay, expect=200)
    year = j.years(FOSHAN)["foshan-2022"]["enrollment_id"]
    request = {"employee_insurance_elsewhere": True, "benefits_used": False}
    body = {"event": "request_refund", "data": request}
    j.api("POST", f"/enrollments/{year}/events", "counter", body, expect=200)
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_refund").status_code == 302

    found = j.api("POST", "/people/enrollments", "counter", {"id_number": FOSHAN}, expect=200)
    assert found["paid"] == [] and found["unpaid"] == []
    [refunded] = found["refunded"]
    assert (refunded["state"], refunded["paid"], refunded["amount_due"]) == (
        "refunded",
        False,
        None,
    )
    assert (refunded["amount_paid"], refunded["refund_amount"]) == ("320.00", "320.00")
    assert refunded["paid_at"] is not None and refunded["refunded_at"] is not None

    again = j.api("POST", "/payments", "counter", pay, expect=422)
    assert "refunded" in again["message_en"] and "appeal" in again["message_en"]
    j.api("POST", f"/enrollments/{year}/payments", "counter", {"amount": "320.00"}, expect=422)
    reopen = {"id_number": FOSHAN, "policy": "foshan-2022"}
    assert "refunded" in j.api("POST", "/enrollments", "counter", reopen, expect=422)["message_en"]
    found = j.api("POST", "/people/enrollments", "counter", {"id_number": FOSHAN}, expect=200)
    assert [y["enrollment_id"] for y in found["paid"] + found["unpaid"] + found["refunded"]] == [
        year
    ]


RETURNS = "440604199001010018"  # leaves with 2022 unpaid, registers again, pays 2022


def test_a_year_closed_on_leaving_is_listed_as_closed_not_as_unpaid(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-01-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")
    body = {"id_number": RETURNS, "name": "张三", "region": "foshan"}
    record = int(j.api("POST", "/registrations", "counter", body, expect=201)["person"]["id"])
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    closed = j.years(RETURNS)["foshan-2022"]["enrollment_id"]
    _leave(j, record)

    found = j.api("POST", "/people/enrollments", "counter", {"id_number": RETURNS}, expect=200)
    assert (found["paid"], found["unpaid"], found["refunded"]) == ([], [], [])
    [year] = found["closed"]
    assert (year["enrollment_id"], year["state"], year["paid"], year["amount_due"]) == (
        closed,
        "closed_on_leaving",
        False,
        None,
    )

    # registered again and approved: 2022 opens anew and is paid; the closed year stays closed
    j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    pay = {"id_number": RETURNS, "amount": "320.00"}
    j.api("POST", "/payments", "counter", pay, expect=200)
    found = j.api("POST", "/people/enrollments", "counter", {"id_number": RETURNS}, expect=200)
    [paid] = found["paid"]
    assert (paid["policy"], paid["amount_paid"]) == ("foshan-2022", "320.00")
    assert paid["enrollment_id"] != closed
    assert found["unpaid"] == [] and found["refunded"] == []
    assert [(y["enrollment_id"], y["amount_due"]) for y in found["closed"]] == [(closed, None)]
