"""The periodic job that opens a payment period's years (renewals and first years) when the
scheduler missed the period, and when it runs at a moment before people were insured, through
the doors alone (QA, renewals 1 and 2).

1. A scheduler down for a whole payment period (or a service clock that jumped over it) does at
   its first run after the period what one run inside it would have done: the year opens, lapses
   at once through its own timer (past due), is listed unpaid with the late amount, and the holder
   is told. Only the region's latest policy whose period has begun is caught up: a first run in
   2023 opens no 2022 years.
2. A run at a moment (``--now``, a clock set back) before a person's insurance began (their
   registration approved or their record imported later) opens no year for them at that moment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.journeys.conftest import Journey

RENEWED = "350521197503030019"  # Hui'an: imported 2021-12-20, pays 320 for 2022
BETWEEN = "350521198006060596"  # Hui'an: imported between the two periods, pays herself
DIBAO = "350521199909090731"  # Hui'an 低保: imported between the periods, the fund pays
AFTER = "350521198808080011"  # Hui'an: imported after the 2023 period ended
EARLY = "350521197001010018"  # Hui'an: imported before the 2022 period began

APPROVED_LATE = "350521198505050018"  # registered in 2022, approved on 2023-01-01
TEKUN = "350521196001011016"  # 特困: imported 2022-02-10, the fund would pay all
BEFORE = "350521198606060020"  # imported 2021-08-20: insured on 2021-10-01
RETURNER = "350521198202020022"  # 2022 paid, left, registered again in February 2023


def _import(j: Journey, number: str, **extra: Any) -> None:
    row = {"id_number": number, "name": "补", "region": "huian", **extra}
    j.api("POST", "/imports/people", "importer", {"rows": [row]}, expect=200)


def _register(j: Journey, clerk: Any, number: str) -> int:
    """A registration at the counter, approved by the clerk now: the record's id."""
    body = {"id_number": number, "name": "迟", "region": "huian"}
    made = j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302
    return int(made["person"]["id"])


def _notice_kinds(j: Journey, number: str) -> list[str]:
    found = j.api("POST", "/people/notices", "counter", {"id_number": number}, expect=200)
    return [n["kind"] for n in found["notices"]]


def _unpaid(j: Journey, number: str) -> list[tuple[str, str, str]]:
    found = j.api("POST", "/people/enrollments", "counter", {"id_number": number}, expect=200)
    return [(y["policy"], y["state"], y["amount_due"]) for y in found["unpaid"]]


def _journey(journey_factory: Any, start: str) -> Journey:
    j: Journey = journey_factory(start)
    j.token("counter", "channel")
    j.token("importer", "import")
    return j


def test_a_scheduler_down_for_the_whole_period_renews_at_its_first_run_after_it(
    journey_factory: Any,
) -> None:
    """No run between 2022-06-01 and 2023-01-05 (Hui'an's 2023 period is 2022-09-01 to
    2022-12-31): the first run after it renews the person as a run inside it would have, and
    the year lapses in that same run (its deadline is past): unpaid, 360.00 due as a late
    payment, the holder told; paying 360 then is a late payment."""
    j = _journey(journey_factory, "2021-12-20T10:00:00+08:00")
    _import(j, RENEWED)
    pay = {"id_number": RENEWED, "amount": "320.00"}
    j.api("POST", "/payments", "counter", pay, expect=200)
    j.at("2022-06-01T10:00:00+08:00")
    j.sweep()

    j.at("2023-01-05T10:00:00+08:00")
    j.sweep()
    assert _unpaid(j, RENEWED) == [("huian-2023", "lapsed", "360.00")]
    assert "year_lapsed" in _notice_kinds(j, RENEWED)
    again = j.sweep()  # once: nothing left to fire, nobody renewed twice
    assert again["fired"] == 0
    assert [p for p in j.years(RENEWED)] == ["huian-2022", "huian-2023"]

    paid = j.api("POST", "/payments", "counter", {**pay, "amount": "360.00"}, expect=200)
    assert paid["transition"]["to_state"] == "paid_late"


def test_a_scheduler_down_for_the_whole_period_opens_the_first_years_it_missed(
    journey_factory: Any,
) -> None:
    """People insured between the periods get the 2023 year at the first run after the missed
    period, as an approval would have opened it (registered, then lapsed; the fund pays a 低保
    person's at once, late payments being accepted); someone insured after the period got no
    year in it and gets none now."""
    j = _journey(journey_factory, "2022-03-01T10:00:00+08:00")
    _import(j, BETWEEN)
    _import(j, DIBAO, reduction_categories=["dibao"])
    j.sweep()
    j.at("2023-01-03T10:00:00+08:00")
    _import(j, AFTER)

    j.at("2023-01-05T10:00:00+08:00")
    j.sweep()
    assert _unpaid(j, BETWEEN) == [("huian-2023", "lapsed", "360.00")]
    assert "year_lapsed" in _notice_kinds(j, BETWEEN)
    year = j.years(DIBAO)["huian-2023"]
    assert (year["state"], year["payer_kind"]) == ("deducted", "medical_assistance")
    assert "year_lapsed" not in _notice_kinds(j, DIBAO)
    assert j.years(AFTER) == {}


def test_a_first_run_years_later_opens_only_the_latest_period_begun(
    journey_factory: Any,
) -> None:
    """A service whose scheduler first runs in 2023 catches up Hui'an's 2023 period only: the
    2022 one, followed by a period that has begun since, is not opened for anyone."""
    j = _journey(journey_factory, "2021-08-15T10:00:00+08:00")
    _import(j, EARLY)
    j.at("2023-01-05T10:00:00+08:00")
    j.sweep()
    assert list(j.years(EARLY)) == ["huian-2023"]
    assert _unpaid(j, EARLY) == [("huian-2023", "lapsed", "360.00")]


def _at_moment(j: Journey, moment: str) -> dict[str, Any]:
    """``shebao scheduler --once --now MOMENT``: its summary."""
    result = j.cli("scheduler", "--once", "--now", moment)
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def test_a_run_at_a_past_moment_opens_no_year_for_people_insured_after_it(
    journey_factory: Any,
) -> None:
    """``--now 2021-10-01`` (Hui'an's 2022 period open then): the person insured since August
    2021 gets the 2022 year; the one whose registration was approved on 2023-01-01 and the 特困
    person imported on 2022-02-10 were not insured then and get none (not even a year the
    assistance fund pays)."""
    j = _journey(journey_factory, "2021-08-20T10:00:00+08:00")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    _import(j, BEFORE)
    j.at("2022-02-10T10:00:00+08:00")
    _import(j, TEKUN, reduction_categories=["tekun"])
    j.at("2022-12-31T15:00:00+08:00")
    body = {"id_number": APPROVED_LATE, "name": "迟", "region": "huian"}
    j.api("POST", "/registrations", "counter", body, expect=201)
    j.at("2023-01-01T10:00:00+08:00")
    [task] = clerk.task_ids()
    done = clerk.complete(task, "approve_registration", document_kind="household_register")
    assert done.status_code == 302
    assert j.years(APPROVED_LATE) == {} and j.years(TEKUN) == {}  # no period open

    _at_moment(j, "2021-10-01T00:00:00+08:00")
    assert j.years(BEFORE)["huian-2022"]["state"] == "registered"
    assert j.years(APPROVED_LATE) == {}
    assert j.years(TEKUN) == {}


def test_a_run_at_a_past_moment_renews_nobody_who_was_not_insured_then(
    journey_factory: Any,
) -> None:
    """A person paid for 2022, left the scheme, and registered again in February 2023 (their
    paid 2022 year stays in good standing): a run at 2022-09-05, when they were not on the
    books, does not renew them into 2023."""
    j = _journey(journey_factory, "2021-12-20T10:00:00+08:00")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    record = _register(j, clerk, RETURNER)
    j.api("POST", "/payments", "counter", {"id_number": RETURNER, "amount": "320.00"})
    assert j.years(RETURNER)["huian-2022"]["state"] == "deducted"
    j.at("2022-06-01T10:00:00+08:00")
    body = {"event": "leave_scheme", "data": {"reason": "迁出"}}
    j.api("POST", f"/registrations/{record}/events", "counter", body, expect=200)
    j.at("2023-02-01T10:00:00+08:00")
    _register(j, clerk, RETURNER)

    _at_moment(j, "2022-09-05T10:00:00+08:00")
    assert list(j.years(RETURNER)) == ["huian-2022"]


TEKUN_RENEWED = "350521196001011016"  # 特困, imported 2021-12-20: the fund pays 2022 and 2023


@pytest.mark.parametrize(
    "first_run",
    [
        "2023-04-10T10:00:00+08:00",  # late payments then wait 60 days
        "2024-01-05T10:00:00+08:00",  # late payments for 2023 no longer accepted
    ],
)
def test_a_downtime_costs_nobody_the_fund_pays_for_a_wait(
    journey_factory: Any, first_run: str
) -> None:
    """A 特困 person renewed and a 低保 person's first year, both opened by the first run after
    a scheduler was down for Hui'an's whole 2023 period (2022-09-01 to 2022-12-31): the fund pays
    each as a run in the period would have had it pay (at the period's start), so their benefits
    start on 1 January as everyone's paid in the period, not after a late payer's wait, and even
    after late payments for 2023 ended. Before, the fund paid at the run: late, 60 days' wait
    (benefits from 9 June), or not at all after 2023 (the year lapsed, its holder told)."""
    j = _journey(journey_factory, "2021-12-20T10:00:00+08:00")
    _import(j, TEKUN_RENEWED, reduction_categories=["tekun"])
    assert j.years(TEKUN_RENEWED)["huian-2022"]["state"] == "deducted"
    j.at("2022-03-01T10:00:00+08:00")
    _import(j, DIBAO, reduction_categories=["dibao"])
    j.sweep()

    j.at(first_run)
    j.sweep()
    for number in (TEKUN_RENEWED, DIBAO):
        year = j.years(number)["huian-2023"]
        assert (year["state"], year["payer_kind"]) == ("deducted", "medical_assistance"), year
        paid_at = datetime.fromisoformat(year["paid_at"])
        assert paid_at == datetime(2022, 8, 31, 16, tzinfo=UTC), year  # 09-01 00:00 in China
        assert set(year["benefit_start"].values()) == {"2023-01-01"}, year
        assert "year_lapsed" not in _notice_kinds(j, number)
    assert j.sweep()["fired"] == 0


def test_a_reduction_granted_after_the_catch_up_is_paid_when_it_is(
    journey_factory: Any,
) -> None:
    """A person with something to pay whose 2023 year the first run after the downtime opened
    (and lapsed at once), granted 低保 ten days later: the fund pays the lapsed year then, late
    (``paid_late``, 60 days' wait from the payment), not as of the period's start: only the
    payment as a year opens is dated back."""
    j = _journey(journey_factory, "2022-03-01T10:00:00+08:00")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    _import(j, BETWEEN)
    j.sweep()
    j.at("2023-04-10T10:00:00+08:00")
    j.sweep()
    assert _unpaid(j, BETWEEN) == [("huian-2023", "lapsed", "360.00")]

    j.at("2023-04-20T10:00:00+08:00")
    body = {"id_number": BETWEEN, "category": "dibao", "evidence": "证明 2023-41"}
    j.api("POST", "/people/reduction-claims", "counter", body, expect=201)
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_reduction").status_code == 302
    year = j.years(BETWEEN)["huian-2023"]
    assert (year["state"], year["payer_kind"]) == ("paid_late", "medical_assistance"), year
    paid_at = datetime.fromisoformat(year["paid_at"])
    assert paid_at == datetime(2023, 4, 20, 2, tzinfo=UTC), year
    assert set(year["benefit_start"].values()) == {"2023-06-19"}, year


PAYER = "350521197503030019"  # Hui'an: pays 2022 herself, renewed into 2023


def _granted_dibao(j: Journey, clerk: Any, number: str) -> None:
    body = {"id_number": number, "category": "dibao", "evidence": "证明 2023-21"}
    j.api("POST", "/people/reduction-claims", "counter", body, expect=201)
    [task] = clerk.task_ids()
    assert clerk.complete(task, "approve_reduction").status_code == 302


@pytest.mark.parametrize("renewed", [True, False])
def test_a_reduction_granted_during_the_downtime_is_paid_from_the_grant(
    journey_factory: Any, renewed: bool
) -> None:
    """A person with something to pay (renewed from a paid 2022, or insured between the
    periods) granted 低保 on 2023-02-15 while the scheduler is down; the first run (04-10) opens
    her 2023 year with the reduction, and the fund pays it as of the grant, not of the period's
    start: benefits from 02-15, as when a running scheduler's lapsed year is paid by the fund
    then (QA: it was dated 2022-09-01, five and a half months of cover before the grant)."""
    j = _journey(
        journey_factory, "2021-12-20T10:00:00+08:00" if renewed else "2022-03-01T10:00:00+08:00"
    )
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    number = PAYER if renewed else BETWEEN
    _import(j, number)
    if renewed:
        j.api("POST", "/payments", "counter", {"id_number": number, "amount": "320.00"})
    j.at("2022-06-01T10:00:00+08:00")
    j.sweep()
    j.at("2023-02-15T10:00:00+08:00")
    _granted_dibao(j, clerk, number)
    j.at("2023-04-10T10:00:00+08:00")
    j.sweep()
    year = j.years(number)["huian-2023"]
    # its state reads deducted (paid in the period) though paid late: the fund's payment as a
    # year opens has one event, to deducted (left: a covered_late_in_full to paid_late)
    assert year["payer_kind"] == "medical_assistance", year
    assert datetime.fromisoformat(year["paid_at"]) == datetime(2023, 2, 15, 2, tzinfo=UTC), year
    assert set(year["benefit_start"].values()) == {"2023-02-15"}, year
