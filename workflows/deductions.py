"""Batch deduction results from the tax authority (CSV) applied to enrollments, idempotently.

One row per insured person: ``id_number, policy_year, amount, result, reason`` and optionally
``paid_at`` (when the authority deducted; the service clock otherwise). A success fires ``deduct``,
a failure ``fail_deduction`` (Foshan document, lines 57-58): the same events, with the same guards
(the payment period, the amount due), as the tax authority's API calls. Every row carries an
idempotency key, so importing the same file twice changes nothing the second time. Bad rows are
reported with their line numbers and skipped; good rows are applied. Files in UTF-8 (with or
without a byte order mark) and in GB 18030/GBK, which Chinese tax systems commonly export, are read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine import queries
from engine.errors import EventNotAllowed, WorkflowError
from engine.runtime import Engine, Idempotency
from workflows.identity import InvalidIdNumber, mask_id_number, validate_id_number
from workflows.people import ENROLLMENT, LIVE, enrollment_key
from workflows.policy import Policy

COLUMNS = ("id_number", "policy_year", "amount", "result", "reason", "paid_at")
REQUIRED = COLUMNS[:4]
RESULTS = {
    "success": "deduct",
    "成功": "deduct",
    "failed": "fail_deduction",
    "失败": "fail_deduction",
}
ENCODINGS = ("utf-8-sig", "gb18030")


class DeductionFileError(WorkflowError):
    """The file as a whole cannot be read (missing columns, an unknown encoding)."""

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
    data: dict[str, str]


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (BOM or not), else GB 18030 (a superset of GBK)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DeductionFileError(f"无法读取文件：{exc}", f"cannot read the file: {exc}") from None
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DeductionFileError(
        "文件编码无法识别（应为 UTF-8 或 GBK）", "the file is neither UTF-8 nor GBK/GB 18030"
    )


def _rows(text: str, policy: Policy, report: ImportReport) -> Iterator[_Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise DeductionFileError(
            f"缺少列：{', '.join(missing)}", f"missing columns: {', '.join(missing)}"
        )
    for record in reader:
        line = reader.line_num
        cell = {c: str(record.get(c) or "").strip() for c in COLUMNS}
        problem = None
        try:
            number = validate_id_number(cell["id_number"])
        except InvalidIdNumber as exc:
            number, problem = "", f"id_number: {exc.message_en}"
        event = RESULTS.get(cell["result"].lower())
        if problem is None and cell["policy_year"] != str(policy.year):
            problem = f"policy_year {cell['policy_year']!r} is not {policy.year}"
        if problem is None and event is None:
            problem = f"result {cell['result']!r} is not success/failed"
        if problem:
            report.rejected.append(Rejected(line, problem))
            continue
        assert event is not None
        data = {k: cell[k] for k in ("amount", "reason", "paid_at") if cell[k]}
        yield _Row(line, number, event, data)


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
    definition = engine.definition(ENROLLMENT)
    live = definition.tagged(LIVE)
    for row in _rows(read_text(Path(path)), policy, report):
        if progress:
            progress(row.line)
        key = enrollment_key(row.id_number, policy.policy)
        found = next(
            ((i, s) for i, s in queries.by_business_key(engine.db, ENROLLMENT, key) if s in live),
            None,
        )
        if found is None:
            who = mask_id_number(row.id_number)
            report.rejected.append(Rejected(row.line, f"no {policy.policy} enrollment for {who}"))
            continue
        instance_id, state = found
        idem = Idempotency(scope, f"{row.id_number}:{row.event}:{row.data.get('amount', '')}")
        try:
            done = engine.fire(instance_id, row.event, actor=actor, data=row.data, idempotency=idem)
        except EventNotAllowed:
            if state == definition.events[row.event].target:
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
