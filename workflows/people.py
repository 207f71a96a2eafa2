"""Insured people: registration (参保登记) with a clerk's check, and a person's record.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 29-43): someone with no record
registers first, with the household register or a residence permit, and a clerk checks it; people
already insured renew without registering again. A person's record is the ``person`` process (one
per ID number); each policy year is an ``enrollment`` instance opened for a person whose record is
``insured`` (a tag of ``person.yaml``); opening those years is ``workflows.years``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.errors import DuplicateInstance, WorkflowError
from engine.interventions import label_of
from engine.registry import InstanceView, Registry
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.tx import Tx
from workflows.identity import InvalidIdNumber, birth_date, mask_id_number, validate_id_number
from workflows.policy import Label

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


def flag_words(value: Any) -> Any:
    """Declared flags as the clerk reads them: ``残疾人`` / ``Disabled person``, the
    key for one without words."""
    if not isinstance(value, list | tuple):
        return value
    return [PERSON_FLAG_WORDS.get(str(v), str(v)) for v in value]


def register(registry: Registry, domain: Domain) -> None:
    """The guards and actions of registration and of opening years (reductions: ``reductions``)."""
    registry.add_value_words("flags", lambda variables, value: flag_words(value))
