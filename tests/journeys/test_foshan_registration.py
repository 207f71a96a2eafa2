"""Foshan: a family registers at a counter terminal (``shebao people register``), a clerk checks
the household register in the inbox, the year of the open period opens with the approval, the
parents pay for themselves and for their child (家庭缴费), and someone registering after the
period finds the year closed to them: through the doors alone.

Source: foshan-card-one-card-and-2022-medical-insurance.txt ("foshan.txt"): collection until
2022-02-28 (line 46); outpatient benefits from the 1st of the month after the payment arrives,
inpatient from 1 January (lines 48-50); paying for oneself, the family or others (line 63); unpaid
after the deadline: the year is given up (line 67). The fee is the policy file's (assumed there).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

FATHER = "440605198303030614"
MOTHER = "440605198504040624"
CHILD = "440605201605050631"
LATECOMER = "44060519790606064X"


def test_a_family_registers_pays_for_the_child_and_a_latecomer_finds_the_year_closed(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2021-11-03T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")
    for person, name in ((FATHER, "李强"), (MOTHER, "周敏"), (CHILD, "李子涵")):
        said = j.cli(
            "people",
            "register",
            "--id-number",
            person,
            "--name",
            name,
            "--region",
            "foshan",
            "--household",
            "FS-0605-17",
        ).output
        assert "440605********" in said and person not in said  # the answer masks the ID
    refused = j.cli(
        "people",
        "register",
        "--id-number",
        FATHER,
        "--name",
        "李强",
        "--region",
        "foshan",
        exit_code=1,
    )
    assert "already has a record" in refused.output
    # the insured-people import does not pretend a person in review is insured already
    row = f"id_number,name,region\n{FATHER},李强,foshan\n"
    reported = j.cli("import", "people", j.file("insured.csv", row), exit_code=1).output
    assert "registration is in review" in reported and FATHER not in reported

    tasks = clerk.task_ids("?kind=verify_residence")
    assert len(tasks) == 3
    for task in tasks:
        assert "FS-0605-17" in clerk.page(f"/inbox/{task}")  # the household, a fact of the task
        assert (
            clerk.complete(
                task, "approve_registration", document_kind="household_register"
            ).status_code
            == 302
        )
    assert {j.years(p)["foshan-2022"]["state"] for p in (FATHER, MOTHER, CHILD)} == {"registered"}

    # paid in November 2021: outpatient from 1 January 2022 (never before the year), inpatient too
    paid = j.api(
        "POST", "/payments", "counter", {"id_number": FATHER, "amount": "320.00"}, expect=200
    )
    assert paid["benefit_start"] == {
        "general_outpatient": "2022-01-01",
        "inpatient": "2022-01-01",
        "special_outpatient": "2022-01-01",
    }
    for payer, insured in ((MOTHER, MOTHER), (MOTHER, CHILD)):
        body = {"id_number": insured, "amount": "320.00"}
        if payer != insured:
            body.update(payer_kind="family", payer_id_number=payer)
        j.api("POST", "/payments", "counter", body, expect=200)
    child = j.years(CHILD)["foshan-2022"]
    assert (child["paid"], child["payer_kind"], child["payer_id_number_masked"]) == (
        True,
        "family",
        "440605********0624",
    )
    # a second payment of a paid year is refused: the year is paid once
    j.api("POST", "/payments", "counter", {"id_number": CHILD, "amount": "320.00"}, expect=409)

    # after the deadline: registration still works, but 2022 can no longer be opened or paid
    j.at("2022-03-10T10:00:00+08:00")
    j.cli("people", "register", "--id-number", LATECOMER, "--name", "何静", "--region", "foshan")
    [task] = clerk.task_ids("?kind=verify_residence")
    clerk.complete(task, "approve_registration", document_kind="residence_permit")
    assert "foshan-2022" not in j.years(LATECOMER)
    closed = j.cli(
        "people", "open-year", "--id-number", LATECOMER, "--policy", "foshan-2022", exit_code=1
    )
    assert "can no longer be paid" in closed.output
    refused = j.api("POST", "/payments", "counter", {"id_number": LATECOMER, "amount": "320.00"})
    assert refused["code"] in ("registration_refused", "transition_refused")
