"""Flags that count for one year only, and the messages about payment periods, ID numbers and
registrations in review, through the doors alone.

NOTES.md (Quanzhou 2023): from July the late payer pays the subsidy too (360 + 610) "except
newborns, new students, people leaving employee insurance and the hardship groups": a baby or a
student is spared in the year they enrol, not in every year after it. A payment dated before a
payment period opens is no late payment: it is refused for being early. An ID number is refused
for what is wrong with it: a birth date in the future, an address code no province has.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.journeys.conftest import Journey
from workflows.identity import make_id_number

BABY = make_id_number("350521", date(2021, 8, 1), 12)  # born in Hui'an, registered as a newborn
ADULT = "350521199001010017"  # the same payments as the baby, no flag
STUDENT = make_id_number(
    "350521", date(2004, 5, 5), 31
)  # registers in August 2022 as a new student, pays 2022 late
PAYER = "11010519491231002X"  # insured in Foshan (NOTES.md example number)


def _register(j: Journey, number: str, region: str, *flags: str) -> None:
    body = {"id_number": number, "name": "测试", "region": region, "flags": list(flags)}
    j.api("POST", "/registrations", "counter", body, expect=201)


def test_newborn_and_new_student_spare_the_late_subsidy_in_their_first_year_only(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    _register(j, BABY, "huian", "newborn")
    _register(j, ADULT, "huian")
    for task in clerk.task_ids():
        clerk.complete(task, "approve_registration", document_kind="household_register")
    for person in (BABY, ADULT):
        j.api("POST", "/payments", "counter", {"id_number": person, "amount": "320.00"}, expect=200)

    # a new student registers after the 2022 period; the 2022 year, opened by hand, lapses
    j.at("2022-08-01T10:00:00+08:00")
    _register(j, STUDENT, "huian", "new_student")
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    body = {"id_number": STUDENT, "policy": "huian-2022"}
    j.api("POST", "/enrollments", "counter", body, expect=201)

    # the periodic job renews the baby and the adult into 2023 (默认续保)
    j.at("2022-09-01T08:00:00+08:00")
    j.sweep()
    assert j.years(BABY)["huian-2023"]["state"] == "renewal_pending"
    # the student pays 2022 late: in the year she enrolled, she is spared the subsidy (320, not
    # 320 + 580); the payment renews her into 2023 at once
    j.at("2022-10-15T10:00:00+08:00")
    late = {"id_number": STUDENT, "policy": "huian-2022", "amount": "320.00"}
    paid = j.api("POST", "/payments", "counter", late, expect=200)
    assert paid["transition"]["to_state"] == "paid_late"
    assert j.years(STUDENT)["huian-2023"]["state"] == "renewal_pending"

    # 2023, paid late after 1 July: nobody is a newborn or a new student any more
    j.at("2023-07-05T10:00:00+08:00")
    for person in (ADULT, BABY, STUDENT):
        assert j.years(person)["huian-2023"]["amount_due"] == "970.00", person
    short = {"id_number": BABY, "policy": "huian-2023", "amount": "360.00"}
    refused = j.api("POST", "/payments", "counter", short, expect=409)
    assert "970.00" in refused["message_en"]


def test_a_payment_dated_before_the_period_opens_is_refused_as_early(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("tax", "tax")
    people = j.file("people.csv", f"id_number,name,region\n{PAYER},陈明,foshan\n")
    assert "applied: 1" in j.cli("import", "people", people).output
    year = j.years(PAYER, "tax")["foshan-2022"]
    early = {"id_number": PAYER, "amount": "320.00", "paid_at": "2021-08-01T10:00:00+08:00"}
    refused = j.api("POST", "/payments", "tax", early, expect=409)
    assert "the payment period of Foshan 2022 opens on 2021-09-01" in refused["message_en"]
    assert "a payment before it is not accepted" in refused["message_en"]
    assert "缴费期自 2021-09-01 起" in refused["message_zh"]
    # the time in each language's words for China's, as the period's refusals say it
    assert "(paid at 2021-08-01 10:00 (Beijing time))" in refused["message_en"]
    assert "（缴费时间：2021-08-01 10:00（北京时间））" in refused["message_zh"]
    assert "late payment" not in refused["message_en"]
    assert j.years(PAYER, "tax")["foshan-2022"] == year  # nothing changed


def test_id_numbers_and_registrations_in_review_are_refused_for_what_is_wrong(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2022-09-10T10:00:00+08:00")
    j.token("counter", "channel")
    unborn = make_id_number("350521", date(2090, 1, 1), 21)
    nowhere = make_id_number("000000", date(1990, 1, 1), 21)
    for number, words in ((unborn, "in the future"), (nowhere, "address code")):
        body = {"id_number": number, "name": "测试", "region": "huian"}
        refused = j.api("POST", "/registrations", "counter", body, expect=422)
        assert words in refused["message_en"], refused
        assert number not in str(refused)
    assert (
        "出生日期晚于今天"
        in j.api(
            "POST",
            "/registrations",
            "counter",
            {"id_number": unborn, "name": "测试", "region": "huian"},
        )["message_zh"]
    )

    _register(j, ADULT, "huian")  # in review: no clerk has checked it yet
    result = j.cli(
        "people", "open-year", "--id-number", ADULT, "--policy", "huian-2023", exit_code=1
    )
    assert "awaiting the clerk's review" in result.output
    assert "register first" not in result.output and ADULT not in result.output
    paid = j.api("POST", "/payments", "counter", {"id_number": ADULT, "amount": "360.00"})
    assert "等待经办人员审核" in paid["message_zh"]
