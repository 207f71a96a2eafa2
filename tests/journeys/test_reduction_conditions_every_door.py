"""A reduction category's condition is checked the same way at every door: declared at
registration (the API, ``shebao people register``), brought in by ``shebao import people``,
claimed after registering, and again when a clerk grants a claim that waited in review.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt"), line 59: 70% of the
individual contribution for members of low-income families who are disabled (残疾人), 60 or older
(年满60周岁) or under 18 (未满18周岁); anyone else is no 减免对象 of that category.
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

AGED_42 = "350521198005050337"  # born 1980-05-05, not disabled: no low-income 减免对象
DISABLED_42 = "35052119800606057X"  # born 1980-06-06, disabled: a low-income 减免对象
AGED_72 = "350521195003030451"  # born 1950-03-03: 60 or older
AGED_37 = "35052119850202069X"  # born 1985-02-02, not disabled
TURNS_18 = "350521200410150219"  # born 2004-10-15: under 18 until 2022-10-15

CONDITION_ZH = "低收入家庭成员减免须符合以下条件之一：残疾人、年满60周岁、未满18周岁"
CONDITION_EN = (
    "Members of low-income families: the reduction is for people who are one of: "
    "disabled person; aged 60 or over; under 18"
)


def _approve_registration(clerk: Any) -> None:
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302, done.get_data(as_text=True)


def test_a_declared_category_whose_condition_fails_is_refused_at_registration(
    journey_factory: Any,
) -> None:
    """Someone of 42, not disabled, who declares the low-income reduction is refused by the API
    and by the counter terminal, in both languages, naming the category, its condition and the
    service's date; nothing is written (no clerk's task, and they register without it at once).
    Disabled, the same age, they may declare it, and pay 30%."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {
        "id_number": AGED_42,
        "name": "甲",
        "region": "huian",
        "reduction_categories": ["low_income"],
    }
    refused = j.api("POST", "/registrations", "counter", body, expect=422)
    assert refused["code"] == "registration_refused", refused
    assert CONDITION_ZH in refused["message_zh"] and "2022-09-01" in refused["message_zh"]
    assert CONDITION_EN in refused["message_en"] and "2022-09-01" in refused["message_en"]
    assert AGED_42 not in str(refused)

    result = j.cli(
        "people",
        "register",
        "--id-number",
        AGED_42,
        "--name",
        "甲",
        "--region",
        "huian",
        "--reduction",
        "low_income",
        exit_code=1,
    )
    assert CONDITION_ZH in result.output and CONDITION_EN in result.output
    assert clerk.task_ids() == []  # nothing written: no registration to check

    del body["reduction_categories"]
    j.api("POST", "/registrations", "counter", body, expect=201)
    _approve_registration(clerk)
    assert j.years(AGED_42)["huian-2023"]["amount_due"] == "360.00"

    disabled = {
        "id_number": DISABLED_42,
        "name": "乙",
        "region": "huian",
        "reduction_categories": ["low_income"],
        "flags": ["disabled"],
    }
    j.api("POST", "/registrations", "counter", disabled, expect=201)
    _approve_registration(clerk)
    assert j.years(DISABLED_42)["huian-2023"]["amount_due"] == "108.00"  # 30% of 360


def test_an_imported_row_whose_category_condition_fails_is_rejected(journey_factory: Any) -> None:
    """``shebao import people``: the row of someone of 37 with the low-income category is rejected
    by its line in words (exit 1) and writes nothing; the row of someone of 72 is applied and
    their year owes 30%. The API's import rejects the row the same way."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    people = j.file(
        "people.csv",
        "id_number,name,region,reduction_categories\n"
        f"{AGED_37},丙,huian,low_income\n"
        f"{AGED_72},丁,huian,low_income\n",
    )
    result = j.cli("import", "people", people, exit_code=1)
    assert "applied: 1" in result.output and "rejected: 1" in result.output, result.output
    [line] = [row for row in result.output.splitlines() if "line 2" in row]
    assert CONDITION_ZH in line and CONDITION_EN in line, result.output
    assert AGED_37 not in result.output

    assert j.years(AGED_72)["huian-2023"]["amount_due"] == "108.00"
    rows = {
        "rows": [
            {
                "id_number": AGED_37,
                "name": "丙",
                "region": "huian",
                "reduction_categories": "low_income",
            }
        ]
    }
    [rejected] = j.api("POST", "/imports/people", "importer", rows, expect=200)["rejected"]
    assert CONDITION_ZH in rejected["reason_zh"] and CONDITION_EN in rejected["reason"]
    assert j.years(AGED_37) == {}
    body = {"id_number": AGED_37, "name": "丙", "region": "huian"}  # no record was written
    j.api("POST", "/registrations", "counter", body, expect=201)


def test_a_claim_whose_condition_ended_in_review_is_not_granted(journey_factory: Any) -> None:
    """Claimed at 17, the low-income reduction waits for the clerk; when the clerk grants it the
    claimant has turned 18: the grant is refused with the reason on the task's page (422, the
    note typed kept), the task stays open and the year owes the full amount; refusing it works."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {"id_number": TURNS_18, "name": "戊", "region": "huian"}
    j.api("POST", "/registrations", "counter", body, expect=201)
    _approve_registration(clerk)
    claim = {"id_number": TURNS_18, "category": "low_income", "evidence": "低收入证明 18"}
    j.api("POST", "/people/reduction-claims", "counter", claim, expect=201)

    j.at("2022-10-20T10:00:00+08:00")  # 18 since 2022-10-15
    [task] = clerk.task_ids()
    refused = clerk.complete(task, "approve_reduction", note="证明已核")
    assert refused.status_code == 422, refused.status_code
    page = refused.get_data(as_text=True)
    assert CONDITION_ZH in page and "2022-10-20" in page
    assert "证明已核" in page  # the form as the clerk typed it
    assert clerk.task_ids() == [task]
    assert j.years(TURNS_18)["huian-2023"]["amount_due"] == "360.00"

    done = clerk.complete(task, "refuse_reduction", reason="已满18周岁")
    assert done.status_code == 302, done.get_data(as_text=True)
    assert clerk.task_ids() == []
    assert j.years(TURNS_18)["huian-2023"]["amount_due"] == "360.00"
