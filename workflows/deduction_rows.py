"""What became of each row of a deduction file, the same in the set-based and the row-by-row
import (``workflows.deductions``): the import's report (rows applied, unchanged, rejected with
their line numbers), and the verdict on a row whose event the year's state refused: the same result
reported again (unchanged), or money taken twice for a year already paid, a duplicate payment to
refund (rejected, saying when, how much and by whom the year was paid).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from engine.batch import BatchResult
from engine.definition import ProcessDefinition
from engine.errors import EventNotAllowed
from workflows.policy import Policy


@dataclass(frozen=True)
class Rejected:
    """A row not applied: its line in the file and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: rows applied, rows unchanged (applied before), rows rejected."""

    applied: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.applied + self.unchanged + len(self.rejected)


def paid_twice(
    policy: Policy, instance_id: int, data: Mapping[str, str], payment: Mapping[str, Any] | None
) -> str | None:
    """A successful deduction row for a year already paid: ``None`` when it is the deduction on
    record (a ``deduct`` of the same amount at the same ``paid_at``: the same result reported
    again) or took nothing (0 yuan), else why it is rejected: money was taken twice (or from
    someone a fund pays for), so it is a duplicate payment to refund, not a row to pass over."""
    payment = payment or {}
    amount, paid_at = _decimal(data.get("amount")), _instant(data.get("paid_at"))
    recorded_amount, recorded_at = _decimal(payment.get("amount")), _instant(payment.get("paid_at"))
    if amount is not None and amount == 0:
        return None  # nothing was taken: nothing to refund
    if (
        payment.get("event") == "deduct"
        and amount is not None
        and amount == recorded_amount
        and paid_at is not None
        and paid_at == recorded_at
    ):
        return None
    when = f"{recorded_at.astimezone(ZoneInfo(policy.timezone)):%Y-%m-%d}" if recorded_at else "?"
    who = payment.get("payer_kind") or "?"
    channel = payment.get("channel")
    by = f"{who} via {channel}" if channel and channel != who else who
    paid = f"{recorded_amount} yuan" if recorded_amount is not None else "?"
    taken = f"{amount} yuan" if amount is not None else str(data.get("amount", ""))
    return (
        f"enrollment {instance_id} was already paid on {when} ({paid}, by {by}): this "
        f"deduction of {taken} is a duplicate payment, refund needed"
    )


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


def not_allowed(
    definition: ProcessDefinition,
    instance_id: int,
    state: str | None,
    event: str,
    twice: str | None,
) -> Rejected | None:
    """A row whose event the year's state does not allow: ``None`` (unchanged) when the year is
    where the row would have put it (a failure reported again; the deduction on record), else
    the rejection's reason (line filled in by the caller, 0 here); ``twice``: ``paid_twice``'s
    verdict on a success row for a year already paid."""
    if event == "deduct" and state in definition.tagged("paid"):
        return None if twice is None else Rejected(0, twice)
    if state == definition.events[event].target:
        return None
    return Rejected(0, f"enrollment {instance_id} is {state}; {event} not allowed")


def classify(
    report: ImportReport,
    result: BatchResult,
    definition: ProcessDefinition,
    twice: Mapping[int, str | None],
) -> None:
    """Count one row's outcome as the row-by-row import does (``twice``: by line, ``paid_twice``'s
    verdict on each success row for a year already paid)."""
    event = result.event
    if result.transition is not None:
        if result.transition.replayed:
            report.unchanged += 1
        else:
            report.applied += 1
        return
    error = result.error
    if isinstance(error, EventNotAllowed):
        verdict = twice.get(result.ref)
        refused = not_allowed(definition, result.instance_id, result.state, event, verdict)
        if refused is None:
            report.unchanged += 1
        else:
            report.rejected.append(Rejected(result.ref, refused.reason))
        return
    assert error is not None
    report.rejected.append(Rejected(result.ref, error.message_en))
