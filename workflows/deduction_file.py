"""Reading a deduction result file of the tax authority: its encoding, its records and each row's
verdict before anything is matched (``workflows.deductions`` applies the good rows).

One row per insured person: ``id_number, policy_year, amount, result, reason`` and optionally
``paid_at``. Files in UTF-8 (with or without a byte order mark) and in GB 18030/GBK, which Chinese
tax systems commonly export, are read. A file the CSV reader cannot read (a quote never closed, a
field over the reader's limit) or without the required columns is refused as a whole
(``DeductionFileError``, ``workflows.csv_files``), as is one cut short in the middle of a UTF-8
character, one that starts with UTF-8's byte order mark but is not UTF-8 (GBK with the mark), or
one whose header names a column twice; a row with a bad ID number, another policy year,
an unknown result, more cells than the header or a control character in a cell is rejected with
its line number, what it echoes of the file masked (an ID number in the wrong column), and the
rest are read on. The reasons' words, in Chinese and English, are
``workflows.deduction_reasons``'s.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

from engine.errors import WorkflowError
from workflows import deduction_reasons as because
from workflows.csv_files import EXTRA_CELLS, extra_cells, records, with_control_characters
from workflows.deduction_rows import ImportReport, Rejected
from workflows.identity import InvalidIdNumber, validate_id_number
from workflows.policy import Label, Policy

COLUMNS = ("id_number", "policy_year", "amount", "result", "reason", "paid_at")
REQUIRED = COLUMNS[:4]
RESULTS = {
    "success": "deduct",
    "成功": "deduct",
    "failed": "fail_deduction",
    "失败": "fail_deduction",
}
ENCODINGS = ("utf-8-sig", "gb18030")
"""Tried in order; a file that is UTF-8 but for a character cut at its end is refused, not
read as the next."""


class DeductionFileError(WorkflowError):
    """The file as a whole cannot be read (missing columns, an unknown encoding, a record the CSV
    reader cannot read)."""

    code = "deduction_file_invalid"


@dataclass(frozen=True)
class Row:
    """A good row of the file: its line, the person's ID number, the event and its data."""

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
    """UTF-8 (BOM or not) if the whole file decodes so, else GB 18030; read block by block.

    Raises:
        DeductionFileError: the file starts with UTF-8's byte order mark but is not UTF-8 (a GBK
            file with the mark: read as GB 18030 its header's first column is ``锘縤d_number``).
        DeductionFileError: the file is UTF-8 up to its last bytes, which stop in the middle of
            a character (a file cut short: never read as GB 18030 and applied), or is neither.
    """
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as stream:
                while block := stream.read(1 << 20):
                    decoder.decode(block)
        except UnicodeDecodeError:
            if encoding == ENCODINGS[0] and _starts_with_utf8_mark(path):
                raise _mark_but_not_utf8() from None
            continue
        except OSError as exc:
            raise DeductionFileError(
                f"无法读取文件：{exc}", f"cannot read the file: {exc}"
            ) from None
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            if encoding == ENCODINGS[0]:  # all UTF-8 but a character cut at the very end
                raise DeductionFileError(
                    "文件在一个字符的中间结束（UTF-8），可能不完整或被截断，整个文件未导入",
                    "the file ends in the middle of a character (UTF-8): it looks cut short; "
                    "nothing was imported",
                ) from None
            continue
        return encoding
    raise DeductionFileError(
        "文件编码无法识别（应为 UTF-8 或 GBK）", "the file is neither UTF-8 nor GBK/GB 18030"
    )


def _mark_but_not_utf8() -> DeductionFileError:
    """The refusal of a file that starts with UTF-8's byte order mark but is not UTF-8."""
    return DeductionFileError(
        "文件以 UTF-8 的字节顺序标记（BOM）开头，其余内容却不是 UTF-8（是否为加了 BOM 的 GBK "
        "文件？），请另存为 UTF-8，或不带 BOM 的 GBK，整个文件未导入",
        "the file starts with a UTF-8 byte order mark (BOM) but the rest is not UTF-8 (a GBK "
        "file given the mark?): save it as UTF-8, or as GBK without the mark; nothing was "
        "imported",
    )


def _starts_with_utf8_mark(path: Path) -> bool:
    """Whether the file's first bytes are UTF-8's byte order mark: such a file is not GB 18030
    (the mark would be read as ``锘`` and swallow the first letter of the header)."""
    with path.open("rb") as stream:
        return stream.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8


def count_lines(path: Path) -> int:
    """Lines after the header (for a progress bar), counted without decoding the file."""
    lines = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def open_file(path: Path) -> TextIO:
    """The file as a text stream in its encoding (``detect_encoding``)."""
    encoding = detect_encoding(path)
    return path.open(encoding=encoding, newline="")


def parse_rows(
    stream: TextIO, policy: Policy, report: ImportReport, *, today: date
) -> Iterator[Row]:
    """The file's good rows in order; a bad row goes to ``report`` rejected, with its line
    (an ID number is valid for people born by ``today``, the service clock's date).

    Raises:
        DeductionFileError: the file cannot be read as CSV or lacks a required column (possibly
            after good rows were yielded: apply nothing before the last row is read).
    """
    year = str(policy.year)
    for line, record in records(stream, REQUIRED, DeductionFileError):
        cell = {c: record.get(c, "").strip() for c in COLUMNS}
        number, problem = "", None
        unreadable = with_control_characters(record)
        if EXTRA_CELLS in record:  # which column a cell belongs to cannot be told
            problem = Label(*extra_cells(record[EXTRA_CELLS]))
        elif unreadable:  # a NUL, a line break in quotes: never stored (PostgreSQL refuses a NUL)
            problem = because.control_characters(unreadable)
        else:
            try:
                number = validate_id_number(cell["id_number"], today=today)
            except InvalidIdNumber as exc:
                problem = because.bad_id_number(exc)
        event = RESULTS.get(cell["result"].lower())
        if problem is None and cell["policy_year"] != year:
            problem = because.other_year(cell["policy_year"], policy.year)
        if problem is not None or event is None:
            report.rejected.append(
                Rejected(line, problem or because.unknown_result(cell["result"]))
            )
            continue
        data = {k: cell[k] for k in ("amount", "reason", "paid_at") if cell[k]}
        yield Row(line, number, event, data)
