"""Batch deduction results from the tax authority (CSV) applied to enrollments, idempotently.

One row per insured person: ``id_number, policy_year, amount, result, reason`` and optionally
``paid_at`` (when the authority deducted; the service clock otherwise). A success fires ``deduct``,
a failure ``fail_deduction`` (Foshan document, lines 57-58): the same events, with the same guards
(the payment period, the amount due), as the tax authority's API calls. Every row carries an
idempotency key, so importing the same file twice changes nothing the second time. Bad rows are
reported with their line numbers and skipped; good rows are applied. Files in UTF-8 (with or
without a byte order mark) and in GB 18030/GBK, which Chinese tax systems commonly export, are read.

A province's file has millions of rows, so it is applied set-based (``import_deductions``): the
file streams into a staging table (``workflows.deduction_staging``), is matched to the enrollments
in SQL, and each chunk of rows goes through ``engine.batch.BatchFire``, which runs every row's
rules as a firing does and writes the transitions, history, timers, tasks and idempotency keys of
the chunk together. ``import_deductions_row_by_row`` fires the engine once per row: the reference
the set-based path is tested against (the same rows written, the same report).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from engine import queries
from engine.batch import DEFAULT_CHUNK, BatchFire, BatchItem, BatchResult
from engine.definition import ProcessDefinition
from engine.errors import EventNotAllowed, WorkflowError
from engine.runtime import Engine, Idempotency
from engine.sqlexec import Tx
from workflows.deduction_staging import StagedRow, Staging
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
    encoding = detect_encoding(path)
    try:
        return path.read_bytes().decode(encoding)
    except OSError as exc:
        raise DeductionFileError(f"无法读取文件：{exc}", f"cannot read the file: {exc}") from None


def detect_encoding(path: Path) -> str:
    """UTF-8 (BOM or not) if the whole file decodes so, else GB 18030; read block by block."""
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as stream:
                while block := stream.read(1 << 20):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        except OSError as exc:
            raise DeductionFileError(
                f"无法读取文件：{exc}", f"cannot read the file: {exc}"
            ) from None
        return encoding
    raise DeductionFileError(
        "文件编码无法识别（应为 UTF-8 或 GBK）", "the file is neither UTF-8 nor GBK/GB 18030"
    )


def count_lines(path: Path) -> int:
    """Lines after the header (for a progress bar), counted without decoding the file."""
    lines = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def parse_rows(stream: TextIO, policy: Policy, report: ImportReport) -> Iterator[_Row]:
    reader = csv.DictReader(stream)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise DeductionFileError(
            f"缺少列：{', '.join(missing)}", f"missing columns: {', '.join(missing)}"
        )
    year = str(policy.year)
    for record in reader:
        line = reader.line_num
        cell = {c: str(record.get(c) or "").strip() for c in COLUMNS}
        problem = None
        try:
            number = validate_id_number(cell["id_number"])
        except InvalidIdNumber as exc:
            number, problem = "", f"id_number: {exc.message_en}"
        event = RESULTS.get(cell["result"].lower())
        if problem is None and cell["policy_year"] != year:
            problem = f"policy_year {cell['policy_year']!r} is not {policy.year}"
        if problem is None and event is None:
            problem = f"result {cell['result']!r} is not success/failed"
        if problem:
            report.rejected.append(Rejected(line, problem))
            continue
        assert event is not None
        data = {k: cell[k] for k in ("amount", "reason", "paid_at") if cell[k]}
        yield _Row(line, number, event, data)


def open_file(path: Path) -> TextIO:
    """The file as a text stream in its encoding (``detect_encoding``)."""
    encoding = detect_encoding(path)
    return path.open(encoding=encoding, newline="")


def _key(id_number: str, event: str, data: dict[str, str]) -> str:
    return f"{id_number}:{event}:{data.get('amount', '')}"


def _classify(report: ImportReport, result: BatchResult, definition: ProcessDefinition) -> None:
    """Count one row's outcome as the row-by-row import does."""
    event = result.event
    if result.transition is not None:
        if result.transition.replayed:
            report.unchanged += 1
        else:
            report.applied += 1
        return
    error = result.error
    if isinstance(error, EventNotAllowed):
        if result.state == definition.events[event].target:
            report.unchanged += 1
        else:
            report.rejected.append(
                Rejected(
                    result.ref,
                    f"enrollment {result.instance_id} is {result.state}; {event} not allowed",
                )
            )
        return
    assert error is not None
    report.rejected.append(Rejected(result.ref, error.message_en))


def staged_rows(rows: Iterable[_Row], policy: Policy) -> Iterator[StagedRow]:
    """The good rows as the staging table keeps them, with their enrollment's business key."""
    for row in rows:
        data = row.data
        yield StagedRow(
            row.line,
            row.id_number,
            row.event,
            data.get("amount"),
            data.get("reason"),
            data.get("paid_at"),
            enrollment_key(row.id_number, policy.policy),
        )


def import_deductions(
    engine: Engine,
    policy: Policy,
    path: str | Path,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> ImportReport:
    """Apply a deduction result file for ``policy`` set-based, ``chunk`` rows per transaction;
    returns what was applied, unchanged and rejected (rejected rows in line order)."""
    report = ImportReport()
    scope = f"deductions:{policy.policy}"
    definition = engine.definition(ENROLLMENT)
    live = definition.tagged(LIVE)
    batch = BatchFire(engine)

    def apply(tx: Tx, lo: int, hi: int) -> tuple[list[BatchResult], list[Rejected], int]:
        items, missing, last = [], [], 0
        for row in stage.matched(tx, lo, hi, ENROLLMENT, live):
            last = row.line
            if row.instance_id is None:
                who = mask_id_number(row.id_number)
                missing.append(Rejected(row.line, f"no {policy.policy} enrollment for {who}"))
                continue
            key = _key(row.id_number, row.event, row.data)
            items.append(BatchItem(row.line, row.instance_id, row.event, row.data, key))
        return batch.apply_in(tx, items, actor=actor, scope=scope), missing, last

    with Staging(engine) as stage:
        with open_file(Path(path)) as stream:
            stage.load(staged_rows(parse_rows(stream, policy, report), policy))
        for lo, hi in stage.ranges(chunk):
            results, missing, last = batch.transaction(lambda tx: apply(tx, lo, hi))  # noqa: B023
            report.rejected += missing
            for result in results:
                _classify(report, result, definition)
            if progress:
                progress(last)
    report.rejected.sort(key=lambda r: r.line)
    return report


def import_deductions_row_by_row(
    engine: Engine,
    policy: Policy,
    path: str | Path,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """The reference: one ``Engine.fire`` per row (what ``import_deductions`` must equal)."""
    report = ImportReport()
    scope = f"deductions:{policy.policy}"
    definition = engine.definition(ENROLLMENT)
    live = definition.tagged(LIVE)
    with open_file(Path(path)) as stream:
        for row in parse_rows(stream, policy, report):
            if progress:
                progress(row.line)
            _fire_row(engine, policy, row, scope, actor, live, definition, report)
    return report


def _fire_row(
    engine: Engine,
    policy: Policy,
    row: _Row,
    scope: str,
    actor: str,
    live: tuple[str, ...],
    definition: ProcessDefinition,
    report: ImportReport,
) -> None:
    key = enrollment_key(row.id_number, policy.policy)
    found = next(
        ((i, s) for i, s in queries.by_business_key(engine.db, ENROLLMENT, key) if s in live),
        None,
    )
    if found is None:
        who = mask_id_number(row.id_number)
        report.rejected.append(Rejected(row.line, f"no {policy.policy} enrollment for {who}"))
        return
    instance_id, state = found
    idem = Idempotency(scope, _key(row.id_number, row.event, row.data))
    try:
        done = engine.fire(instance_id, row.event, actor=actor, data=row.data, idempotency=idem)
    except EventNotAllowed:
        if state == definition.events[row.event].target:
            report.unchanged += 1
        else:
            report.rejected.append(
                Rejected(row.line, f"enrollment {instance_id} is {state}; {row.event} not allowed")
            )
        return
    except WorkflowError as exc:
        report.rejected.append(Rejected(row.line, exc.message_en))
        return
    if done.replayed:
        report.unchanged += 1
    else:
        report.applied += 1
