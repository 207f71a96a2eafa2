"""Files the readers used to take as they came, through the doors alone (``shebao import
deductions``, ``shebao import people``): a UTF-8 file cut in the middle of a character, a header
naming a column twice, a row with more cells than the header has columns.

Before: the cut file was read as GB 18030 and its last row applied with a garbled reason; the
second ``id_number`` column silently won over the first; the extra cells were dropped.
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey
from tests.journeys.deduction_setup import HEADER, huian_state, insured_in_huian

FIRST = "350521198003030017"
SECOND = "35052119810404002X"
THIRD = "350521198205050032"

GOOD = f"{FIRST},2023,360.00,success,,2022-10-01T07:00:00+08:00\n"


def _cut(j: Journey, name: str, text: str, cut: int) -> str:
    """A file of ``text`` in UTF-8 whose last ``cut`` bytes were lost (mid-character)."""
    path = j.tmp / name
    path.write_bytes(text.encode("utf-8")[:-cut])
    return str(path)


def test_a_utf8_file_cut_in_a_character_is_refused_whole(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST, SECOND)
    cut = _cut(j, "cut.csv", HEADER + GOOD + f"{SECOND},2023,360.00,failed,余额不足", 2)
    out = j.cli("import", "deductions", cut, "--policy", "huian-2023", exit_code=1).output
    assert "截断" in out and "cut short" in out and "nothing was imported" in out
    assert huian_state(j, FIRST) == "registered" and huian_state(j, SECOND) == "registered"

    people = _cut(j, "people.csv", f"id_number,region,name\n{THIRD},huian,李四娜", 1)
    out = j.cli("import", "people", people, exit_code=1).output
    assert "截断" in out and "cut short" in out
    assert j.years(THIRD) == {}  # not brought onto the books: no year opened


def test_a_header_naming_a_column_twice_is_refused_whole(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST, SECOND)
    twice = "id_number,policy_year,amount,result,reason,id_number\n"
    path = j.file("twice.csv", twice + f"{FIRST},2023,360.00,success,,{SECOND}\n")
    out = j.cli("import", "deductions", path, "--policy", "huian-2023", exit_code=1).output
    assert "列名重复：id_number" in out and "named twice: id_number" in out
    assert SECOND not in out and FIRST not in out
    assert huian_state(j, FIRST) == "registered" and huian_state(j, SECOND) == "registered"

    people = j.file("people.csv", f"id_number,name,region,name\n{THIRD},甲,huian,乙\n")
    out = j.cli("import", "people", people, exit_code=1).output
    assert "列名重复：name" in out and "named twice: name" in out
    assert j.years(THIRD) == {}  # not brought onto the books: no year opened


def test_a_row_with_more_cells_than_the_header_is_rejected(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST, SECOND)
    extra = f"{SECOND},2023,360.00,failed,余额不足,,多余\n"
    path = j.file("extra.csv", HEADER + GOOD + extra)
    out = j.cli("import", "deductions", path, "--policy", "huian-2023", exit_code=1).output
    assert "applied: 1  unchanged: 0  rejected: 1" in out
    assert "line 3: 本行比表头多 1 个单元格" in out and "1 more cell than the header" in out
    assert huian_state(j, FIRST) == "deducted" and huian_state(j, SECOND) == "registered"

    people = j.file("people.csv", f"id_number,name,region\n{THIRD},甲,huian,多余\n")
    out = j.cli("import", "people", people, exit_code=1).output
    assert "本行比表头多 1 个单元格" in out and "1 more cell than the header" in out
    assert j.years(THIRD) == {}  # not brought onto the books: no year opened
