"""Registration (参保登记) with a clerk's check, and opening a registered person's years.

huian.txt is quanzhou-huian-cards-and-2023-medical-insurance.txt under ../shared/domain/.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine import queries
from engine.clock import SimulatedClock
from engine.errors import TaskFormInvalid
from engine.runtime import Engine
from workflows.domain import Domain
from workflows.identity import make_id_number
from workflows.payments import PaymentRequest, pay_for_person
from workflows.people import NotRegistered, Registration, RegistrationRefused, register_person
from workflows.years import open_year

CST = ZoneInfo("Asia/Shanghai")
PERSON = make_id_number("350521", date(2001, 8, 8), 3)


def registration(**changes: object) -> Registration:
    values: dict[str, object] = {"id_number": PERSON, "name": "林小雨", "region": "huian"}
    values.update(changes)
    return Registration(**values)  # type: ignore[arg-type]


def test_registration_needs_a_clerk_and_opens_the_year_of_the_open_period(
    engine: Engine, domain: Domain
) -> None:
    # huian.txt:31 如无医保档案，请先参保登记完再进行缴费; :35 户口簿或居住证
    with pytest.raises(NotRegistered) as missing:
        pay_for_person(engine, domain, PERSON, None, PaymentRequest("360"), actor="app")
    assert "参保登记" in missing.value.message_zh
    started = register_person(engine, domain, registration(), actor="counter")
    [task] = queries.tasks_of(engine.db, started.instance_id, "open")
    assert (task["name"], task["candidate_group"], task["scope"]) == (
        "verify_residence",
        "medical_insurance_clerk",
        "huian",
    )
    with pytest.raises(RegistrationRefused):  # one record per person
        register_person(engine, domain, registration(), actor="counter")
    with pytest.raises(TaskFormInvalid) as wrong:  # a passport is not one of the documents
        engine.complete_task(
            task["id"],
            actor="clerk",
            data={"document_kind": "passport"},
            outcome="approve_registration",
        )
    assert [p.field for p in wrong.value.problems] == ["document_kind"]
    assert "Document checked" in wrong.value.message_en  # named by its label
    done = engine.complete_task(
        task["id"],
        actor="clerk",
        data={"document_kind": "household_register"},
        outcome="approve_registration",
    )
    assert done.to_state == "insured"
    # the clock (2022-10-10) is inside huian-2023's period: that year opened with the approval
    [opened] = done.followups
    assert (opened["process"], opened["to_state"]) == ("enrollment", "registered")
    year = queries.instance(engine.db, opened["instance_id"])
    assert year["business_key"] == f"{PERSON}:huian-2023"
    paid = pay_for_person(engine, domain, PERSON, None, PaymentRequest("360"), actor="app")
    assert paid.transition.to_state == "deducted"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"id_number": "350521200108080031"}, "check"),
        ({"name": "  "}, "name"),
        ({"region": "beijing"}, "unknown region"),
        ({"residence": "passport"}, "residence"),
        ({"reduction_categories": ("royalty",)}, "no reduction category"),
    ],
)
def test_bad_registrations_are_refused_with_the_reason(
    engine: Engine, domain: Domain, changes: dict[str, object], words: str
) -> None:
    with pytest.raises(RegistrationRefused) as refused:
        register_person(engine, domain, registration(**changes), actor="counter")
    assert words in refused.value.message_en
    assert queries.total_instances(engine.db) == 0


def test_a_year_opens_only_for_an_insured_person_of_its_region(
    engine: Engine, domain: Domain, clock: SimulatedClock
) -> None:
    with pytest.raises(NotRegistered):
        open_year(engine, domain, PERSON, "huian-2023", actor="counter")
    clock.set(datetime(2022, 8, 1, 10, tzinfo=CST))  # between periods: approval opens nothing
    started = register_person(engine, domain, registration(), actor="counter")
    [task] = queries.tasks_of(engine.db, started.instance_id, "open")
    done = engine.complete_task(
        task["id"],
        actor="clerk",
        data={"document_kind": "residence_permit"},
        outcome="approve_registration",
    )
    assert done.followups == ()
    with pytest.raises(RegistrationRefused):
        open_year(engine, domain, PERSON, "foshan-2022", actor="counter")  # another region
    opened = open_year(engine, domain, PERSON, "huian-2023", actor="counter")
    assert opened.to_state == "registered"
    with pytest.raises(RegistrationRefused):
        open_year(engine, domain, PERSON, "huian-2023", actor="counter")  # open already
    [timer] = queries.timers_of(engine.db, opened.instance_id, "pending")
    assert (timer["event"], timer["due_at"]) == ("lapse", datetime(2023, 1, 1, tzinfo=CST))
