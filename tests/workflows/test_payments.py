"""Enrollment years: payment in and after the period, amounts, payers, refunds, summaries.

Numbers cite the source documents under ../shared/domain/: "huian.txt" is
quanzhou-huian-cards-and-2023-medical-insurance.txt, "foshan.txt" is
foshan-card-one-card-and-2022-medical-insurance.txt. Fees not in the documents are the policy
files' (assumed there).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from engine import queries
from engine.clock import SimulatedClock
from engine.errors import DataInvalid, TransitionRefused
from engine.runtime import Engine
from engine.timers import TimerSweep
from workflows.domain import Domain
from workflows.identity import make_id_number
from workflows.payments import PaymentRequest, enrollment_years, open_renewals, pay_enrollment
from workflows.policy import Policy

CST = ZoneInfo("Asia/Shanghai")
HUIAN, FOSHAN = "350521", "440604"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


def renewal(
    engine: Engine,
    policy: Policy,
    id_number: str,
    categories: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
) -> int:
    person = {
        "id_number": id_number,
        "region": policy.region.key,
        "reduction_categories": categories,
        "flags": flags,
    }
    assert open_renewals(engine, policy, [person]) == 1
    [(instance_id, _)] = queries.by_business_key(
        engine.db, "enrollment", f"{id_number}:{policy.policy}"
    )
    return instance_id


def state_of(engine: Engine, instance_id: int) -> str:
    return queries.instance(engine.db, instance_id)["state"]


def pay(engine: Engine, domain: Domain, enrollment: int, amount: str, **kw: str) -> object:
    return pay_enrollment(
        engine, domain, enrollment, PaymentRequest(amount=amount, **kw), actor="app"
    )


@pytest.mark.parametrize(
    ("born", "categories", "flags", "amount"),
    [
        pytest.param(date(1980, 1, 1), (), (), "360", id="no category huian.txt:17"),
        pytest.param(date(1980, 1, 1), ("dibao",), (), "0", id="dibao huian.txt:55"),
        pytest.param(date(1957, 6, 1), ("low_income",), (), "108", id="65 low-income huian.txt:59"),
        pytest.param(date(1992, 6, 1), ("low_income",), (), "360", id="30 low-income huian.txt:59"),
        pytest.param(
            date(1992, 6, 1),
            ("low_income",),
            ("disabled",),
            "108",
            id="disabled low-income huian.txt:59",
        ),
    ],
)
def test_huian_amount_due_per_reduction_category(
    engine: Engine,
    domain: Domain,
    policies: dict[str, Policy],
    born: date,
    categories: tuple[str, ...],
    flags: tuple[str, ...],
    amount: str,
) -> None:
    enrollment = renewal(
        engine, policies["huian-2023"], make_id_number(HUIAN, born, 11), categories, flags
    )
    if Decimal(amount) == 0:  # the assistance fund pays it all: paid as the year opens
        assert state_of(engine, enrollment) == "deducted"
        payment = queries.instance(engine.db, enrollment)["variables"]["payment"]  # type: ignore[index]
        assert (payment["amount"], payment["payer_kind"]) == ("0.00", "medical_assistance")
        return
    with pytest.raises(TransitionRefused) as wrong:
        pay(engine, domain, enrollment, "1")
    assert f"{Decimal(amount):.2f}" in wrong.value.message_zh
    assert state_of(engine, enrollment) == "renewal_pending"  # nothing changed
    paid = pay(engine, domain, enrollment, amount)
    assert paid.amount == Decimal(amount)  # type: ignore[attr-defined]
    assert state_of(engine, enrollment) == "deducted"


@pytest.mark.parametrize(
    ("paid_on", "outpatient", "inpatient"),
    [
        pytest.param(
            "2022-01-10", date(2022, 2, 1), date(2022, 1, 1), id="foshan.txt:49-50 Jan 10"
        ),
        pytest.param(
            "2022-02-15", date(2022, 3, 1), date(2022, 1, 1), id="foshan.txt:49-50 Feb 15"
        ),
        pytest.param(
            "2022-02-28", date(2022, 3, 1), date(2022, 1, 1), id="foshan.txt:46-50 Feb 28"
        ),
    ],
)
def test_foshan_benefit_start_dates_and_the_family_payer(
    engine: Engine,
    domain: Domain,
    policies: dict[str, Policy],
    clock: SimulatedClock,
    paid_on: str,
    outpatient: date,
    inpatient: date,
) -> None:
    clock.set(at("2021-10-10"))
    insured = make_id_number(FOSHAN, date(1970, 3, 3), 5)
    spouse = make_id_number(FOSHAN, date(1972, 4, 4), 7)
    enrollment = renewal(engine, policies["foshan-2022"], insured)
    engine.fire(enrollment, "fail_deduction", actor="tax")  # foshan.txt:58 pay after a failure
    clock.set(at(paid_on))
    with pytest.raises(DataInvalid) as nameless:  # a family payment names the payer: its data
        pay(engine, domain, enrollment, "320", payer_kind="family")
    assert nameless.value.missing == ["payer_id_number"]
    paid = pay(engine, domain, enrollment, "320", payer_kind="family", payer_id_number=spouse)
    assert paid.benefit_start["general_outpatient"] == outpatient  # type: ignore[attr-defined]
    assert paid.benefit_start["inpatient"] == inpatient  # type: ignore[attr-defined]
    assert paid.benefit_start["special_outpatient"] == inpatient  # type: ignore[attr-defined]
    payment = queries.instance(engine.db, enrollment)["variables"]["payment"]
    assert (payment["payer_kind"], payment["payer_id_number"]) == ("family", spouse)  # :63
    assert payment["paid_at"] == at(paid_on).isoformat()  # the service's clock
    [summary] = enrollment_years(engine, domain, insured)
    assert summary.payer_masked == spouse[:6] + "********" + spouse[-4:]


def test_the_time_of_a_payment_is_the_service_clock_unless_the_tax_authority_says(
    engine: Engine, domain: Domain, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    clock.set(at("2022-03-05"))
    enrollment = renewal(
        engine, policies["foshan-2022"], make_id_number(FOSHAN, date(1970, 1, 1), 9)
    )
    # a payment now, after the period, is refused (foshan.txt:67) ...
    with pytest.raises(TransitionRefused):
        pay(engine, domain, enrollment, "320")
    # ... the tax authority's report of a payment at its hall within the period is taken
    paid = pay_enrollment(
        engine,
        domain,
        enrollment,
        PaymentRequest(amount="320", paid_at=at("2022-02-27"), channel="tax_hall"),
        actor="api:tax",
    )
    assert paid.transition.to_state == "deducted"
    # but never a time later than the service's clock
    other = renewal(engine, policies["foshan-2022"], make_id_number(FOSHAN, date(1970, 1, 2), 11))
    with pytest.raises(TransitionRefused):
        pay_enrollment(
            engine, domain, other, PaymentRequest(amount="320", paid_at=at("2022-03-06")), actor="t"
        )


def test_event_data_is_checked_by_the_definition(
    engine: Engine, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    clock.set(at("2021-10-10"))
    enrollment = renewal(
        engine, policies["foshan-2022"], make_id_number(FOSHAN, date(1970, 1, 3), 13)
    )
    refused = (
        {"amount": "abc"},
        {"amount": "320", "bonus": 1},
        {},
        {"amount": True},
        {"amount": 320},  # an amount is text, as /payments takes it
        {"amount": "３２０.００"},  # full-width digits
        {"amount": "3.2E2"},
        {"amount": "320", "paid_at": "1643680800"},  # a time is RFC 3339, not epoch seconds
        {"amount": "320", "paid_at": "2022-W05-2T10:00+08:00"},
        {"amount": "320", "paid_at": "0001-02-01T10:00:00+08:00"},
    )
    for data in refused:
        with pytest.raises(DataInvalid):
            engine.fire(enrollment, "deduct", actor="tax", data=data)
    assert state_of(engine, enrollment) == "renewal_pending"
    engine.fire(enrollment, "deduct", actor="tax", data={"amount": " 320 "})
    payment = queries.instance(engine.db, enrollment)["variables"]["payment"]
    assert (payment["amount"], payment["payer_kind"], payment["channel"]) == (
        "320.00",
        "self",
        "tax_batch",
    )


def test_foshan_refuses_payment_after_the_deadline(
    engine: Engine, domain: Domain, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    # foshan.txt:67 逾期未缴费的，将视为自动放弃参保权利
    clock.set(at("2021-10-10"))
    enrollment = renewal(
        engine, policies["foshan-2022"], make_id_number(FOSHAN, date(1970, 3, 3), 7)
    )
    [timer] = queries.timers_of(engine.db, enrollment, "pending")
    # the lapse is due when 2022-02-28 is over in Foshan (foshan.txt:46)
    assert (timer["event"], timer["due_at"]) == ("lapse", datetime(2022, 3, 1, tzinfo=CST))
    clock.set(at("2022-03-01"))
    with pytest.raises(TransitionRefused) as refused:
        pay(engine, domain, enrollment, "320")
    assert "does not accept a late payment" in refused.value.message_en
    assert state_of(engine, enrollment) == "renewal_pending"


@pytest.mark.parametrize("lapsed_first", [False, True])
def test_huian_payment_in_january_is_paid_late_with_the_delayed_start(
    engine: Engine,
    domain: Domain,
    policies: dict[str, Policy],
    clock: SimulatedClock,
    lapsed_first: bool,
) -> None:
    # huian.txt:25 2023年1月1日后缴费的，医保待遇享受开始时间有新影响 (practice: from payment date)
    policy = policies["huian-2023"]
    enrollment = renewal(engine, policy, make_id_number(HUIAN, date(1980, 1, 1), 9))
    if lapsed_first:
        engine.fire(enrollment, "lapse", actor="scheduler")
    clock.set(at("2023-01-15"))
    paid = pay(engine, domain, enrollment, "360")
    assert paid.transition.to_state == "paid_late"  # type: ignore[attr-defined]
    assert paid.benefit_start["inpatient"] == date(2023, 1, 15)  # type: ignore[attr-defined]


def test_years_summary_shows_paid_and_unpaid_with_amounts(
    engine: Engine, domain: Domain, policies: dict[str, Policy]
) -> None:
    # foshan.txt:65 可查询全部、已缴清、未缴清的所属期限和金额
    person = make_id_number(HUIAN, date(1980, 1, 1), 15)
    enrollment = renewal(engine, policies["huian-2023"], person)
    [unpaid] = enrollment_years(engine, domain, person)
    assert (unpaid.paid, unpaid.amount_due, unpaid.state) == (
        False,
        Decimal("360.00"),
        "renewal_pending",
    )
    pay(engine, domain, enrollment, "360")
    [paid] = enrollment_years(engine, domain, person)
    assert (paid.paid, paid.amount_paid, paid.year, paid.payer_kind) == (
        True,
        Decimal("360"),
        2023,
        "self",
    )
    assert paid.benefit_start["inpatient"] == date(2023, 1, 1)


@pytest.mark.parametrize(
    ("when", "employee", "used", "refused"),
    [
        pytest.param("2022-02-20", True, False, None, id="accepted foshan.txt:51-52"),
        pytest.param("2022-02-20", True, True, "benefits", id="benefits used foshan.txt:52"),
        pytest.param("2022-02-20", False, False, "employee", id="not employee-insured"),
        pytest.param("2022-03-01", True, False, "2022-02-28", id="window over foshan.txt:52"),
    ],
)
def test_duplicate_payment_refunds_are_decided_by_the_policy(
    engine: Engine,
    policies: dict[str, Policy],
    clock: SimulatedClock,
    when: str,
    employee: bool,
    used: bool,
    refused: str | None,
) -> None:
    # foshan.txt:52 重复缴纳的居民医保费，未享受待遇的，各区社保局按规定核定退还
    clock.set(at("2021-10-10"))
    enrollment = renewal(
        engine, policies["foshan-2022"], make_id_number(FOSHAN, date(1975, 5, 5), 1)
    )
    engine.fire(enrollment, "deduct", actor="tax", data={"amount": "320"})
    clock.set(at(when))
    facts = {"employee_insurance_elsewhere": employee, "benefits_used": used}
    if refused:
        with pytest.raises(TransitionRefused) as caught:
            engine.fire(enrollment, "request_refund", actor="app", data=facts)
        assert refused in caught.value.message_en
        assert state_of(engine, enrollment) == "deducted"
        return
    engine.fire(enrollment, "request_refund", actor="app", data=facts)
    [task] = queries.tasks_of(engine.db, enrollment, "open")
    assert task["name"] == "review_refund"
    request = queries.instance(engine.db, enrollment)["variables"]["refund_request"]
    assert (request["employee_insurance_elsewhere"], request["benefits_used"]) == (True, False)
    engine.complete_task(task["id"], actor="clerk", outcome="approve_refund")
    assert state_of(engine, enrollment) == "refunded"


def test_huian_has_no_refunds(engine: Engine, domain: Domain, policies: dict[str, Policy]) -> None:
    enrollment = renewal(engine, policies["huian-2023"], make_id_number(HUIAN, date(1975, 5, 5), 3))
    pay(engine, domain, enrollment, "360")
    with pytest.raises(TransitionRefused):
        engine.fire(
            enrollment,
            "request_refund",
            data={"employee_insurance_elsewhere": True, "benefits_used": False},
        )


def test_a_foshan_enrollment_unpaid_on_march_1_is_lapsed(
    engine: Engine, domain: Domain, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    # foshan.txt:46 征收时间延长至2022年2月底; :67 逾期未缴费的，视为自动放弃参保权利
    policy = policies["foshan-2022"]
    clock.set(at("2022-02-20"))
    unpaid = renewal(engine, policy, make_id_number(FOSHAN, date(1971, 1, 1), 3))
    paid = renewal(engine, policy, make_id_number(FOSHAN, date(1972, 1, 1), 5))
    pay(engine, domain, paid, "320")
    TimerSweep(engine).sweep(at("2022-02-28", 23))
    assert state_of(engine, unpaid) == "renewal_pending"  # not a minute early
    TimerSweep(engine).sweep(datetime(2022, 3, 1, 0, 1, tzinfo=CST))
    assert (state_of(engine, unpaid), state_of(engine, paid)) == ("lapsed", "deducted")
    [lapse] = [h for h in queries.history(engine.db, unpaid) if h["event"] == "lapse"]
    assert lapse["due_at"] == datetime(2022, 3, 1, tzinfo=CST)
