"""Enrollment operations: register, renew, pay (in the period or late), and each person's years.

Sources: quanzhou-huian-cards-and-2023-medical-insurance.txt (automatic renewal for people in good
standing, registration first for people with no record, reductions) and
foshan-card-one-card-and-2022-medical-insurance.txt (payment by self, family or on behalf of others;
queries of paid and unpaid periods with amounts). Amounts and dates come from the policy files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import queries
from engine.errors import DuplicateInstance, WorkflowError
from engine.runtime import Engine, Idempotency, Transition
from engine.sqlexec import Tx
from engine.statements import instances
from workflows.enrollment import PAYER_KINDS
from workflows.identity import InvalidIdNumber, age_on, validate_id_number
from workflows.policy import BENEFIT_KINDS, LatePaymentRefused, Policy

# One enrollment per person and policy year, unless an earlier one was rejected or refunded.
LIVE_STATES = (
    "registration_review",
    "registered",
    "renewal_pending",
    "deducted",
    "deduction_failed",
    "paid_late",
    "lapsed",
    "refund_review",
)
PAID_STATES = ("deducted", "paid_late", "refund_review")
RENEWAL_CHUNK = 1000


class EnrollmentRefused(WorkflowError):
    """A registration, renewal or payment the rules refuse."""

    code = "enrollment_refused"


@dataclass(frozen=True)
class Person:
    """What enrollment needs to know of an insured person."""

    id_number: str
    region: str
    categories: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Payment:
    transition: Transition
    amount: Decimal
    benefit_start: dict[str, date]


@dataclass(frozen=True)
class YearSummary:
    """One policy year of one person: paid or not, how much, and when benefits start."""

    enrollment_id: int
    policy: str
    year: int
    state: str
    paid: bool
    amount_due: Decimal | None
    amount_paid: Decimal | None
    paid_at: datetime | None
    benefit_start: dict[str, date] = field(default_factory=dict)


def enrollment_key(id_number: str, policy: str) -> str:
    return f"{id_number}:{policy}"


def _variables(person: Person, policy: Policy) -> dict[str, Any]:
    return {
        "id_number": person.id_number,
        "policy": policy.policy,
        "region": person.region,
        "reduction_categories": list(person.categories),
        "flags": list(person.flags),
    }


def _checked(person: Person) -> Person:
    try:
        number = validate_id_number(person.id_number)
    except InvalidIdNumber as exc:
        raise EnrollmentRefused(exc.message_zh, exc.message_en) from None
    return Person(number, person.region, tuple(person.categories), tuple(person.flags))


def _refused_duplicate(found: DuplicateInstance, policy: Policy) -> EnrollmentRefused:
    return EnrollmentRefused(
        f"该居民 {policy.policy} 年度已有参保记录（{found.instance_id}，{found.state}）",
        f"this person already has a {policy.policy} enrollment ({found.instance_id}, {found.state})",
    )


def register_for_enrollment(
    engine: Engine, policy: Policy, person: Person, actor: str
) -> Transition:
    """A person with no record registers first; a clerk verifies the household register."""
    person = _checked(person)
    try:
        return engine.start(
            "enrollment",
            business_key=enrollment_key(person.id_number, policy.policy),
            variables=_variables(person, policy),
            actor=actor,
            state="registration_review",
            exclusive_in=LIVE_STATES,
        )
    except DuplicateInstance as found:
        raise _refused_duplicate(found, policy) from None


def open_renewals(
    engine: Engine, policy: Policy, people: Iterable[Person], actor: str = "renewal"
) -> int:
    """Renew everyone given for ``policy`` without re-registration (默认续保), in chunks.

    People who already have a live enrollment of that year are skipped. Returns how many opened.
    """
    definition = engine.definition("enrollment")
    opened = 0
    batch: list[Person] = []

    def work(tx: Tx) -> int:
        count = 0
        for person in batch:
            key = enrollment_key(person.id_number, policy.policy)
            try:
                engine.check_exclusive(tx, "enrollment", key, LIVE_STATES)
            except DuplicateInstance:
                continue
            engine.start_in(
                tx, definition, "renewal_pending", key, _variables(person, policy), actor
            )
            count += 1
        return count

    for person in people:
        batch.append(_checked(person))
        if len(batch) >= RENEWAL_CHUNK:
            opened += engine.transaction(work)
            batch = []
    if batch:
        opened += engine.transaction(work)
    return opened


def amount_due(policy: Policy, variables: Mapping[str, Any], paid_at: datetime) -> Decimal | None:
    """The individual contribution for this person at ``paid_at`` (reductions, late rules).

    ``None`` when the policy file does not know the amount (Foshan 2022: the document's table is
    missing); the collecting tax authority's amount is then taken as it comes.
    """
    if policy.contribution.individual is None:
        return None
    age = age_on(str(variables["id_number"]), paid_at.astimezone(ZoneInfo(policy.timezone)).date())
    return policy.amount_due(
        variables.get("reduction_categories", ()), age, variables.get("flags", ()), paid_at=paid_at
    )


def pay_enrollment(
    engine: Engine,
    policy: Policy,
    enrollment_id: int,
    *,
    amount: str | Decimal,
    payer_kind: str = "self",
    payer: str | None = None,
    channel: str = "online",
    actor: str,
    paid_at: datetime | None = None,
    idempotency: Idempotency | None = None,
) -> Payment:
    """Record a payment: within the period it is ``pay``; after it, ``pay_late`` where accepted.

    Raises:
        EnrollmentRefused: wrong amount, unknown payer kind, or late payment not accepted.
        TransitionRefused, EventNotAllowed: from the engine.
    """
    moment = paid_at or engine.clock.now()
    row = queries.instance(engine.db, enrollment_id)
    if row is None or row["process"] != "enrollment":
        raise EnrollmentRefused(
            f"参保记录不存在：{enrollment_id}", f"no enrollment {enrollment_id}"
        )
    if row["variables"].get("policy") != policy.policy:
        raise EnrollmentRefused(
            f"参保记录不属于 {policy.policy}",
            f"enrollment {enrollment_id} is not of {policy.policy}",
        )
    if payer_kind not in PAYER_KINDS:
        raise EnrollmentRefused(
            f"未知的缴费类型：{payer_kind}", f"unknown payer kind: {payer_kind}"
        )
    try:
        paid = Decimal(str(amount))
        due = amount_due(policy, row["variables"], moment)
    except InvalidOperation:
        raise EnrollmentRefused(f"金额无效：{amount}", f"not an amount: {amount}") from None
    except LatePaymentRefused as exc:
        raise EnrollmentRefused(exc.message_zh, exc.message_en) from None
    within = policy.is_within_period(moment)
    if moment < policy.date_value("payment_period.start"):
        raise EnrollmentRefused(
            f"{policy.policy} 集中缴费期尚未开始", f"{policy.policy}'s payment period has not begun"
        )
    if not within and not policy.late_payment_accepted(moment):
        raise EnrollmentRefused(
            f"{policy.policy} 集中缴费期已结束，不接受 {moment.date()} 的补缴（视为放弃参保）",
            f"{policy.policy}'s payment period is over and late payment on {moment.date()} "
            "is not accepted (the year's benefits were given up)",
        )
    if due is not None and paid != due:
        raise EnrollmentRefused(
            f"应缴金额为 {due} 元，收到 {paid} 元", f"the amount due is {due} yuan, got {paid}"
        )
    event = "pay" if within else "pay_late"
    done = engine.fire(
        enrollment_id,
        event,
        actor=actor,
        data={
            "amount": str(paid),
            "payer_kind": payer_kind,
            "payer": payer,
            "channel": channel,
            "paid_at": moment.isoformat(),
        },
        idempotency=idempotency,
    )
    starts = {kind: policy.benefit_start(moment, kind) for kind in BENEFIT_KINDS}
    return Payment(done, paid, starts)


def enrollment_years(
    engine: Engine, policies: Mapping[str, Policy], id_number: str
) -> Sequence[YearSummary]:
    """Every policy year of a person with what was paid or is still due (缴费情况查询)."""
    person = validate_id_number(id_number)
    query = (
        select(instances.c.id, instances.c.state, instances.c.variables)
        .where(instances.c.process == "enrollment", instances.c.business_key.like(f"{person}:%"))
        .order_by(instances.c.id)
    )
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
    now = engine.clock.now()
    years = []
    for row in rows:
        policy = policies.get(row.variables.get("policy"))
        if policy is None:
            continue
        payment = row.variables.get("payment") or {}
        paid_at = datetime.fromisoformat(payment["paid_at"]) if payment.get("paid_at") else None
        paid = row.state in PAID_STATES
        try:
            due = None if paid else amount_due(policy, row.variables, now)
        except LatePaymentRefused:
            due = None  # the year can no longer be paid
        years.append(
            YearSummary(
                enrollment_id=row.id,
                policy=policy.policy,
                year=policy.year,
                state=row.state,
                paid=paid,
                amount_due=due,
                amount_paid=Decimal(payment["amount"]) if paid and payment.get("amount") else None,
                paid_at=paid_at,
                benefit_start=(
                    {kind: policy.benefit_start(paid_at, kind) for kind in BENEFIT_KINDS}
                    if paid and paid_at
                    else {}
                ),
            )
        )
    return years
