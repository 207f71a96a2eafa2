"""What became of each row of a deduction file, the same in the set-based and the row-by-row
import (``workflows.deductions``): the import's report (rows applied, unchanged with the reasons
worth telling, rejected with their line numbers), and the verdict on a row whose event the year's
state refused: the same result reported again (unchanged); a failure that came after the year was
paid, lapsed, refunded or closed (unchanged: the failure no longer matters, and says why); money
taken twice for a year already paid, a duplicate payment to refund (rejected, saying when, how much
and by whom the year was paid: a success is the deduction on record only as ``on_record`` says);
a success for a year that has ended (refunded, closed on leaving the
scheme) other than the deduction on record (rejected in the words every door says of that year,
``workflows.years.ENDED_YEARS``). ``refused_result`` gives the same verdict to a result that came by
the tax authority's API (``POST /api/v1/enrollments/{id}/events``): one rule, every door (there,
malformed data is raised as the engine raises it for a year that takes the result). Each
reason's words, in Chinese and English, are ``workflows.deduction_reasons``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.batch import BatchResult
from engine.definition import ProcessDefinition
from engine.errors import DataInvalid, EventNotAllowed
from engine.forms import FieldCheck, clean
from engine.interventions import is_ended, label_of
from workflows import deduction_reasons as because
from workflows.identity import mask_id_number, mask_id_numbers_in
from workflows.people import ENROLLMENT
from workflows.policy import Label, Policy
from workflows.years import ended_year_refusal

if TYPE_CHECKING:
    from engine.runtime import Engine
    from workflows.domain import Domain

DEDUCT, FAIL, LAPSE = "deduct", "fail_deduction", "lapse"
REFUND_GIVEN = "refund_given"
"""The tag of a year whose payment was refunded (``enrollment.yaml``)."""
RESULTS = (DEDUCT, FAIL)
"""The tax authority's deduction results: the events a file's rows and its API calls send."""


def said(why: Label) -> str:
    """A reason as a file's report line says it: ``已缴费 the year is already paid``."""
    return f"{why.zh} {why.en}"


ALREADY_PAID = said(because.UNCHANGED["already_paid"])
ALREADY_LAPSED = said(because.UNCHANGED["already_lapsed"])
ALREADY_CLOSED = said(because.UNCHANGED["already_closed"])
ALREADY_REFUNDED = said(because.UNCHANGED["already_refunded"])


@dataclass(frozen=True)
class Rejected:
    """A row not applied: its line in the file and why, in both languages
    (``workflows.deduction_reasons``); anything in them that looks like an ID number is masked."""

    line: int
    why: Label

    def __post_init__(self) -> None:
        masked = Label(mask_id_numbers_in(self.why.zh), mask_id_numbers_in(self.why.en))
        object.__setattr__(self, "why", masked)

    @property
    def reason(self) -> str:
        """Why, in English."""
        return self.why.en

    @property
    def reason_zh(self) -> str:
        """Why, in Chinese."""
        return self.why.zh


@dataclass
class ImportReport:
    """What an import did: rows applied, rows unchanged (applied before), rows rejected."""

    applied: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    why_unchanged: dict[str, int] = field(default_factory=dict)
    """Unchanged rows by the reason they changed nothing, when there is one to tell (a late
    failure: ``ALREADY_PAID``...); a row replayed or reported again is counted without one."""

    @property
    def rows(self) -> int:
        return self.applied + self.unchanged + len(self.rejected)

    def pass_over(self, reason: str | None = None) -> None:
        """Count a row as unchanged, under ``reason`` if it has one."""
        self.unchanged += 1
        if reason is not None:
            self.why_unchanged[reason] = self.why_unchanged.get(reason, 0) + 1

    def totals(self) -> str:
        """The report's totals in words: a line of counts, then a line per unchanged reason."""
        lines = [
            f"applied: {self.applied}  unchanged: {self.unchanged}  rejected: {len(self.rejected)}"
        ]
        lines += [f"  unchanged ({why}): {n}" for why, n in sorted(self.why_unchanged.items())]
        return "\n".join(lines)


def on_record(data: Mapping[str, Any], payment: Mapping[str, Any] | None, policy: Policy) -> bool:
    """Whether a ``deduct`` result is the deduction on record (``payment``), reported again at
    either of the tax authority's doors: the payment on record is the tax authority's deduction
    (``deduct``, its batch-deduction channel) of the same amount, and the result gives no
    ``paid_at`` (the authority's API and a file's optional column leave it out: the service
    recorded when the result arrived, so it cannot be told apart) or one on the same day, in
    ``policy``'s time zone, as the one on record (the authority deducts a year once; a time of
    another precision, or the arrival's time on record, is the same deduction). A deduction on
    another day, of another amount, or for a year paid some other way is money taken again."""
    payment = payment or {}
    amount = _decimal(data.get("amount"))
    if payment.get("event") != DEDUCT or amount is None:
        return False
    if amount != _decimal(payment.get("amount")):
        return False
    if data.get("paid_at") in (None, ""):
        return True
    stated, recorded = _instant(data.get("paid_at")), _instant(payment.get("paid_at"))
    if stated is None or recorded is None:
        return False
    zone = ZoneInfo(policy.timezone)
    return stated.astimezone(zone).date() == recorded.astimezone(zone).date()


def paid_twice(
    policy: Policy, instance_id: int, data: Mapping[str, Any], payment: Mapping[str, Any] | None
) -> Label | None:
    """A successful deduction row for a year already paid: ``None`` when it is the deduction on
    record (``on_record``) or took nothing (0 yuan), else why it is rejected: money was taken
    twice (or from someone a fund pays for), so it is a duplicate payment to refund, not a row
    to pass over."""
    amount = _decimal(data.get("amount"))
    if (amount is not None and amount == 0) or on_record(data, payment, policy):
        return None  # nothing was taken, or the same result again: nothing to refund
    payment = payment or {}
    recorded_amount, recorded_at = _decimal(payment.get("amount")), _instant(payment.get("paid_at"))
    when = f"{recorded_at.astimezone(ZoneInfo(policy.timezone)):%Y-%m-%d}" if recorded_at else "?"
    who = str(payment.get("payer_kind") or "?")
    channel = payment.get("channel")
    paid = str(recorded_amount) if recorded_amount is not None else "?"
    taken = str(amount) if amount is not None else str(data.get("amount", ""))
    return because.duplicate_payment(
        instance_id, when, paid, who, None if channel is None else str(channel), taken
    )


def ended(definition: ProcessDefinition, state: str | None) -> Label | None:
    """Why a year in ``state`` takes no payment or deduction any more (``ENDED_YEARS``: a
    refunded year, one closed when its person left the scheme), by the state's tags; None
    when that is not so."""
    spec = definition.states.get(state) if state is not None else None
    return ended_year_refusal(spec.tags) if spec is not None else None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _instant(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class Unchanged:
    """A refused row that changes nothing, and why when it is worth telling (None: a repeat)."""

    why: Label | None = None

    @property
    def reason(self) -> str | None:
        """The reason as the file's report counts it (None: a repeat, counted without one)."""
        return None if self.why is None else said(self.why)

    @property
    def words(self) -> Label:
        """The reason in both languages, a repeat's included (what the API answers)."""
        return self.why or because.UNCHANGED["again"]


def data_invalid(
    definition: ProcessDefinition,
    checks: Mapping[str, FieldCheck],
    event: str,
    data: Mapping[str, Any],
) -> DataInvalid | None:
    """A refused result's data checked as the event checks it when allowed (types: an amount,
    a time with its zone; no field the event does not have): the ``DataInvalid`` the engine
    raises for it, naming each field and the event in words, or None."""
    _, problems = clean(definition.events[event].fields, data, checks=checks)
    if not problems:
        return None
    label = definition.events[event].label  # the event in words, as every door names it
    return DataInvalid(f"{definition.key}.{event}", problems, label)


def malformed(
    definition: ProcessDefinition,
    checks: Mapping[str, FieldCheck],
    event: str,
    data: Mapping[str, Any],
) -> Label | None:
    """Why a refused row's data is malformed (``data_invalid``, in its words), or None. A
    malformed row is rejected whatever the year's state, so a bad row never passes as
    unchanged."""
    found = data_invalid(definition, checks, event, data)
    return None if found is None else because.refused(found)


def objection_to(
    definition: ProcessDefinition,
    checks: Mapping[str, FieldCheck],
    policy: Policy,
    instance_id: int,
    state: str | None,
    event: str,
    data: Mapping[str, Any],
    payment: Callable[[], Mapping[str, Any] | None],
) -> Label | None:
    """Why a refused result is rejected whatever the year's state (``not_allowed``'s
    ``objection``), or None: its data is malformed; else, a success for a year already paid is
    money taken twice (``paid_twice``), and one for a year that has ended (``ended``: refunded,
    closed on leaving) is refused in the words every door says, and the money it took is to be
    given back, unless it is the deduction on record (``on_record``: the refunded payment
    reported again). ``payment`` reads the payment on
    record, only then. Every caller of ``not_allowed`` passes this objection: a success with none
    for a paid or ended year is the deduction on record."""
    found = malformed(definition, checks, event, data)
    if found is not None or event != DEDUCT:
        return found
    if state in definition.tagged("paid"):
        return paid_twice(policy, instance_id, data, payment())
    why = ended(definition, state)
    if why is None or on_record(data, payment(), policy):
        return None
    taken = _decimal(data.get("amount"))
    return because.taken_for_ended(why, str(taken)) if taken else why


def refused_result(
    engine: Engine, domain: Domain, row: Any, event: str, data: Mapping[str, Any]
) -> Rejected | Unchanged | None:
    """The verdict on a deduction result (``RESULTS``) whose event the year's state refused,
    ``row`` the year as the refusing transaction read it, whichever door the result came by: the
    file's verdict (``not_allowed``) for a result sent through the API. None for any other
    event or process (the refusal stands as it is).

    Raises:
        DataInvalid: the data is malformed (``data_invalid``), checked before any rule: the
            same refusal, naming the field, as for a year whose state takes the result, so a
            paid year's result is not judged by the rules (the deduction on record, money taken
            twice) before its data's shape.
    """
    if event not in RESULTS or row.process != ENROLLMENT:
        return None
    definition = engine.definition(row.process, row.definition_version)
    invalid = data_invalid(definition, engine.registry.field_checks(), event, data)
    if invalid is not None:
        raise invalid
    try:
        policy = domain.policy_of(row.variables)
    except LookupError:
        return None
    variables = row.variables or {}
    objection = objection_to(
        definition,
        engine.registry.field_checks(),
        policy,
        row.id,
        row.state,
        event,
        data,
        lambda: variables.get("payment"),
    )
    return not_allowed(definition, row.id, row.state, event, objection)


def not_allowed(
    definition: ProcessDefinition,
    instance_id: int,
    state: str | None,
    event: str,
    objection: Label | None,
) -> Rejected | Unchanged:
    """The verdict on a row whose event the year's state does not allow (a rejection's line is
    filled in by the caller, 0 here). ``objection``: why the row is rejected whatever the state
    (``malformed``; else, for a success row for a year already paid, ``paid_twice``'s verdict).

    Unchanged: the year is where the row would have put it (a failure reported again; the
    deduction on record, paid or refunded since), or a failure arrived after the year was paid
    (online, late, by a fund), lapsed, refunded (已退费) or closed: the tax authority's attempt no
    longer matters, so it is passed over, saying why, however late or often it is reported.
    Anything else is rejected, the state and the event named by their labels."""
    if objection is not None:
        return Rejected(0, objection)
    if event == DEDUCT and (state in definition.tagged("paid") or ended(definition, state)):
        return Unchanged()  # the deduction on record, reported again
    if state == definition.events[event].target:
        return Unchanged()
    if event == FAIL and state is not None:
        if state in definition.tagged("paid"):
            return Unchanged(because.UNCHANGED["already_paid"])
        if LAPSE in definition.events and state == definition.events[LAPSE].target:
            return Unchanged(because.UNCHANGED["already_lapsed"])
        if state in definition.tagged(REFUND_GIVEN):
            return Unchanged(because.UNCHANGED["already_refunded"])
        if is_ended(definition, state):
            return Unchanged(because.UNCHANGED["already_closed"])
    now = label_of(definition, state) if state is not None else None
    was = None if now is None else Label(now.zh, now.en)
    what = definition.events[event].label
    return Rejected(0, because.not_allowed_now(instance_id, was, Label(what.zh, what.en)))


def count_refused(
    report: ImportReport,
    line: int,
    definition: ProcessDefinition,
    instance_id: int,
    state: str | None,
    event: str,
    objection: Label | None,
) -> None:
    """Count a row whose event the year's state refused (``not_allowed``'s verdict)."""
    verdict = not_allowed(definition, instance_id, state, event, objection)
    if isinstance(verdict, Unchanged):
        report.pass_over(verdict.reason)
    else:
        report.rejected.append(Rejected(line, verdict.why))


def count_no_live_year(
    report: ImportReport,
    line: int,
    policy: Policy,
    definition: ProcessDefinition,
    id_number: str,
    event: str,
    newest: tuple[int, str] | None,
    objection: Label | None,
) -> None:
    """Count a row that names no live year of ``policy``; ``newest``: the newest instance of the
    person's year in any state (None: there was never one); ``objection``: ``objection_to``'s
    verdict on the row for that year (``not_allowed``). A failure for a year that has ended
    and is no longer the person's live year (closed on leaving the scheme, cancelled) is passed
    over as the year's other late failures are; a success for a year that has ended is rejected,
    saying why it takes no deduction (``ENDED_YEARS``, as every door says it) or else naming its
    state; anything else is rejected, the person masked."""
    if newest is not None and (event == FAIL or is_ended(definition, newest[1])):
        count_refused(report, line, definition, newest[0], newest[1], event, objection)
        return
    who = mask_id_number(id_number)
    report.rejected.append(Rejected(line, because.no_enrollment(policy.title, who)))


def classify(
    report: ImportReport,
    result: BatchResult,
    definition: ProcessDefinition,
    objections: Mapping[int, Label | None],
) -> None:
    """Count one row's outcome as the row-by-row import does (``objections``: by line, the
    objection to each refused row, as ``not_allowed`` takes it)."""
    if result.transition is not None:
        if result.transition.replayed:
            report.pass_over()
        else:
            report.applied += 1
        return
    error = result.error
    if isinstance(error, EventNotAllowed):
        objection = objections.get(result.ref)
        count_refused(
            report,
            result.ref,
            definition,
            result.instance_id,
            result.state,
            result.event,
            objection,
        )
        return
    assert error is not None
    report.rejected.append(Rejected(result.ref, because.refused(error)))
