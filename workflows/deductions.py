"""Batch deduction results from the tax authority (CSV) applied to enrollments, idempotently.

One row per insured person: ``id_number, policy_year, amount, result, reason``. A success moves the
enrollment to ``deducted``, a failure to ``deduction_failed`` (Foshan document, lines 57-58). Every
row carries an idempotency key, so importing the same file twice changes nothing the second time.
Bad rows are reported with their line numbers and skipped; good rows are applied.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine import queries
from engine.errors import EventNotAllowed, WorkflowError
from engine.runtime import Engine, Idempotency
from workflows.identity import InvalidIdNumber, mask_id_number, validate_id_number
from workflows.payments import LIVE_STATES, enrollment_key
from workflows.policy import Policy

COLUMNS = ("id_number", "policy_year", "amount", "result", "reason")
RESULTS = {
    "success": "deduct",
    "成功": "deduct",
    "failed": "fail_deduction",
    "失败": "fail_deduction",
}
TARGETS = {"deduct": "deducted", "fail_deduction": "deduction_failed"}


class DeductionFileError(WorkflowError):
    """The file as a whole cannot be read (missing columns, not UTF-8)."""

    code = "deduction_file_invalid"


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass
class ImportReport:
    applied: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.applied + self.unchanged + len(self.rejected)


@dataclass(frozen=True)
class _Row:
    line: int
    id_number: str
    event: str
    amount: Decimal
    reason: str


def _rows(path: Path, policy: Policy, report: ImportReport) -> Iterator[_Row]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DeductionFileError(f"无法读取文件：{exc}", f"cannot read the file: {exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or ())]
        if missing:
            raise DeductionFileError(
                f"缺少列：{', '.join(missing)}", f"missing columns: {', '.join(missing)}"
            )
        try:
            for record in reader:
                line = reader.line_num
                problem = None
                try:
                    number = validate_id_number(record["id_number"] or "")
                except InvalidIdNumber as exc:
                    number, problem = "", f"id_number: {exc.message_en}"
                event = RESULTS.get((record["result"] or "").strip().lower())
                try:
                    amount = Decimal((record["amount"] or "").strip())
                except InvalidOperation:
                    amount = Decimal(-1)
                if problem is None and str(record["policy_year"]).strip() != str(policy.year):
                    problem = f"policy_year {record['policy_year']!r} is not {policy.year}"
                if problem is None and event is None:
                    problem = f"result {record['result']!r} is not success/failed"
                if problem is None and amount < 0:
                    problem = f"amount {record['amount']!r} is not an amount"
                if problem:
                    report.rejected.append(Rejected(line, problem))
                    continue
                assert event is not None
                yield _Row(line, number, event, amount, (record.get("reason") or "").strip())
        except UnicodeDecodeError:
            raise DeductionFileError("文件不是 UTF-8 编码", "the file is not UTF-8") from None


def import_deductions(
    engine: Engine,
    policy: Policy,
    path: str | Path,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Apply a deduction result file for ``policy``; returns what was applied, unchanged, rejected."""
    report = ImportReport()
    scope = f"deductions:{policy.policy}"
    for row in _rows(Path(path), policy, report):
        if progress:
            progress(row.line)
        key = enrollment_key(row.id_number, policy.policy)
        found = next(
            (
                (i, s)
                for i, s in queries.by_business_key(engine.db, "enrollment", key)
                if s in LIVE_STATES
            ),
            None,
        )
        if found is None:
            report.rejected.append(
                Rejected(
                    row.line, f"no {policy.policy} enrollment for {mask_id_number(row.id_number)}"
                )
            )
            continue
        instance_id, state = found
        data = {"amount": str(row.amount), "reason": row.reason}
        idem = Idempotency(scope, f"{row.id_number}:{row.event}:{row.amount}")
        try:
            done = engine.fire(instance_id, row.event, actor=actor, data=data, idempotency=idem)
        except EventNotAllowed:
            if state == TARGETS[row.event]:
                report.unchanged += 1
            else:
                report.rejected.append(
                    Rejected(
                        row.line, f"enrollment {instance_id} is {state}; {row.event} not allowed"
                    )
                )
            continue
        except WorkflowError as exc:
            report.rejected.append(Rejected(row.line, exc.message_en))
            continue
        if done.replayed:
            report.unchanged += 1
        else:
            report.applied += 1
    return report
