"""Enrollment years: registration, renewal, payment in and after the period, amounts, refunds.

Numbers cite the source documents under ../shared/domain/: "huian.txt" is
quanzhou-huian-cards-and-2023-medical-insurance.txt, "foshan.txt" is
foshan-card-one-card-and-2022-medical-insurance.txt.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from engine import queries
from engine.clock import SimulatedClock
from engine.errors import TaskFormInvalid
from engine.runtime import Engine
from workflows.identity import make_id_number
from workflows.payments import (
    EnrollmentRefused,
    Person,
    enrollment_years,
    open_renewals,
    pay_enrollment,
    register_for_enrollment,
)
from workflows.policy import Policy

CST = ZoneInfo("Asia/Shanghai")
HUIAN, FOSHAN = "350521", "440604"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


def renewal(engine: Engine, policy: Policy, person: Person) -> int:
    assert open_renewals(engine, policy, [person]) == 1
    [(instance_id, _)] = queries.by_business_key(
        engine.db, "enrollment", f"{person.id_number}:{policy.policy}"
    )
    return instance_id


def state_of(engine: Engine, instance_id: int) -> str:
    return queries.instance(engine.db, instance_id)["state"]


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
    policies: dict[str, Policy],
    clock: SimulatedClock,
    born: date,
    categories: tuple[str, ...],
    flags: tuple[str, ...],
    amount: str,
) -> None:
    policy = policies["huian-2023"]
    person = Person(make_id_number(HUIAN, born, 11), "huian", categories, flags)
    enrollment = renewal(engine, policy, person)
    with pytest.raises(EnrollmentRefused) as wrong:
        pay_enrollment(
            engine, policy, enrollment, amount="1", actor="app", paid_at=at("2022-10-10")
        )
    assert f"{Decimal(amount):.2f}" in wrong.value.message_zh
    paid = pay_enrollment(
        engine, policy, enrollment, amount=amount, actor="app", paid_at=at("2022-10-10")
    )
    assert paid.amount == Decimal(amount)
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
def test_foshan_benefit_start_dates(
    engine: Engine, policies: dict[str, Policy], paid_on: str, outpatient: date, inpatient: date
) -> None:
    policy = policies["foshan-2022"]
    person = Person(make_id_number(FOSHAN, date(1970, 3, 3), 5), "foshan")
    enrollment = renewal(engine, policy, person)
    engine.fire(enrollment, "fail_deduction", actor="tax")  # foshan.txt:58 pay after a failure
    paid = pay_enrollment(
        engine,
        policy,
        enrollment,
        amount=str(amount_for(policy)),
        payer_kind="family",
        payer="spouse",
        actor="yss",
        paid_at=at(paid_on),
    )
    assert paid.benefit_start["general_outpatient"] == outpatient
    assert paid.benefit_start["inpatient"] == inpatient
    assert paid.benefit_start["special_outpatient"] == inpatient
    payment = queries.instance(engine.db, enrollment)["variables"]["payment"]
    assert (payment["payer_kind"], payment["payer"]) == ("family", "spouse")  # foshan.txt:63


def amount_for(policy: Policy) -> Decimal:
    return (
        policy.contribution.individual if policy.contribution.individual is not None else Decimal(0)
    )


def test_foshan_refuses_payment_after_the_deadline(
    engine: Engine, policies: dict[str, Policy]
) -> None:
    # foshan.txt:67 逾期未缴费的，将视为自动放弃参保权利
    policy = policies["foshan-2022"]
    enrollment = renewal(
        engine, policy, Person(make_id_number(FOSHAN, date(1970, 3, 3), 7), "foshan")
    )
    with pytest.raises(EnrollmentRefused):
        pay_enrollment(
            engine, policy, enrollment, amount="0", actor="app", paid_at=at("2022-03-01")
        )
    assert state_of(engine, enrollment) == "renewal_pending"
    [timer] = queries.timers_of(engine.db, enrollment, "pending")
    # the lapse is due when 2022-02-28 is over in Foshan (foshan.txt:46)
    assert (timer["event"], timer["due_at"]) == ("lapse", datetime(2022, 3, 1, tzinfo=CST))


@pytest.mark.parametrize("lapsed_first", [False, True])
def test_huian_payment_in_january_is_paid_late_with_the_delayed_start(
    engine: Engine, policies: dict[str, Policy], lapsed_first: bool
) -> None:
    # huian.txt:25 2023年1月1日后缴费的，医保待遇享受开始时间有新影响 (practice: from payment date)
    policy = policies["huian-2023"]
    enrollment = renewal(
        engine, policy, Person(make_id_number(HUIAN, date(1980, 1, 1), 9), "huian")
    )
    if lapsed_first:
        engine.fire(enrollment, "lapse", actor="scheduler")
    paid = pay_enrollment(
        engine, policy, enrollment, amount="360", actor="app", paid_at=at("2023-01-15")
    )
    assert paid.transition.to_state == "paid_late"
    assert paid.benefit_start["inpatient"] == policy.benefit_start(at("2023-01-15"), "inpatient")
    assert paid.benefit_start["inpatient"] == date(2023, 1, 15)


def test_registration_needs_a_clerk_and_blocks_a_second_record(
    engine: Engine, policies: dict[str, Policy]
) -> None:
    # huian.txt:31 如无医保档案，请先参保登记完再进行缴费
    policy = policies["huian-2023"]
    person = Person(make_id_number(HUIAN, date(2001, 8, 8), 3), "huian")
    started = register_for_enrollment(engine, policy, person, actor="counter")
    [task] = queries.tasks_of(engine.db, started.instance_id, "open")
    assert (task["name"], task["candidate_group"], task["scope"]) == (
        "verify_residence",
        "medical_insurance_clerk",
        "huian",
    )
    with pytest.raises(EnrollmentRefused):
        register_for_enrollment(engine, policy, person, actor="counter")
    assert open_renewals(engine, policy, [person]) == 0  # already has a record this year
    with pytest.raises(TaskFormInvalid) as wrong:  # a passport is not one of the documents
        engine.complete_task(
            task["id"],
            actor="clerk",
            data={"document_kind": "passport"},
            outcome="approve_registration",
        )
    assert "document_kind" in wrong.value.message_en
    engine.complete_task(
        task["id"],
        actor="clerk",
        data={"document_kind": "household_register"},
        outcome="approve_registration",
    )
    assert state_of(engine, started.instance_id) == "registered"


def test_years_summary_shows_paid_and_unpaid_with_amounts(
    engine: Engine, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    # foshan.txt:65 可查询全部、已缴清、未缴清的所属期限和金额
    person = Person(make_id_number(HUIAN, date(1980, 1, 1), 15), "huian")
    huian = policies["huian-2023"]
    enrollment = renewal(engine, huian, person)
    clock.set(datetime(2022, 10, 1, tzinfo=UTC))
    [unpaid] = enrollment_years(engine, policies, person.id_number)
    assert (unpaid.paid, unpaid.amount_due, unpaid.state) == (
        False,
        Decimal("360.00"),
        "renewal_pending",
    )
    pay_enrollment(engine, huian, enrollment, amount="360", actor="app", paid_at=at("2022-10-02"))
    [paid] = enrollment_years(engine, policies, person.id_number)
    assert (paid.paid, paid.amount_paid, paid.year) == (True, Decimal("360"), 2023)
    assert paid.benefit_start["inpatient"] == date(2023, 1, 1)


def test_duplicate_payment_refund_goes_to_a_clerk(
    engine: Engine, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    # foshan.txt:52 重复缴纳的居民医保费，未享受待遇的，各区社保局按规定核定退还
    policy = policies["foshan-2022"]
    enrollment = renewal(
        engine, policy, Person(make_id_number(FOSHAN, date(1975, 5, 5), 1), "foshan")
    )
    engine.fire(enrollment, "deduct", actor="tax", data={"amount": "0"})
    clock.set(at("2022-02-20"))
    engine.fire(enrollment, "request_refund", actor="app")
    [task] = queries.tasks_of(engine.db, enrollment, "open")
    assert task["name"] == "review_refund"
    engine.complete_task(task["id"], actor="clerk", outcome="approve_refund")
    assert state_of(engine, enrollment) == "refunded"


def test_a_foshan_enrollment_unpaid_on_march_1_is_lapsed(
    engine: Engine, policies: dict[str, Policy], clock: SimulatedClock
) -> None:
    # foshan.txt:46 征收时间延长至2022年2月底; :67 逾期未缴费的，视为自动放弃参保权利
    from engine.timers import TimerSweep

    policy = policies["foshan-2022"]
    unpaid = renewal(engine, policy, Person(make_id_number(FOSHAN, date(1971, 1, 1), 3), "foshan"))
    paid = renewal(engine, policy, Person(make_id_number(FOSHAN, date(1972, 1, 1), 5), "foshan"))
    pay_enrollment(engine, policy, paid, amount="380", actor="app", paid_at=at("2022-02-20"))
    TimerSweep(engine).sweep(at("2022-02-28", 23))
    assert state_of(engine, unpaid) == "renewal_pending"  # not a minute early
    TimerSweep(engine).sweep(datetime(2022, 3, 1, 0, 1, tzinfo=CST))
    assert (state_of(engine, unpaid), state_of(engine, paid)) == ("lapsed", "deducted")
    [lapse] = [h for h in queries.history(engine.db, unpaid) if h["event"] == "lapse"]
    assert lapse["due_at"] == datetime(2022, 3, 1, tzinfo=CST)
