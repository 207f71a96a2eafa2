"""Rules read from the service clock and the documents, through the doors alone: a late payment
that would buy no cover, ID numbers born after the service's date, and a reduction claimed by
someone who does not meet its condition.

Sources: quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt"): 70% of the individual
contribution for members of low-income families who are disabled, 60 or older, or under 18
(line 59: 低收入家庭减免对象（残疾人、年满60周岁的老年人、未满18周岁的未成年人）); the late rules
are the policy file's (practice, NOTES.md "Quanzhou 2023": from 1 March a 60-day wait).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

LAST_DAY = "35052119850303011X"  # pays 2022 late on 2022-11-01: benefits from 2022-12-31
TOO_LATE = "350521198504040133"  # pays 2022 late from 2022-11-02: benefits would start in 2023
NOT_LOW_INCOME = "350521198006060158"  # born 1980, not disabled: not a low-income 减免对象
DISABLED = "350521198007070171"  # born 1980, disabled: a low-income 减免对象
BORN_2024 = "440604202401011233"  # born after the service's date (2022-09-01)
BORN_DECEMBER = "350521202212011233"  # born 2022-12-01, after the service's date
BORN_AUGUST = "350521202208010211"  # born 2022-08-01: a newborn on 2022-09-01
BORN_TOMORROW = "350521202209020235"  # born 2022-09-02


def _register(j: Journey, clerk: Any, number: str, **facts: Any) -> int:
    body = {"id_number": number, "name": "核", "region": "huian", **facts}
    made = j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302, done.get_data(as_text=True)
    return int(made["transition"]["instance_id"])


def test_a_late_payment_whose_benefits_would_start_after_the_year_is_refused(
    journey_factory: Any,
) -> None:
    """huian-2022 takes late payments through 2022-12-31, from 1 March with a 60-day wait: a
    payment on 2022-11-01 starts benefits on 2022-12-31, the year's last day; one a day later
    would start them in 2023, after the insurance year: refused at every door, nothing taken."""
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    for person in (LAST_DAY, TOO_LATE):
        _register(j, clerk, person)
    j.at("2022-01-02T10:00:00+08:00")
    j.sweep()
    assert j.years(TOO_LATE)["huian-2022"]["state"] == "lapsed"

    j.at("2022-11-01T10:00:00+08:00")
    body = {"id_number": LAST_DAY, "amount": "900.00", "policy": "huian-2022"}
    paid = j.api("POST", "/payments", "counter", body, expect=200)
    assert paid["transition"]["to_state"] == "paid_late"
    assert set(paid["benefit_start"].values()) == {"2022-12-31"}

    for moment in ("2022-11-02T10:00:00+08:00", "2022-12-15T10:00:00+08:00"):
        j.at(moment)
        year = j.years(TOO_LATE)["huian-2022"]
        assert (year["state"], year["amount_due"]) == ("lapsed", None)  # nothing payable
        body = {"id_number": TOO_LATE, "amount": "900.00", "policy": "huian-2022"}
        by_number = j.api("POST", "/payments", "counter", body, expect=409)
        path = f"/enrollments/{year['enrollment_id']}/payments"
        by_year = j.api("POST", path, "counter", {"amount": "900.00"}, expect=409)
        for refused in (by_number, by_year):
            assert refused["code"] == "transition_refused", refused
            assert "2022-12-31" in refused["message_zh"], refused
            assert "after the 2022 insurance year ends" in refused["message_en"], refused
        assert j.years(TOO_LATE)["huian-2022"]["state"] == "lapsed"


def test_an_id_number_born_after_the_service_date_is_refused_for_a_new_record(
    journey_factory: Any,
) -> None:
    """The birth date is judged on the service clock, not the machine's: on 2022-09-01 a person
    born in 2024, or on 2022-12-01, cannot be registered, imported or apply for a card."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    for number, region in ((BORN_2024, "foshan"), (BORN_DECEMBER, "huian")):
        body = {
            "id_number": number,
            "name": "未",
            "region": region,
            "flags": ["newborn"],
            "reduction_categories": ["low_income"] if region == "huian" else [],
        }
        refused = j.api("POST", "/registrations", "counter", body, expect=422)
        assert "出生日期" in refused["message_zh"] and "in the future" in refused["message_en"]
        assert "2022-09-01" in refused["message_en"]
        assert number not in str(refused)
        card = {"id_number": number, "channel": "counter", "bank": "icbc", "region_code": "350521"}
        refused = j.api("POST", "/cards", "counter", card, expect=422)
        assert "in the future" in refused["message_en"]
    rows = {"rows": [{"id_number": BORN_DECEMBER, "name": "未", "region": "huian"}]}
    report = j.api("POST", "/imports/people", "importer", rows, expect=200)
    [rejected] = report["rejected"]
    assert "in the future" in rejected["reason"]
    people = j.file("people.csv", f"id_number,name,region\n{BORN_TOMORROW},明,huian\n")
    result = j.cli("import", "people", people, exit_code=1)
    assert "in the future" in result.output and BORN_TOMORROW not in result.output

    # born the month before: a newborn registers, and a day later someone born the next day can
    body = {"id_number": BORN_AUGUST, "name": "新", "region": "huian", "flags": ["newborn"]}
    j.api("POST", "/registrations", "counter", body, expect=201)
    j.at("2022-09-02T10:00:00+08:00")
    body = {"id_number": BORN_TOMORROW, "name": "明", "region": "huian", "flags": ["newborn"]}
    j.api("POST", "/registrations", "counter", body, expect=201)


def test_a_low_income_claim_needs_its_condition(journey_factory: Any) -> None:
    """huian.txt:59: the low-income reduction is for members of low-income families who are
    disabled, 60 or older, or under 18. Someone born in 1980 and not disabled is refused when
    claiming it (nothing to review, no notice saying it was granted), so they are not spared
    the subsidy when paying late; a disabled person of the same age may claim it."""
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    person = _register(j, clerk, NOT_LOW_INCOME)
    _register(j, clerk, DISABLED, flags=["disabled"])
    # declared at registration it is refused the same way
    # (test_reduction_conditions_every_door.py)

    body = {"id_number": NOT_LOW_INCOME, "category": "low_income", "evidence": "低收入证明 1"}
    refused = j.api("POST", "/people/reduction-claims", "counter", body, expect=422)
    assert "残疾人" in refused["message_zh"] and "60" in refused["message_en"]
    # through the record's events door too: the claim's data is refused
    event = {"event": "claim_reduction", "data": {"category": "low_income", "evidence": "证明"}}
    refused = j.api("POST", f"/registrations/{person}/events", "counter", event, expect=422)
    assert "60" in str(refused)
    assert clerk.task_ids() == []

    body = {"id_number": DISABLED, "category": "low_income", "evidence": "低收入证明 2"}
    j.api("POST", "/people/reduction-claims", "counter", body, expect=201)
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_reduction").status_code == 302
    assert j.years(DISABLED)["huian-2022"]["amount_due"] == "96.00"

    # past 2022-07-01 a late payer owes the subsidy too, unless spared: the one who was refused
    j.at("2022-01-02T10:00:00+08:00")
    j.sweep()
    j.at("2022-08-01T10:00:00+08:00")
    assert j.years(NOT_LOW_INCOME)["huian-2022"]["amount_due"] == "900.00"
    assert j.years(DISABLED)["huian-2022"]["amount_due"] == "96.00"
