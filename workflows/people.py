"""Insured people: registration (参保登记) with a clerk's check, and opening a person's years.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 29-43): someone with no record
registers first, with the household register or a residence permit, and a clerk checks it; people
already insured renew without registering again. A person's record is the ``person`` process (one
per ID number); each policy year is an ``enrollment`` instance opened for a person whose record is
``insured`` (a tag of ``person.yaml``). Approving a registration opens the year whose payment period
is open at that moment, in the same transaction; other years open on request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.errors import DuplicateInstance, WorkflowError
from engine.interventions import label_of
from engine.registry import InstanceView, Registry, TransitionContext
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.tx import Tx
from workflows.identity import InvalidIdNumber, birth_date, mask_id_number, validate_id_number
from workflows.policy import Label, Policy
from workflows.regions import RegionInfo

if TYPE_CHECKING:
    from workflows.domain import Domain

PERSON = "person"
ENROLLMENT = "enrollment"
RENEWAL = "renewal"
"""The tag of the state a renewed year starts in (enrollment.yaml)."""
LIVE = "live"
ON_BOOKS = "on_books"
# huian.txt:35 户口簿 / 居住证 / 港澳台居民居住证: what a person registers with
RESIDENCE_DOCUMENTS = ("household_register", "residence_permit", "hmt_residence_permit")
# facts a person declares that the policies' rules read: huian.txt:59 the low-income reduction
# for the disabled (残疾人); NOTES.md (Quanzhou 2023) who is spared the subsidy when paying late
# with the words each reads as to staff (a clerk checking a registration sees them)
PERSON_FLAG_WORDS = {
    "disabled": Label("残疾人", "Disabled person"),  # huian.txt:59
    "newborn": Label("新生儿", "Newborn"),
    "new_student": Label("新入学学生", "New student"),
    "left_employee_insurance": Label("职工医保转出人员", "Left employee medical insurance"),
}
PERSON_FLAGS = tuple(PERSON_FLAG_WORDS)
YEAR_BOUND_FLAGS = frozenset({"newborn", "new_student", "left_employee_insurance"})
"""Flags that describe how a person came into the scheme, not a lasting fact: they count in the
person's first year only (``year_variables``), never in a renewed or later year. NOTES.md (Quanzhou
2023): late payers spared the subsidy are newborns, new students and people leaving employee
insurance, each for the year they enrol in (NOTES.md: newborns enrolled soon after birth); the
national rule likewise exempts newborns from the waiting period of their first enrolment.
``disabled`` is lasting."""
MAX_NAME = 64


class RegistrationRefused(WorkflowError):
    """A registration, or the opening of a year, that the rules refuse."""

    code = "registration_refused"


class NotRegistered(WorkflowError):
    """The person has no insured record: registration (参保登记) comes first (huian.txt:31), or
    their registration is still awaiting the clerk's check (``in_review``)."""

    code = "not_registered"

    def __init__(self, id_number: str, *, in_review: bool = False) -> None:
        masked = mask_id_number(id_number)
        if in_review:
            super().__init__(
                f"{masked} 的参保登记正在等待经办人员审核，审核通过后才能开立年度和缴费",
                f"the registration of {masked} is awaiting the clerk's review: years can be "
                "opened and paid once it is approved",
            )
        else:
            super().__init__(
                f"{masked} 没有医保参保档案，请先办理参保登记（如无医保档案，请先参保登记完再进行缴费）",
                f"{masked} has no insured record: register first (参保登记) before paying",
            )


@dataclass(frozen=True)
class Registration:
    """What a person registers with."""

    id_number: str
    name: str
    region: str
    residence: str = "household_register"
    household: str | None = None
    reduction_categories: tuple[str, ...] = ()
    flags: tuple[str, ...] = field(default=())


def _refuse(zh: str, en: str) -> RegistrationRefused:
    return RegistrationRefused(zh, en)


NEWBORN = "newborn"
NEWBORN_FOR_DAYS = 365
"""How long after birth a registration may declare ``newborn`` (an assumption: NOTES.md names 90
days for cover from birth, and the flag's exemptions are for babies enrolled in their first
year)."""


def checked(domain: Domain, person: Registration, now: datetime | None = None) -> dict[str, Any]:
    """The record's variables, every fact checked against the rules and the region's policy
    (with ``now``, the facts that depend on the day too: ``newborn`` within a year of birth)."""
    try:
        number = validate_id_number(person.id_number)
    except InvalidIdNumber as exc:
        raise RegistrationRefused(exc.message_zh, exc.message_en) from None
    name = person.name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise _refuse("姓名无效", f"a name of 1 to {MAX_NAME} printable characters is needed")
    region = domain.regions.find(person.region)
    if region is None:
        known = ", ".join(r.key for r in domain.regions)
        raise _refuse(
            f"未知的参保地：{person.region}", f"unknown region {person.region!r} ({known})"
        )
    if person.residence not in RESIDENCE_DOCUMENTS:
        raise _refuse(
            f"证件类型应为 {'、'.join(RESIDENCE_DOCUMENTS)}",
            f"residence must be one of {', '.join(RESIDENCE_DOCUMENTS)}",
        )
    odd = sorted(set(person.flags) - set(PERSON_FLAGS))
    if odd:
        raise _refuse(
            f"未知的申报情形：{'、'.join(odd)}（可选：{'、'.join(PERSON_FLAGS)}）",
            f"unknown flag {', '.join(odd)} (one of {', '.join(PERSON_FLAGS)})",
        )
    if NEWBORN in person.flags and now is not None:
        today = now.astimezone(ZoneInfo(region.latest().timezone)).date()
        if (today - birth_date(number)).days > NEWBORN_FOR_DAYS:
            raise _refuse(
                "申报“新生儿”须在出生后一年内办理参保登记",
                "the newborn flag is for a registration within a year of birth",
            )
    categories = {r.category for r in region.latest().reductions}
    unknown = sorted(set(person.reduction_categories) - categories)
    if unknown:
        raise _refuse(
            f"{region.name.zh}没有减免类别：{'、'.join(unknown)}",
            f"{region.name.en} has no reduction category {', '.join(unknown)}",
        )
    return {
        "id_number": number,
        "name": name,
        "region": region.key,
        "residence": person.residence,
        "household": person.household,
        "reduction_categories": sorted(set(person.reduction_categories)),
        "flags": sorted(set(person.flags)),
    }


def register_person(
    engine: Engine,
    domain: Domain,
    person: Registration,
    *,
    actor: str,
    idempotency: Idempotency | None = None,
) -> Transition:
    """Register a person with no record; a medical-insurance clerk of the region checks the
    household register or residence permit (task ``verify_residence``).

    Raises:
        RegistrationRefused: bad facts, or the person already has a live record.
    """
    variables = checked(domain, person, engine.clock.now())
    definition = engine.definition(PERSON)

    def work(tx: Tx) -> Transition:
        try:
            engine.check_exclusive(tx, PERSON, variables["id_number"], definition.tagged(LIVE))
        except DuplicateInstance as found:
            label = label_of(definition, found.state)
            zh, en = label.zh, label.en
            raise _refuse(
                f"该居民已有参保档案（{found.instance_id}，{zh}）",
                f"this person already has a record ({found.instance_id}, {en})",
            ) from None
        return engine.start_in(
            tx, definition, definition.initial[0], variables["id_number"], variables, actor
        )

    if idempotency is None:
        return engine.transaction(work)
    return engine.run_idempotent(idempotency, request_hash("register", variables), work)


def record_of(engine: Engine, tx: Tx, id_number: str) -> InstanceView | None:
    """The person's live record (in review or insured), if any."""
    return next((r for r in engine.find(tx, PERSON, id_number) if LIVE in r.tags), None)


def insured_record(engine: Engine, tx: Tx, id_number: str) -> InstanceView:
    """The person's insured record, for whatever needs one (a year, a payment, a claim).

    Raises:
        NotRegistered: no record, or a registration still awaiting the clerk's review.
    """
    record = record_of(engine, tx, id_number)
    if record is None or ON_BOOKS not in record.tags:
        raise NotRegistered(id_number, in_review=record is not None)
    return record


def enrollment_key(id_number: str, policy: str) -> str:
    return f"{id_number}:{policy}"


def year_variables(
    record: InstanceView | Mapping[str, Any], policy: Policy, *, first_year: bool
) -> dict[str, Any]:
    """An enrollment year's variables, from the person's record; the ``YEAR_BOUND_FLAGS`` only
    in the person's ``first_year`` (see ``is_first_year``; a renewal never is)."""
    facts = record.variables if isinstance(record, InstanceView) else record
    flags = [str(f) for f in facts.get("flags", ())]
    return {
        "id_number": facts["id_number"],
        "policy": policy.policy,
        "region": facts.get("region"),
        "reduction_categories": list(facts.get("reduction_categories", ())),
        "flags": flags if first_year else [f for f in flags if f not in YEAR_BOUND_FLAGS],
    }


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
        "本年度已缴费用已核定退还（已参加职工医保），不能再为本年度缴费，也不能再开立本年度；"
        "如需重新参加城乡居民医保，请重新办理参保登记或提出申诉",
        "this year's payment was refunded (the person is insured as an employee): the year can "
        "no longer be paid and no second year of it opens; to be insured as a resident again, "
        "register again or appeal",
    ),
}
"""Why a year in a state with one of these tags (enrollment.yaml) takes no payment: what every door says (a payment through the
API by enrollment or by ID number, opening the year again, a deduction file's row)."""


def ended_year_refusal(tags: Iterable[str]) -> Label | None:
    """Why a year whose state has ``tags`` can no longer be paid, or None when that is not why."""
    return next((ENDED_YEARS[t] for t in tags if t in ENDED_YEARS), None)


def open_year_in(
    engine: Engine, tx: Tx, domain: Domain, id_number: str, policy_id: str, actor: str
) -> Transition:
    """Open ``policy_id``'s year for an insured person inside ``tx``.

    Raises:
        NotRegistered: no insured record.
        RegistrationRefused: another region's policy, a year that is open already, or one that
            can no longer be paid.
    """
    policy = domain.regions.policy(policy_id)
    if policy is None:
        raise _refuse(f"未知的年度政策：{policy_id}", f"unknown policy year {policy_id!r}")
    record = insured_record(engine, tx, id_number)
    if record.variables.get("region") != policy.region.key:
        found_in = domain.regions.find(str(record.variables.get("region") or ""))
        zh, en = (
            (found_in.name.zh, found_in.name.en) if found_in else ("其他地区", "another region")
        )
        raise _refuse(
            f"该居民在{zh}参保，不能开立 {policy_id} 年度",
            f"this person is insured in {en}, not under {policy_id}",
        )
    found = live_year(engine, tx, id_number, policy_id)
    ended = ended_year_refusal(found.tags) if found is not None else None
    if ended is not None:
        raise _refuse(ended.zh, ended.en)
    if found is not None:
        label = label_of(engine.definition(ENROLLMENT), found.state)
        zh, en = label.zh, label.en
        raise _refuse(
            f"{policy_id} 年度已有参保记录（{found.id}，{zh}）",
            f"a {policy_id} year is open already ({found.id}, {en})",
        )
    now = engine.clock.now()
    if now >= policy.deadline_instant() and not policy.late_payment_accepted(now):
        raise _refuse(
            f"{policy_id} 年度已不能缴费，不能再开立", f"{policy_id} can no longer be paid for"
        )
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
        number = validate_id_number(id_number)
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
        year_variables(variables, policy, first_year=first),
        actor,
        {"cause": cause},
        now,
    )


def flag_words(value: Any) -> Any:
    """Declared flags as the clerk reads them: ``残疾人`` / ``Disabled person``, the
    key for one without words."""
    if not isinstance(value, list | tuple):
        return value
    return [PERSON_FLAG_WORDS.get(str(v), str(v)) for v in value]


def register(registry: Registry, domain: Domain) -> None:
    """The guards and actions of registration and of opening years (reductions: ``reductions``)."""
    registry.add_value_words("flags", lambda variables, value: flag_words(value))

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
        that period began, and a late payment (or a deduction result that came late) would
        otherwise be left out. Only for a person still insured; the new year takes the record's
        facts (a reduction granted since this year opened counts)."""
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
