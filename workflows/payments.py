"""Payments of enrollment years, and each person's paid and unpaid years (缴费情况查询).

Sources: foshan-card-one-card-and-2022-medical-insurance.txt (lines 57-66: self-payment after a
failed deduction, paying for oneself, for the family or on behalf of others; queries of paid and
unpaid periods with amounts) and quanzhou-huian-cards-and-2023-medical-insurance.txt (line 31:
registration first for people with no record; lines 47-51: payment channels). A payment is the
``pay`` event within the period and ``pay_late`` after it; the definition's guards check the
period, the payer and the amount due, so the rules are the same through every door.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine import queries
from engine.errors import DuplicateInstance, WorkflowError
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.specs import ProcessDefinition
from engine.statements import instances
from engine.tx import Tx
from workflows.enrollment import amount_due, payer_masked
from workflows.identity import InvalidIdNumber, validate_id_number
from workflows.people import ENROLLMENT, LIVE, NotRegistered
from workflows.policy import BENEFIT_KINDS, LatePaymentRefused, Policy, PolicyError
from workflows.service_date import service_today
from workflows.years import (
    ended_year_refusal,
    enrollment_key,
    insured_unless_ended,
    live_year,
    open_year_in,
    opened_as_of,
    year_variables,
)

if TYPE_CHECKING:
    from workflows.domain import Domain

RENEWAL_CHUNK = 1000
PAID = "paid"
REFUND_GIVEN = "refund_given"
"""The tag of a year whose payment was given back (``enrollment.yaml``)."""


class EnrollmentRefused(WorkflowError):
    """A payment or renewal the rules refuse before any event is fired."""

    code = "enrollment_refused"


@dataclass(frozen=True)
class Payment:
    transition: Transition
    amount: Decimal
    benefit_start: dict[str, date]


@dataclass(frozen=True)
class PaymentRequest:
    """A payment as a channel or the tax authority reports it."""

    amount: str
    payer_kind: str = "self"
    payer_id_number: str | None = None
    channel: str | None = None
    paid_at: datetime | None = None
    """Only the tax authority states when a payment happened; everyone else pays now."""

    def data(self) -> dict[str, Any]:
        values: dict[str, Any] = {"amount": self.amount, "payer_kind": self.payer_kind}
        if self.payer_id_number:
            values["payer_id_number"] = self.payer_id_number
        if self.channel:
            values["channel"] = self.channel
        if self.paid_at is not None:
            values["paid_at"] = self.paid_at.isoformat()
        return values


@dataclass(frozen=True)
class YearSummary:
    """One policy year of one person: paid or not, how much, by whom, when benefits start."""

    enrollment_id: int
    policy: str
    year: int
    state: str
    paid: bool
    amount_due: Decimal | None
    amount_paid: Decimal | None
    paid_at: datetime | None
    payer_kind: str | None = None
    payer_masked: str | None = None
    channel: str | None = None
    payable_now: bool = False
    benefit_start: dict[str, date] = field(default_factory=dict)
    refunded: bool = False
    """Its payment was given back (``paid`` is then false, and nothing is due)."""
    refund_amount: Decimal | None = None
    refunded_at: datetime | None = None


def _pay_in(
    engine: Engine, tx: Tx, domain: Domain, row: Any, request: PaymentRequest, actor: str
) -> Transition:
    # the latest definition's tags: an older version's year in the same state says why too
    spec = engine.definition(row.process).states.get(row.state)
    ended = ended_year_refusal(spec.tags if spec is not None else ())
    if ended is not None:
        raise EnrollmentRefused(ended.zh, ended.en)
    policy = domain.policy_of(row.variables)
    moment = request.paid_at or engine.clock.now()
    event = "pay" if policy.is_within_period(moment) else "pay_late"
    paying = engine.allowing(row, event).events[event]
    where = f"{row.process}.{event}"
    values = engine.clean_data(tx, row, paying.fields, request.data(), where, label=paying.label)
    return engine.fire_in(tx, row, event, actor, values)


def _payment(done: Transition, policy: Policy, request: PaymentRequest, now: datetime) -> Payment:
    moment = request.paid_at or now
    return Payment(
        done,
        Decimal(request.amount).quantize(Decimal("0.01")),
        {kind: policy.benefit_start(moment, kind) for kind in BENEFIT_KINDS},
    )


def pay_enrollment(
    engine: Engine,
    domain: Domain,
    enrollment_id: int,
    request: PaymentRequest,
    *,
    actor: str,
    idempotency: Idempotency | None = None,
) -> Payment:
    """Record a payment of an enrollment year: ``pay`` in its period, ``pay_late`` after it.

    Raises:
        EnrollmentRefused: no such enrollment.
        TransitionRefused, EventNotAllowed, DataInvalid: from the engine and the guards.
    """
    now = engine.clock.now()

    def work(tx: Tx) -> Transition:
        row = engine.load(tx, enrollment_id)
        if row.process != ENROLLMENT:
            raise EnrollmentRefused(
                f"参保记录不存在：{enrollment_id}", f"no enrollment {enrollment_id}"
            )
        return _pay_in(engine, tx, domain, row, request, actor)

    digest = request_hash("pay", enrollment_id, request.data())
    done = _run(engine, work, idempotency, digest)
    return _payment(done, _policy_of_year(engine, domain, done.instance_id), request, now)


def _policy_of_year(engine: Engine, domain: Domain, enrollment_id: int) -> Policy:
    row = queries.instance(engine.db, enrollment_id)
    assert row is not None
    return domain.policy_of(row["variables"])


def pay_for_person(
    engine: Engine,
    domain: Domain,
    id_number: str,
    policy_id: str | None,
    request: PaymentRequest,
    *,
    actor: str,
    idempotency: Idempotency | None = None,
) -> Payment:
    """Pay a person's year, as the tax app does from an ID number (huian.txt:51): the year of
    ``policy_id``, or the region's current year; a registered person's year opens if needed.

    Raises:
        UnknownPolicy: ``policy_id`` names no policy year (before any rule).
        NotRegistered: the person has no insured record (register first, huian.txt:31).
        EnrollmentRefused: the year has ended (``ENDED_YEARS``' words, whether the person is on
            the books or has left the scheme since); as ``pay_enrollment``.
        TransitionRefused, ...: as ``pay_enrollment``.
    """
    now = engine.clock.now()
    try:
        number = validate_id_number(id_number, today=service_today(now))
    except InvalidIdNumber as exc:
        raise EnrollmentRefused(exc.message_zh, exc.message_en) from None
    named = domain.regions.policy_named(policy_id) if policy_id else None
    chosen: dict[str, Policy] = {}

    def work(tx: Tx) -> Transition:
        record = insured_unless_ended(engine, tx, domain, number, policy_id, EnrollmentRefused)
        region = domain.regions.get(str(record.variables["region"]))
        policy = named or region.current(now)
        chosen["policy"] = policy
        year = live_year(engine, tx, number, policy.policy)
        if year is None:
            opened = open_year_in(engine, tx, domain, number, policy.policy, actor)
            year_id = opened.instance_id
        else:
            year_id = year.id
        return _pay_in(engine, tx, domain, engine.load(tx, year_id), request, actor)

    digest = request_hash("pay_for_person", number, policy_id, request.data())
    done = _run(engine, work, idempotency, digest)
    policy = chosen.get("policy") or _policy_of_year(engine, domain, done.instance_id)
    return _payment(done, policy, request, now)


def _run(engine: Engine, work: Any, idempotency: Idempotency | None, digest: str) -> Transition:
    if idempotency is None:
        return engine.transaction(work)  # type: ignore[no-any-return]
    return engine.run_idempotent(idempotency, digest, work)


def open_renewals(
    engine: Engine,
    policy: Policy,
    people: Iterable[Mapping[str, Any]],
    actor: str = "renewal",
    *,
    as_of: datetime | None = None,
) -> int:
    """Renew everyone given into ``policy``'s year without re-registration (默认续保), in chunks.

    ``people`` are the previous year's variables. People who already have a live year are
    skipped. Returns how many years opened. ``as_of``: renewals opened after the period (the
    periodic job catching it up), the moment a run in it would have renewed them
    (``years.OPENED_AS_OF``), for each person not before their record's ``facts_since`` (an
    attribute of a ``renewals.RecordFacts`` given in ``people``).
    """
    definition = engine.definition(ENROLLMENT)
    [renewal] = [s for s in definition.initial if "renewal" in definition.states[s].tags]
    live = definition.tagged(LIVE)
    opened = 0
    batch: list[Mapping[str, Any]] = []

    def work(tx: Tx) -> int:
        count = 0
        for person in batch:
            key = enrollment_key(str(person["id_number"]), policy.policy)
            try:
                engine.check_exclusive(tx, ENROLLMENT, key, live)
            except DuplicateInstance:
                continue
            since = getattr(person, "facts_since", None)
            dated = None if as_of is None else opened_as_of(as_of, since)
            variables = year_variables(person, policy, first_year=False, as_of=dated)
            engine.start_in(tx, definition, renewal, key, variables, actor)
            count += 1
        return count

    for person in people:
        batch.append(person)
        if len(batch) >= RENEWAL_CHUNK:
            opened += engine.transaction(work)
            batch = []
    if batch:
        opened += engine.transaction(work)
    return opened


def year_summary(
    enrollment_id: int,
    state: str,
    variables: Mapping[str, Any],
    policy: Policy,
    definition: ProcessDefinition,
    now: datetime,
) -> YearSummary:
    """What one year (the enrollment ``enrollment_id`` in ``state`` with ``variables``) amounts
    to at ``now``: due, paid, refunded, the benefit start; the API's year list and the staff
    person page show it alike."""
    payment = variables.get("payment") or {}
    spec = definition.states.get(state)
    tags = spec.tags if spec is not None else frozenset()
    paid = PAID in tags
    refunded = REFUND_GIVEN in tags
    refund = variables.get("refund") if refunded else None
    shown = paid or refunded  # a refunded year shows the payment it gave back
    paid_at = (
        datetime.fromisoformat(payment["paid_at"]) if shown and payment.get("paid_at") else None
    )
    due: Decimal | None = None
    try:
        ended = ended_year_refusal(tags) is not None
        due = None if paid or ended else amount_due(policy, variables, now)
    except (LatePaymentRefused, PolicyError):
        due = None  # the year can no longer be paid
    starts: dict[str, date] = {}
    if paid_at is not None:
        try:
            starts = {kind: policy.benefit_start(paid_at, kind) for kind in BENEFIT_KINDS}
        except (LatePaymentRefused, ValueError):
            starts = {}
    return YearSummary(
        enrollment_id=enrollment_id,
        policy=policy.policy,
        year=policy.year,
        state=state,
        paid=paid,
        amount_due=due,
        amount_paid=Decimal(payment["amount"]) if shown and payment.get("amount") else None,
        paid_at=paid_at,
        payer_kind=payment.get("payer_kind") if shown else None,
        payer_masked=payer_masked(payment) if shown else None,
        channel=payment.get("channel") if shown else None,
        payable_now=due is not None,
        benefit_start=starts if paid else {},
        refunded=refunded,
        # a year refunded before the refund was recorded (definition version 1): its payment
        refund_amount=Decimal(str((refund or payment).get("amount") or 0)) if refunded else None,
        refunded_at=(
            datetime.fromisoformat(refund["approved_at"])
            if refund and refund.get("approved_at")
            else None
        ),
    )


def enrollment_years(engine: Engine, domain: Domain, id_number: str) -> Sequence[YearSummary]:
    """Every policy year of a person with what was paid or is still due (缴费情况查询)."""
    person = validate_id_number(id_number, today=service_today(engine.clock.now()))
    query = (
        select(instances.c.id, instances.c.state, instances.c.variables)
        .where(instances.c.process == ENROLLMENT, instances.c.business_key.like(f"{person}:%"))
        .order_by(instances.c.id)
    )
    with engine.db.connect() as conn:
        rows = conn.execute(query).all()
    now = engine.clock.now()
    definition = engine.definition(ENROLLMENT)
    years = []
    for row in rows:
        policy = domain.regions.policy(str(row.variables.get("policy")))
        if policy is not None:
            years.append(year_summary(row.id, row.state, row.variables, policy, definition, now))
    return years


__all__ = [
    "EnrollmentRefused",
    "NotRegistered",
    "Payment",
    "PaymentRequest",
    "YearSummary",
    "enrollment_years",
    "open_renewals",
    "pay_enrollment",
    "pay_for_person",
]
