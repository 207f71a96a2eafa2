"""Insured people: registration (参保登记) with a clerk's check, and a person's record.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 29-43): someone with no record
registers first, with the household register or a residence permit, and a clerk checks it; people
already insured renew without registering again. A person's record is the ``person`` process (one
per ID number); each policy year is an ``enrollment`` instance opened for a person whose record is
``insured`` (a tag of ``person.yaml``); opening those years is ``workflows.years``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine.errors import DuplicateInstance, WorkflowError
from engine.field_words import FieldWords, one_of
from engine.forms import FieldProblem
from engine.interventions import label_of
from engine.registry import Registry
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.transition_context import InstanceView
from engine.tx import Tx
from workflows.identity import (
    InvalidIdNumber,
    birth_date,
    mask_id_number,
    mask_id_numbers_in,
    validate_id_number,
)
from workflows.person_flags import PERSON_FLAG_WORDS, PERSON_FLAGS
from workflows.reduction_conditions import DECLARED_AT_REGISTRATION, condition_problem
from workflows.rule_facts import DUPLICATE_RECORD, NEWBORN_WINDOW, RuleRefusal
from workflows.service_date import service_today

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
MAX_NAME = 64


class RegistrationRefused(WorkflowError):
    """A registration, or the opening of a year, that the rules refuse. ``field``: the fact of
    the registration refused (``name``, ``region``...), named in ``problems`` with ``words``
    (what is wrong with its value; the message itself when not given); ``by_rule``: refused by
    a rule, the field named with the facts that decided it (``workflows.rule_facts``)."""

    code = "registration_refused"

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        field: str | None = None,
        words: FieldWords | None = None,
    ) -> None:
        super().__init__(message_zh, message_en)
        said = words or FieldWords(message_zh, message_en)
        self.problems = [] if field is None else [FieldProblem(field, said.zh, said.en)]

    @classmethod
    def by_rule(cls, refusal: RuleRefusal, field: str) -> RegistrationRefused:
        """Refused by a rule: its words, and ``field`` named with the facts that decided it."""
        refused = cls(refusal.message_zh, refusal.message_en)
        refused.problems = [refusal.problem(field)]
        return refused


class NotRegistered(WorkflowError):
    """The person has no insured record: registration (参保登记) comes first (huian.txt:31), or
    their registration is still awaiting the clerk's check (``in_review``), or they left the
    scheme (``left``: their record ended by ``leave_scheme``; ``left_on``: the day, when the
    record keeps it): then they register again. Whatever was asked for (a payment, a year)."""

    code = "not_registered"

    def __init__(
        self,
        id_number: str,
        *,
        in_review: bool = False,
        left: bool = False,
        left_on: date | None = None,
        wanted: Wanted | None = None,
    ) -> None:
        masked = mask_id_number(id_number)
        wanted = wanted or YEARS_AND_PAYMENTS
        if in_review:
            super().__init__(
                f"{masked} 的参保登记正在等待经办人员审核，审核通过后才能{wanted.zh}",
                f"the registration of {masked} is awaiting the clerk's review: {wanted.en} "
                "once it is approved",
            )
        elif left:
            zh_when = f"已于 {left_on} " if left_on is not None else "已"
            en_when = f" on {left_on}" if left_on is not None else ""
            super().__init__(
                f"{masked} {zh_when}终止参保（迁出、参加职工医保等）；"
                f"如需重新参加城乡居民医保（{wanted.zh_again}），请先重新办理参保登记",
                f"{masked} left the scheme{en_when} (moved away, insured as an employee, ...): "
                f"to join again ({wanted.en_again}), register again first",
            )
        else:
            super().__init__(
                f"{masked} 没有医保参保档案，请先办理参保登记，登记通过后才能{wanted.zh}",
                f"{masked} has no insured record: register first; {wanted.en} once the "
                "registration is approved",
            )


@dataclass(frozen=True)
class Wanted:
    """What was asked for that needs an insured record, in the words ``NotRegistered`` says:
    what can be done once registered, and what joining again is for."""

    zh: str
    en: str
    zh_again: str
    en_again: str


YEARS_AND_PAYMENTS = Wanted(
    "开立年度和缴费", "years can be opened and paid", "开立年度、缴费", "to open or pay a year"
)
A_REDUCTION = Wanted("申请减免", "a reduction can be claimed", "申请减免", "to claim a reduction")


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


def _refuse(
    zh: str, en: str, field: str | None = None, words: FieldWords | None = None
) -> RegistrationRefused:
    return RegistrationRefused(zh, en, field=field, words=words)


NAME_WORDS = FieldWords(
    f"应为 1 至 {MAX_NAME} 个可打印字符", f"1 to {MAX_NAME} printable characters"
)
"""What a registration's name must be (stripped of spaces at both ends)."""


NEWBORN = "newborn"
NEWBORN_FOR = "P1Y"
"""How long after birth a registration may declare ``newborn``: until the first birthday (on
28 February for a baby born on 29 February), inclusive (an assumption: NOTES.md names 90 days for
cover from birth, and the flag's exemptions are for babies enrolled in their first year)."""


def first_birthday(born: date) -> date:
    """The last day a registration may declare ``newborn`` for a baby born on ``born``."""
    try:
        return born.replace(year=born.year + 1)
    except ValueError:  # 29 February: the year after has none
        return born.replace(year=born.year + 1, day=28)


def newborn_too_late(today: date) -> RuleRefusal:
    """The refusal of the ``newborn`` flag on ``today``: its facts are the window (``P1Y``, up to
    the first birthday) and the day used, not the window's days (they would tell the birth date,
    which an error body never does)."""
    return RuleRefusal(
        NEWBORN_WINDOW,
        "申报“新生儿”须在出生后一年内办理参保登记",
        "the newborn flag is for a registration within a year of birth",
        {"flag": NEWBORN, "window": NEWBORN_FOR, "day_used": today.isoformat()},
    )


def checked(
    domain: Domain, person: Registration, now: datetime, *, conditions: bool = True
) -> dict[str, Any]:
    """The record's variables, every fact checked against the rules and the region's policy
    on the day of ``now`` (the service clock's time): born by that day, ``newborn`` within a
    year of birth, and (``conditions``) each declared reduction category's condition met that
    day (``condition_problem``, the check a claim after registering gets; False: the facts
    before the record's flags are read)."""
    try:
        number = validate_id_number(person.id_number, today=service_today(now))
    except InvalidIdNumber as exc:
        raise RegistrationRefused(exc.message_zh, exc.message_en, field="id_number") from None
    name = person.name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise _refuse(
            f"姓名{NAME_WORDS.zh}",
            f"a name of 1 to {MAX_NAME} printable characters is needed",
            "name",
            NAME_WORDS,
        )
    region = domain.regions.find(person.region)
    if region is None:
        known = domain.regions.keys()
        shown = mask_id_numbers_in(person.region)  # a column shifted: someone's ID number
        raise _refuse(
            f"未知的参保地：{shown}（可选：{'、'.join(known)}）",
            f"unknown region {shown!r} (one of: {', '.join(known)})",
            "region",
            one_of(known, known),
        )
    if person.residence not in RESIDENCE_DOCUMENTS:
        raise _refuse(
            f"证件类型应为 {'、'.join(RESIDENCE_DOCUMENTS)}",
            f"residence must be one of {', '.join(RESIDENCE_DOCUMENTS)}",
            "residence",
            one_of(RESIDENCE_DOCUMENTS, RESIDENCE_DOCUMENTS),
        )
    odd = [mask_id_numbers_in(f) for f in sorted(set(person.flags) - set(PERSON_FLAGS))]
    if odd:
        raise _refuse(
            f"未知的申报情形：{'、'.join(odd)}（可选：{'、'.join(PERSON_FLAGS)}）",
            f"unknown flag {', '.join(odd)} (one of {', '.join(PERSON_FLAGS)})",
            "flags",
            one_of(PERSON_FLAGS, PERSON_FLAGS),
        )
    today = region.today(now)
    if NEWBORN in person.flags:
        born = birth_date(number)
        if not born <= today <= first_birthday(born):
            raise RegistrationRefused.by_rule(newborn_too_late(today), "flags")
    categories = {r.category for r in region.latest().reductions}
    unknown = [mask_id_numbers_in(c) for c in sorted(set(person.reduction_categories) - categories)]
    if unknown:
        offered = sorted(categories)
        raise _refuse(
            f"{region.name.zh}没有减免类别：{'、'.join(unknown)}",
            f"{region.name.en} has no reduction category {', '.join(unknown)}",
            "reduction_categories",
            one_of(offered, offered),
        )
    declared = sorted(set(person.reduction_categories))
    variables: dict[str, Any] = {
        "id_number": number,
        "name": name,
        "region": region.key,
        "residence": person.residence,
        "household": person.household,
        "reduction_categories": declared,
        "flags": sorted(set(person.flags)),
    }
    if conditions:
        for category in declared:
            problem = condition_problem(domain, variables, category, now)
            if problem is not None:  # as a claim after registering is refused
                raise RegistrationRefused.by_rule(problem, "reduction_categories")
    return variables


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
    # as declared, for the review's fact (a refusal at approval narrows reduction_categories)
    variables[DECLARED_AT_REGISTRATION] = list(variables["reduction_categories"])
    definition = engine.definition(PERSON)

    def work(tx: Tx) -> Transition:
        try:
            engine.check_exclusive(tx, PERSON, variables["id_number"], definition.tagged(LIVE))
        except DuplicateInstance as found:
            label = label_of(definition, found.state)
            zh, en = label.zh, label.en
            facts = {"process": PERSON, "instance_id": found.instance_id, "state": found.state}
            on_books = RuleRefusal(
                DUPLICATE_RECORD,
                f"该居民已有参保档案（{found.instance_id}，{zh}）",
                f"this person already has a record ({found.instance_id}, {en})",
                facts,
            )
            raise RegistrationRefused.by_rule(on_books, "id_number") from None
        return engine.start_in(
            tx, definition, definition.initial[0], variables["id_number"], variables, actor
        )

    if idempotency is None:
        return engine.transaction(work)
    return engine.run_idempotent(idempotency, request_hash("register", variables), work)


def record_of(engine: Engine, tx: Tx, id_number: str) -> InstanceView | None:
    """The person's live record (in review or insured), if any."""
    return next((r for r in engine.find(tx, PERSON, id_number) if LIVE in r.tags), None)


def insured_record(
    engine: Engine, tx: Tx, id_number: str, wanted: Wanted | None = None
) -> InstanceView:
    """The person's insured record, for whatever needs one (``wanted``: a year or a payment by
    default, a reduction claim), the refusal's words naming it.

    Raises:
        NotRegistered: no record, a registration still awaiting the clerk's review, or a
            record that left the scheme (saying when, and to register again).
    """
    record = record_of(engine, tx, id_number)
    if record is not None and ON_BOOKS in record.tags:
        return record
    if record is None:
        gone = left_record(engine, tx, id_number)
        if gone is not None:
            raise NotRegistered(id_number, left=True, left_on=left_on(gone), wanted=wanted)
    raise NotRegistered(id_number, in_review=record is not None, wanted=wanted)


LEAVE_SCHEME = "leave_scheme"
LEFT_AT = "left_scheme_at"
"""The person's event of leaving the scheme (person.yaml), and the variable that keeps when."""


def left_record(engine: Engine, tx: Tx, id_number: str) -> InstanceView | None:
    """The person's newest record, when it ended by their leaving the scheme (its state is
    where ``leave_scheme`` leads, by the latest definition), else None."""
    records = engine.find(tx, PERSON, id_number)
    event = engine.definition(PERSON).events.get(LEAVE_SCHEME)
    if not records or event is None or records[-1].state != event.target:
        return None
    return records[-1]


def left_on(record: InstanceView) -> date | None:
    """The day (in China) a record left the scheme, when it keeps it (``LEFT_AT``: records
    that left before it was kept have none)."""
    raw = record.variables.get(LEFT_AT)
    try:
        return service_today(datetime.fromisoformat(str(raw))) if raw else None
    except ValueError:
        return None


def flag_words(value: Any) -> Any:
    """Declared flags as the clerk reads them: ``残疾人`` / ``Disabled person``, the
    key for one without words."""
    if not isinstance(value, list | tuple):
        return value
    return [PERSON_FLAG_WORDS.get(str(v), str(v)) for v in value]


def register(registry: Registry, domain: Domain) -> None:
    """The guards and actions of registration and of opening years (reductions: ``reductions``)."""
    registry.add_value_words("flags", lambda variables, value: flag_words(value))
