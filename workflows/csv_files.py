"""Reading the records of an import's CSV file, the same way for every import (deduction results,
people and cards): the header must name the required columns, each once (a refusal shows the
header as it was read, ID numbers masked: ``header_as_read``), and a file the CSV reader cannot
read (a quote never closed, a field over ``csv.field_size_limit()`` characters) is refused as a
whole, naming the line its unreadable record starts on, since what follows such a line cannot
be told apart reliably. A record with more cells than the header has columns (an unquoted comma)
carries ``EXTRA_CELLS``, so that its import rejects that row (``extra_cells``). Each import raises
the refusal as its own error type (``refuse``).
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from workflows.identity import mask_id_numbers_in

Refuse = Callable[[str, str], Exception]
"""An import's error for a file it refuses, from the reason in Chinese and in English."""
HEADER_CELLS = 12
HEADER_CELL = 40
"""How much of a header a refusal shows (``header_as_read``): its first cells, each cut."""
EXTRA_CELLS = "\x00extra_cells"
"""The key under which a record carries how many cells it has beyond the header's columns (a
name no header can give: a NUL is never a column's name, ``with_control_characters``)."""


def records(
    lines: Iterable[str], required: Sequence[str], refuse: Refuse
) -> Iterator[tuple[int, dict[str, str]]]:
    """The file's records in order, each with the line it ends on and its cells by column (a
    missing cell is empty; cells beyond the header's columns are counted under ``EXTRA_CELLS``
    instead of their values).

    ``lines``: the file's text as ``open(..., newline="")`` or ``io.StringIO(text, newline="")``
    gives it. The records stream: a refusal may come after earlier records were yielded, so a
    caller applies nothing before the last record is read.

    Raises:
        refuse(zh, en): a required column is missing, a column is named twice (which of its
            cells counts cannot be told), or a record cannot be read.
    """
    reader = csv.DictReader(lines, strict=True)
    start = 1  # the line the record being read starts on
    try:
        names = list(reader.fieldnames or ())
        missing = [c for c in required if c not in names]
        if missing:
            read = header_as_read(names)
            raise refuse(
                f"缺少列：{', '.join(missing)}（读到的表头：{read}），整个文件未导入",
                f"missing columns: {', '.join(missing)} (the header read: {read}); nothing was "
                "imported",
            )
        twice = ", ".join(
            mask_id_numbers_in(n) for n in sorted({n for n in names if n and names.count(n) > 1})
        )
        if twice:
            raise refuse(
                f"表头列名重复：{twice}，整个文件未导入",
                f"the header has columns named twice: {twice}; nothing was imported",
            )
        start = reader.line_num + 1
        for row in reader:
            cells = {k: (v or "") for k, v in row.items() if isinstance(k, str) and k}
            extra = row.get(None)  # type: ignore[call-overload]
            if extra:
                cells[EXTRA_CELLS] = str(len(extra))
            yield reader.line_num, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise unreadable(start, exc, refuse) from None


def header_as_read(names: Sequence[str]) -> str:
    """The header's cells as the reader took them, for a refusal: each quoted (``repr``: a stray
    space or an invisible character shows), any resident ID number masked (a file without a
    header line has a row read as one), at most ``HEADER_CELLS`` cells of ``HEADER_CELL``
    characters. What a wrong encoding (``锘縤d_number``) or separator (``id_number;name``) made
    of the header is then plain to see."""
    if not names:
        return "-"
    shown = [_clipped(mask_id_numbers_in(name)) for name in names[:HEADER_CELLS]]
    more = ", …" if len(names) > HEADER_CELLS else ""
    return ", ".join(repr(cell) for cell in shown) + more


def _clipped(text: str) -> str:
    return text if len(text) <= HEADER_CELL else text[:HEADER_CELL] + "…"


def unreadable(line: int, exc: csv.Error, refuse: Refuse) -> Exception:
    """The refusal of a file whose record starting on ``line`` the CSV reader cannot read."""
    problem = str(exc)
    if "field limit" in problem:
        zh = f"字段超过 {csv.field_size_limit()} 个字符"
    elif "end of data" in problem:
        zh = "引号未闭合"
    else:
        zh = "引号或分隔符有误"
    return refuse(
        f"第 {line} 行起的记录无法读取（{zh}），整个文件未导入",
        f"the record starting on line {line} cannot be read ({problem}); nothing was imported",
    )


def with_control_characters(cells: Mapping[str, str]) -> list[str]:
    """The columns whose cell holds a control character (a NUL, a line break in quotes): such a
    cell is never stored (PostgreSQL refuses a NUL in text), so its row is refused."""
    return sorted(
        k for k, v in cells.items() if any(unicodedata.category(c) == "Cc" for c in v.strip())
    )


def extra_cells(count: str) -> tuple[str, str]:
    """Why a record with ``count`` cells beyond the header's columns is rejected (Chinese,
    English): which column a cell belongs to cannot be told (an unquoted comma in a cell?)."""
    cells = "cell" if count == "1" else "cells"
    return (
        f"本行比表头多 {count} 个单元格（单元格内的逗号是否未加引号？），本行未导入",
        f"this row has {count} more {cells} than the header has columns (an unquoted comma in "
        "a cell?): not imported",
    )
