"""Renewal for people the periodic job cannot find when a payment period begins (QA 3 and 5),
through the doors alone.

The job that runs once when a period begins renews last year's people in good standing and opens
the year of everyone insured who never had one (README, "Renew"). Two kinds of people fell between
them: someone who left the scheme, whose last year was closed, and who registered again between
two periods (the closed year counted as a year they had: no year ever opened); and someone whose
paid year was in refund review when the period began, the refund then rejected (the year came back
into good standing after the job had run: never renewed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.journeys.conftest import Journey
from web.config import PROJECT_ROOT

RETURNER = "350521198505050018"  # Hui'an: 2022 lapsed, leaves, registers again in August 2022
STAYER = "350521198606060020"  # Hui'an: 2022 lapsed, stays: not carried (gave the year up)
PAID_BEFORE = "440604198101010010"  # Foshan: 2021 paid, 2022 closed on leaving, registers again
REFUSED = "440604198202020023"  # Foshan: 2022 paid, a refund asked for, rejected in September
PAYER = "440604198303030036"  # Foshan: 2022 paid, renewed by the periodic job


def _register(j: Journey, clerk: Any, person: str, region: str) -> int:
    body = {"id_number": person, "name": "续", "region": region}
    made = j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302
    return int(made["person"]["id"])


def _leave(j: Journey, record: int) -> None:
    body = {"event": "leave_scheme", "data": {"reason": "迁出"}}
    left = j.api("POST", f"/registrations/{record}/events", "counter", body, expect=200)
    assert left["to_state"] == "left"


def test_a_person_who_left_and_registered_again_between_periods_gets_the_next_year(
    journey_factory: Any,
) -> None:
    """QA 3 (Hui'an): left on 2022-07-15 (the lapsed 2022 year closed), registered again and
    approved in August, when no period was open: the 2023 period's first sweep opens their year as
    an approval would, and the tax authority's deduction for it applies; someone whose 2022 year
    lapsed and who stayed is still not carried."""
    j: Journey = journey_factory("2021-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    record = _register(j, clerk, RETURNER, "huian")
    _register(j, clerk, STAYER, "huian")
    j.at("2022-01-02T10:00:00+08:00")
    j.sweep()
    assert j.years(RETURNER)["huian-2022"]["state"] == "lapsed"
    j.at("2022-07-15T10:00:00+08:00")
    _leave(j, record)
    assert j.years(RETURNER)["huian-2022"]["state"] == "closed_on_leaving"
    j.at("2022-08-10T10:00:00+08:00")
    _register(j, clerk, RETURNER, "huian")
    assert list(j.years(RETURNER)) == ["huian-2022"]  # no period open: no year yet

    j.at("2022-09-01T08:00:00+08:00")
    j.sweep()
    opened = j.years(RETURNER)["huian-2023"]
    assert (opened["state"], opened["amount_due"]) == ("registered", "360.00")
    assert "huian-2023" not in j.years(STAYER)  # last year lapsed: opens one by paying
    j.sweep()  # once
    found = j.api("POST", "/people/enrollments", "counter", {"id_number": RETURNER}, expect=200)
    assert [y["policy"] for y in found["unpaid"]] == ["huian-2023"]

    rows = f"id_number,policy_year,amount,result,reason\n{RETURNER},2023,360.00,成功,\n"
    report = j.cli("import", "deductions", j.file("d.csv", rows), "--policy", "huian-2023")
    assert "applied: 1" in report.output
    assert j.years(RETURNER)["huian-2023"]["state"] == "deducted"


@pytest.fixture
def with_foshan_2023(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped policies and a following Foshan year, foshan-2023 (period 2022-09-01 to
    2023-02-28, renewing foshan-2022), for the service the journey starts."""
    folder = tmp_path / "policies"
    folder.mkdir()
    source = PROJECT_ROOT / "definitions" / "policies"
    for path in source.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load((source / "foshan-2022.yaml").read_text(encoding="utf-8"))
    data.update(policy="foshan-2023", renews_from="foshan-2022", year=2023)
    data["payment_period"] = {"start": "2022-09-01", "end": "2023-02-28"}
    data["refund"] = {"duplicate_with_employee_insurance": {"accepted_until": "2023-02-28"}}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    (folder / "foshan-2023.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("SHEBAO_POLICIES", str(folder))


@pytest.mark.usefixtures("with_foshan_2023")
def test_a_refund_rejected_after_the_next_period_opened_renews_at_once(
    journey_factory: Any,
) -> None:
    """QA 5 (Foshan): a paid 2022 year in refund review when the 2023 period began was not
    renewed with the others; the clerk rejects the refund in September (the year is paid again):
    it renews at once, as a late payment does, and once only."""
    j: Journey = journey_factory("2022-02-01T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")
    for person in (REFUSED, PAYER):
        _register(j, clerk, person, "foshan")
        j.api("POST", "/payments", "counter", {"id_number": person, "amount": "320.00"}, expect=200)
    year = j.years(REFUSED)["foshan-2022"]["enrollment_id"]
    request = {"employee_insurance_elsewhere": True, "benefits_used": False}
    body = {"event": "request_refund", "data": request}
    j.api("POST", f"/enrollments/{year}/events", "counter", body, expect=200)

    j.at("2022-09-01T08:00:00+08:00")
    j.sweep()
    assert j.years(PAYER)["foshan-2023"]["state"] == "renewal_pending"
    assert "foshan-2023" not in j.years(REFUSED)  # in review: not in good standing
    [task] = clerk.task_ids()
    rejected = clerk.complete(task, "reject_refund", reason="未提供职工医保参保证明")
    assert rejected.status_code == 302
    assert j.years(REFUSED)["foshan-2022"]["state"] == "deducted"
    renewed = j.years(REFUSED)["foshan-2023"]
    assert (renewed["state"], renewed["amount_due"]) == ("renewal_pending", "320.00")
    j.sweep()
    found = j.api("POST", "/people/enrollments", "counter", {"id_number": REFUSED}, expect=200)
    assert [y["policy"] for y in found["unpaid"]] == ["foshan-2023"]  # one, not two


@pytest.mark.usefixtures("with_foshan_2023")
def test_a_returner_whose_last_year_closed_gets_the_next_year_despite_an_older_paid_one(
    journey_factory: Any,
) -> None:
    """QA 3, the same with an older year in good standing (Foshan): 2021 paid, 2022 renewed and
    closed when the person left in January 2022, registered again in June: what counts is the
    last year (closed), so the 2023 period opens their year as it does for someone new."""
    j: Journey = journey_factory("2020-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")
    record = _register(j, clerk, PAID_BEFORE, "foshan")
    pay = {"id_number": PAID_BEFORE, "amount": "280.00"}
    j.api("POST", "/payments", "counter", pay, expect=200)
    j.at("2021-09-02T10:00:00+08:00")
    j.sweep()
    assert j.years(PAID_BEFORE)["foshan-2022"]["state"] == "renewal_pending"
    j.at("2022-01-10T10:00:00+08:00")
    _leave(j, record)
    j.at("2022-06-01T10:00:00+08:00")
    _register(j, clerk, PAID_BEFORE, "foshan")

    j.at("2022-09-01T08:00:00+08:00")
    j.sweep()
    years = j.years(PAID_BEFORE)
    assert years["foshan-2021"]["state"] == "deducted"
    assert years["foshan-2022"]["state"] == "closed_on_leaving"
    assert years["foshan-2023"]["state"] == "registered"
