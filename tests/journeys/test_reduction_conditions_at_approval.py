"""A clerk's approval of a registration re-checks each declared reduction category's condition
on the service's date, as the grant of a claim does (huian.txt:59: low income counts for the
disabled, 60 or older, under 18): declared at 17 and approved at 18, the approval is refused in
words saying what the clerk can do (refuse the category, or reject the registration).
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey, Staff

TURNS_18 = "350521200410150219"  # born 2004-10-15: under 18 until 2022-10-15
CONDITION_ZH = "低收入家庭成员减免须符合以下条件之一：残疾人、年满60周岁、未满18周岁"


def declared_low_income_at_17(journey_factory: Any) -> tuple[Journey, Staff]:
    """Someone of 17 registered on 2022-10-10 declaring the low-income category, and the clerk
    who reviews the registration."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {
        "id_number": TURNS_18,
        "name": "戊",
        "region": "huian",
        "reduction_categories": ["low_income"],
    }
    j.api("POST", "/registrations", "counter", body, expect=201)
    return j, clerk


def test_a_category_whose_condition_ended_in_review_refuses_the_approval(
    journey_factory: Any,
) -> None:
    """Registered at 17 with the low-income category, approved when 18: 422 on the task page
    with the condition, the day and the way out, the note typed kept, the task open and no year
    opened; approving with the category refused works, and the year owes the full 360.00."""
    j, clerk = declared_low_income_at_17(journey_factory)

    j.at("2022-10-20T10:00:00+08:00")  # 18 since 2022-10-15
    [task] = clerk.task_ids()
    refused = clerk.complete(
        task, "approve_registration", document_kind="household_register", note="户口簿已核"
    )
    assert refused.status_code == 422, refused.status_code
    page = refused.get_data(as_text=True)
    assert CONDITION_ZH in page and "2022-10-20" in page
    assert "不予认定的减免类别" in page and "不通过登记" in page
    assert "户口簿已核" in page  # the form as the clerk typed it
    assert clerk.task_ids() == [task]
    assert j.years(TURNS_18) == {}

    done = clerk.complete(
        task,
        "approve_registration",
        document_kind="household_register",
        reductions_refused="low_income",
        reductions_refused_reason="已满18周岁",
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert clerk.task_ids() == []
    assert j.years(TURNS_18)["huian-2023"]["amount_due"] == "360.00"


def test_a_category_still_met_at_approval_is_kept(journey_factory: Any) -> None:
    """Approved while still 17, the low-income category holds: the year owes 30%."""
    j, clerk = declared_low_income_at_17(journey_factory)
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302, done.get_data(as_text=True)
    assert j.years(TURNS_18)["huian-2023"]["amount_due"] == "108.00"
