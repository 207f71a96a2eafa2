"""A person's enrollment years: opening one (on approval, on request, on insurance by import, on
renewal of a late payer), the variables it starts with, and why an ended year takes no payment.

Each policy year is an ``enrollment`` instance (key ``<id number>:<policy>``) opened for a person
whose record (``workflows.people``) is insured. ``YEAR_BOUND_FLAGS`` count in a person's first year
only. Approving a registration opens the year whose payment period is open at that moment, in the
same transaction (``open_current_year``); a year reaching good standing while the next period is
open already renews at once (``renew_if_next_year_open``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.errors import DuplicateInstance, WorkflowError
from engine.interventions import label_of
from engine.registry import Registry
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.transition_context import InstanceView, TransitionContext
from engine.tx import Tx
from workflows.identity import InvalidIdNumber, validate_id_number
from workflows.people import (
    ENROLLMENT,
    LIVE,
    ON_BOOKS,
    PERSON,
    RENEWAL,
    NotRegistered,
    RegistrationRefused,
    insured_record,
    record_of,
)
from workflows.policy import Label, Policy
from workflows.regions import RegionInfo
from workflows.rule_facts import (
    DUPLICATE_RECORD,
    OTHER_REGION,
    YEAR_ENDED,
    YEAR_NOT_PAYABLE,
    RuleRefusal,
)
from workflows.service_date import service_today

if TYPE_CHECKING:
    from workflows.domain import Domain

YEAR_BOUND_FLAGS = frozenset({"newborn", "new_student", "left_employee_insurance"})
"""Flags that describe how a person came into the scheme, not a lasting fact: they count in the
person's first year only (``year_variables``), never in a renewed or later year. NOTES.md (Quanzhou
2023): late payers spared the subsidy are newborns, new students and people leaving employee
insurance, each for the year they enrol in (NOTES.md: newborns enrolled soon after birth); the
national rule likewise exempts newborns from the waiting period of their first enrolment.
``disabled`` is lasting."""


def enrollment_key(id_number: str, policy: str) -> str:
    return f"{id_number}:{policy}"


OPENED_AS_OF = "opened_as_of"
"""A year's variable: the moment a year opened late by the periodic job (a scheduler down for its
payment period, ``workflows.renewals``) would have opened had the job run in the period. The fund
that pays a year in full pays it then (``EnrollmentRules.assistance_moment``): a downtime never
costs a person with nothing to pay a late payment's waiting days. Never earlier than the moment
the person's record took the facts the year is opened with (``facts_since``: its import or
approval, or a reduction granted since): a reduction granted during the downtime is not paid as
of a time the person did not hold it."""


def opened_as_of(start: datetime, facts_since: datetime | None) -> datetime:
    """``OPENED_AS_OF`` for a year of a period that began at ``start``, opened late with facts
    its person's record holds since ``facts_since`` (None: unknown, the start)."""
    return start if facts_since is None else max(start, facts_since)


def year_variables(
    record: InstanceView | Mapping[str, Any],
    policy: Policy,
    *,
    first_year: bool,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """An enrollment year's variables, from the person's record; the ``YEAR_BOUND_FLAGS`` only
    in the person's ``first_year`` (see ``is_first_year``; a renewal never is); ``as_of``: the
    moment a year opened late would have opened (``OPENED_AS_OF``)."""
    facts = record.variables if isinstance(record, InstanceView) else record
    flags = [str(f) for f in facts.get("flags", ())]
    variables = {
        "id_number": facts["id_number"],
        "policy": policy.policy,
        "region": facts.get("region"),
        "reduction_categories": list(facts.get("reduction_categories", ())),
        "flags": flags if first_year else [f for f in flags if f not in YEAR_BOUND_FLAGS],
    }
    if as_of is not None:
        variables[OPENED_AS_OF] = as_of.isoformat()
    return variables


def is_first_year(
    find: Callable[[str, str], Sequence[InstanceView]],
    domain: Domain,
    id_number: str,
    policy: Policy,
) -> bool:
    """Whether ``policy``'s year would be the person's first: they have no year (in any state) of
    an earlier policy year of its region. ``find(process, business_key)`` reads instances."""
    earlier = [
        p.policy
        for p in domain.policies.values()
        if p.region.key == policy.region.key and p.year < policy.year
    ]
    return not any(find(ENROLLMENT, enrollment_key(id_number, p)) for p in earlier)


PAYABLE = "payable"
PAYS_LATE = "pays_late"
"""Tags (``enrollment.yaml``): a year awaiting payment; a lapsed year a late payment may still
revive while its policy accepts one."""


def unpaid_year(tags: Iterable[str], policy: Policy, now: datetime) -> bool:
    """Whether a year in a state with ``tags`` is not paid and can still be: awaiting payment, or
    lapsed while ``policy`` still accepts a late payment at ``now``. The years a person's leaving
    closes (``close_open_years``) and a reduction granted reassesses (``grant_reduction``)."""
    found = frozenset(tags)
    return PAYABLE in found or (PAYS_LATE in found and policy.late_payment_accepted(now))


def live_year(engine: Engine, tx: Tx, id_number: str, policy: str) -> InstanceView | None:
    found = engine.find(tx, ENROLLMENT, enrollment_key(id_number, policy))
    return next((y for y in found if LIVE in y.tags), None)


ENDED_YEARS = {
    "left_scheme": Label(
        "该居民已终止参保（迁出、参加职工医保等），本年度已结束，不能再缴费或扣费；"
        "如需重新参加城乡居民医保，请先重新办理参保登记",
        "the person left the scheme (moved away, insured as an employee, ...): this year is "
        "closed and can no longer be paid or deducted; to join again, register again first",
    ),
    "refund_given": Label(
        "本年度已缴费用已核定退还（已参加职工医保），本年度仍记在该居民名下，"
        "不能再为本年度缴费或扣费，也不能再开立本年度（重新办理参保登记也不能）；"
        "可在下一年度的缴费期内参保缴费，或对退费决定提出申诉",
        "this year's payment was refunded (the person is insured as an employee): the year "
        "stays the person's and can no longer be paid or deducted, and no second year of it "
        "opens, not even after registering again; the person may enrol and pay for the next "
        "policy year in its payment period, or appeal the refund decision",
    ),
}
"""Why a year in a state with one of these tags (enrollment.yaml) takes no payment: what every
door says (a payment through the API by enrollment or by ID number, opening the year again, a
deduction file's row, the tax authority's event door, ``shebao people open-year``), whether or not
the person is on the books (``ended_year_of``)."""


def ended_year_refusal(tags: Iterable[str]) -> Label | None:
    """Why a year whose state has ``tags`` can no longer be paid, or None when that is not why."""
    return next((ENDED_YEARS[t] for t in tags if t in ENDED_YEARS), None)


def ended_year_of(
    engine: Engine, tx: Tx, domain: Domain, id_number: str, policy_id: str | None
) -> Label | None:
    """Why a person whose record is not on the books (they left the scheme) cannot pay or open
    ``policy_id``'s year (None: their region's current one, by their last record): their year
    of it has ended (``ENDED_YEARS``: its live year, else the newest). None when it has not, or
    there is no such year: then registering first is what they need."""
    if policy_id is None:
        records = engine.find(tx, PERSON, id_number)
        region = region_of(domain, dict(records[-1].variables)) if records else None
        current = region.current(engine.clock.now()) if region is not None else None
        policy_id = current.policy if current is not None else None
    if policy_id is None:
        return None
    found = engine.find(tx, ENROLLMENT, enrollment_key(id_number, policy_id))
    year = next((y for y in found if LIVE in y.tags), found[-1] if found else None)
    return ended_year_refusal(year.tags) if year is not None else None


def insured_unless_ended(
    engine: Engine,
    tx: Tx,
    domain: Domain,
    id_number: str,
    policy_id: str | None,
    refused: Callable[[str, str], WorkflowError],
) -> InstanceView:
    """The person's insured record (``insured_record``), for paying or opening ``policy_id``'s
    year (None: their region's current one). A person no longer on the books whose year of it
    has ended is told why that year takes nothing (``ended_year_of``, raised as
    ``refused(zh, en)``), not to register first: the same words as when they are insured.

    Raises:
        NotRegistered: no record on the books and no ended year to tell of, or a registration
            in review.
    """
    try:
        return insured_record(engine, tx, id_number)
    except NotRegistered:
        if record_of(engine, tx, id_number) is not None:
            raise  # a registration in review: its approval is what comes next
        ended = ended_year_of(engine, tx, domain, id_number, policy_id)
        if ended is None:
            raise
        raise refused(ended.zh, ended.en) from None


def open_year_in(
    engine: Engine, tx: Tx, domain: Domain, id_number: str, policy_id: str, actor: str
) -> Transition:
    """Open ``policy_id``'s year for an insured person inside ``tx``.

    Raises:
        UnknownPolicy: no such policy year (naming the field ``policy``), before any rule.
        NotRegistered: no insured record (and no ended year of ``policy_id``).
        RegistrationRefused: another region's policy, a year that is open already, or one that
            can no longer be paid (``ENDED_YEARS``' words, on the books or not).
    """
    policy = domain.regions.policy_named(policy_id)
    record = insured_unless_ended(engine, tx, domain, id_number, policy_id, RegistrationRefused)
    year_facts = {"policy": policy.policy, "year": policy.year}
    if record.variables.get("region") != policy.region.key:
        found_in = domain.regions.find(str(record.variables.get("region") or ""))
        zh, en = (
            (found_in.name.zh, found_in.name.en) if found_in else ("其他地区", "another region")
        )
        elsewhere = RuleRefusal(
            OTHER_REGION,
            f"该居民在{zh}参保，不能开立{policy.title.zh}",
            f"this person is insured in {en}, not under {policy.title.en}",
            {
                **year_facts,
                "policy_region": policy.region.key,
                "insured_region": found_in.key if found_in else None,
            },
        )
        raise RegistrationRefused.by_rule(elsewhere, "policy")
    found = live_year(engine, tx, id_number, policy_id)
    ended = ended_year_refusal(found.tags) if found is not None else None
    if found is not None and ended is not None:
        facts = {**year_facts, "instance_id": found.id, "state": found.state}
        raise RegistrationRefused.by_rule(
            RuleRefusal(YEAR_ENDED, ended.zh, ended.en, facts), "policy"
        )
    if found is not None:
        label = label_of(engine.definition(ENROLLMENT), found.state)
        zh, en = label.zh, label.en
        facts = {
            "process": ENROLLMENT,
            "instance_id": found.id,
            "state": found.state,
            "policy": policy.policy,
            "year": policy.year,
        }
        open_already = RuleRefusal(
            DUPLICATE_RECORD,
            f"{policy.title.zh}已有参保记录（{found.id}，{zh}）",
            f"a {policy.title.en} year is open already ({found.id}, {en})",
            facts,
        )
        raise RegistrationRefused.by_rule(open_already, "policy")
    now = engine.clock.now()
    if now >= policy.deadline_instant() and not policy.late_payment_accepted(now):
        until = policy.late_payment.until if policy.late_payment.accepted else None
        closed = RuleRefusal(
            YEAR_NOT_PAYABLE,
            f"{policy.title.zh}已不能缴费，不能再开立",
            f"{policy.title.en} can no longer be paid for",
            {
                **year_facts,
                "payment_period_end": policy.payment_period.end.isoformat(),
                "late_payment_until": until.isoformat() if until else None,
                "day_used": policy.local_day(now).isoformat(),
            },
        )
        raise RegistrationRefused.by_rule(closed, "policy")
    definition = engine.definition(ENROLLMENT)
    key = enrollment_key(id_number, policy_id)
    engine.check_exclusive(tx, ENROLLMENT, key, definition.tagged(LIVE))
    first = is_first_year(partial(engine.find, tx), domain, id_number, policy)
    variables = year_variables(record, policy, first_year=first)
    return engine.start_in(tx, definition, definition.initial[0], key, variables, actor)


def open_year(
    engine: Engine,
    domain: Domain,
    id_number: str,
    policy_id: str,
    *,
    actor: str,
    idempotency: Idempotency | None = None,
) -> Transition:
    """Open a policy year for an insured person (awaiting the first payment)."""
    try:
        number = validate_id_number(id_number, today=service_today(engine.clock.now()))
    except InvalidIdNumber as exc:
        raise RegistrationRefused(exc.message_zh, exc.message_en) from None

    def work(tx: Tx) -> Transition:
        return open_year_in(engine, tx, domain, number, policy_id, actor)

    if idempotency is None:
        return engine.transaction(work)
    return engine.run_idempotent(idempotency, request_hash("open_year", number, policy_id), work)


def region_of(domain: Domain, variables: dict[str, Any]) -> RegionInfo | None:
    return domain.regions.find(str(variables.get("region", "")))


def year_opened_on_insurance(
    domain: Domain, variables: dict[str, Any], now: datetime
) -> Policy | None:
    """The year a person who becomes insured at ``now`` gets at once: the one whose payment
    period is open now (none between periods). The same whichever door made them insured: a
    clerk's approval of their registration or the import of an existing insured person."""
    region = region_of(domain, variables)
    return region.open_for_payment(now) if region else None


def open_year_on_insurance_in(
    engine: Engine,
    tx: Tx,
    domain: Domain,
    variables: dict[str, Any],
    actor: str,
    cause: Any,
    *,
    only: Policy | None = None,
) -> Transition | None:
    """Inside ``tx``, open the year ``year_opened_on_insurance`` names, as approving a
    registration does (``open_current_year``): same state, same variables, no second live year;
    ``None`` when no payment period is open, or when that year is not ``only``'s (given)."""
    now = engine.clock.now()
    policy = year_opened_on_insurance(domain, variables, now)
    if policy is None or (only is not None and policy.policy != only.policy):
        return None
    return open_insured_year_in(engine, tx, domain, variables, policy, actor, cause)


def open_insured_year_in(
    engine: Engine,
    tx: Tx,
    domain: Domain,
    variables: dict[str, Any],
    policy: Policy,
    actor: str,
    cause: Any,
    *,
    as_of: datetime | None = None,
) -> Transition | None:
    """Inside ``tx``, open ``policy``'s year for the insured person whose record has
    ``variables``, as approving a registration opens one (``open_current_year``: same state,
    same variables; the fund pays at once a year with nothing to pay); ``None`` when the person
    has a live year of it already. Also after ``policy``'s period (the periodic job catching
    up a period the scheduler missed, ``workflows.renewals``: ``as_of`` is then the moment a
    run in the period would have opened it, ``OPENED_AS_OF``)."""
    now = engine.clock.now()
    definition = engine.definition(ENROLLMENT)
    key = enrollment_key(str(variables["id_number"]), policy.policy)
    try:
        engine.check_exclusive(tx, ENROLLMENT, key, definition.tagged(LIVE))
    except DuplicateInstance:
        return None
    number = str(variables["id_number"])
    first = is_first_year(partial(engine.find, tx), domain, number, policy)
    return engine.start_in(
        tx,
        definition,
        definition.initial[0],
        key,
        year_variables(variables, policy, first_year=first, as_of=as_of),
        actor,
        {"cause": cause},
        now,
    )


def register(registry: Registry, domain: Domain) -> None:
    """The actions that open years: on a registration's approval, and a late payer's renewal."""

    def open_current_year(ctx: TransitionContext) -> None:
        """An approved registration opens the year whose payment period is open now."""
        policy = year_opened_on_insurance(domain, ctx.variables, ctx.now)
        if policy is None:
            return
        number = str(ctx.variables["id_number"])
        first = is_first_year(ctx.find, domain, number, policy)
        ctx.start(
            ENROLLMENT,
            business_key=enrollment_key(number, policy.policy),
            variables=year_variables(ctx.variables, policy, first_year=first),
            unless_tagged=LIVE,
        )

    registry.add_action("open_current_year", open_current_year)

    def renew_if_next_year_open(ctx: TransitionContext) -> None:
        """A year that reaches good standing while the next year's payment period is open
        already is renewed now (默认续保, huian.txt:29): the periodic job renewed the others when
        that period began, and a late payment (or a deduction result that came late, or a
        refund rejected after the review outlasted that start) would otherwise be left out.
        Only for a person still insured; the new year takes the record's facts (a reduction
        granted since this year opened counts)."""
        number = str(ctx.variables["id_number"])
        for following in domain.policies.values():
            if following.renews_from != ctx.variables.get("policy"):
                continue
            start = following.date_value("payment_period.start")
            if not start <= ctx.now < following.deadline_instant():
                continue  # the usual case, a payment in its own period: no query at all
            record = next((r for r in ctx.find(PERSON, number) if ON_BOOKS in r.tags), None)
            if record is None:
                return
            ctx.start(
                ENROLLMENT,
                business_key=enrollment_key(number, following.policy),
                variables=year_variables(record, following, first_year=False),
                unless_tagged=LIVE,
                state_tagged=RENEWAL,
            )

    registry.add_action("renew_if_next_year_open", renew_if_next_year_open)
