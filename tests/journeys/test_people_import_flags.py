"""``shebao import people`` and ``POST /imports/people`` take the declared flags as registration
does (an optional ``flags`` column, values separated by ``|``): a disabled member of a
low-income family aged 18 to 59 is a 减免对象 (huian.txt:59) and can be brought in with the
category; an unknown flag is refused in words; a file without the column works as before.
"""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

DISABLED_42 = "35052119800606057X"  # born 1980-06-06, disabled
DISABLED_37 = "35052119850202069X"  # born 1985-02-02, disabled
AGED_42 = "350521198005050337"  # born 1980-05-05


def test_a_disabled_person_with_the_low_income_category_is_imported_with_the_flag(
    journey_factory: Any,
) -> None:
    """A row with ``flags`` ``disabled`` and ``low_income`` is applied: the year owes 30% of
    360.00; the same row again is unchanged; the row with an unknown flag is rejected naming
    it; the API's import takes the column too."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("importer", "import")
    j.token("counter", "channel")
    people = j.file(
        "people.csv",
        "id_number,name,region,reduction_categories,flags\n"
        f"{DISABLED_42},乙,huian,low_income,disabled\n"
        f"{AGED_42},甲,huian,,disabled|veteran\n",
    )
    result = j.cli("import", "people", people, exit_code=1)
    assert "applied: 1" in result.output and "rejected: 1" in result.output, result.output
    [line] = [row for row in result.output.splitlines() if "line 3" in row]
    assert "未知的申报情形：veteran" in line and "unknown flag veteran" in line, result.output
    assert j.years(DISABLED_42)["huian-2023"]["amount_due"] == "108.00"
    assert j.years(AGED_42) == {}  # nothing of the rejected row written
    again = j.cli("import", "people", people, exit_code=1)
    assert "unchanged: 1" in again.output, again.output

    row = {
        "id_number": DISABLED_37,
        "name": "丙",
        "region": "huian",
        "reduction_categories": "low_income",
        "flags": "disabled",
    }
    answer = j.api("POST", "/imports/people", "importer", {"rows": [row]}, expect=200)
    assert answer["rejected"] == [], answer
    assert j.years(DISABLED_37)["huian-2023"]["amount_due"] == "108.00"


def test_a_file_without_the_flags_column_leaves_a_person_s_flags_as_they_are(
    journey_factory: Any,
) -> None:
    """A person brought in as disabled is unchanged by a file without the column; a file whose
    column says otherwise is refused as differing from the record."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    first = j.file(
        "first.csv",
        f"id_number,name,region,reduction_categories,flags\n{DISABLED_42},乙,huian,low_income,disabled\n",
    )
    assert "applied: 1" in j.cli("import", "people", first).output
    without = j.file(
        "without.csv",
        f"id_number,name,region,reduction_categories\n{DISABLED_42},乙,huian,low_income\n",
    )
    assert "unchanged: 1" in j.cli("import", "people", without).output
    other = j.file(
        "other.csv",
        f"id_number,name,region,reduction_categories,flags\n{DISABLED_42},乙,huian,low_income,disabled|new_student\n",
    )
    refused = j.cli("import", "people", other, exit_code=1).output
    assert "申报的情形" in refused and "flags" in refused, refused
