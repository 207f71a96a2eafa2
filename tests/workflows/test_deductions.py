"""Tax-authority deduction files: applied once, idempotent on re-import, bad rows reported by line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine import queries
from engine.runtime import Engine
from workflows.deductions import DeductionFileError, import_deductions
from workflows.identity import make_id_number
from workflows.payments import open_renewals
from workflows.policy import Policy

HEADER = "id_number,policy_year,amount,result,reason\n"


@pytest.fixture
def people(engine: Engine, policies: dict[str, Policy]) -> list[str]:
    numbers = [make_id_number("350521", date(1960 + i, 1, 1), 1 + i) for i in range(8)]
    people = [{"id_number": n, "region": "huian"} for n in numbers]
    open_renewals(engine, policies["huian-2023"], people)
    return numbers


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "deductions.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def snapshot(engine: Engine) -> tuple[list[tuple[int, str, int]], int]:
    with engine.db.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT id, state, version FROM wf_instance ORDER BY id")).all()
        history = conn.execute(text("SELECT count(*) FROM wf_history")).scalar_one()
    return [tuple(r) for r in rows], history


def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    engine: Engine, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    rows = [f"{n},2023,360,success," for n in people[:5]]
    rows += [f"{n},2023,0,failed,余额不足" for n in people[5:]]
    path = write(tmp_path, rows)
    first = import_deductions(engine, policies["huian-2023"], path, actor="tax")
    assert (first.applied, first.unchanged, first.rejected) == (8, 0, [])
    before = snapshot(engine)
    second = import_deductions(engine, policies["huian-2023"], path, actor="tax")
    assert (second.applied, second.unchanged, second.rejected) == (0, 8, [])
    assert snapshot(engine) == before  # no instance changed, no history written
    states = [
        queries.by_business_key(engine.db, "enrollment", f"{n}:huian-2023")[0][1] for n in people
    ]
    assert states == ["deducted"] * 5 + ["deduction_failed"] * 3


def test_a_malformed_id_on_line_7_is_reported_and_the_rest_applied(
    engine: Engine, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    rows = [f"{n},2023,360,success," for n in people[:5]]
    bad = people[5][:-1] + ("0" if people[5][-1] != "0" else "1")
    rows.append(f"{bad},2023,360,success,")  # line 7: header is line 1
    rows += [f"{n},2023,360,success," for n in people[6:]]
    report = import_deductions(engine, policies["huian-2023"], write(tmp_path, rows), actor="tax")
    assert report.applied == 7
    assert [(r.line, "check" in r.reason) for r in report.rejected] == [(7, True)]


def test_rows_for_unknown_people_wrong_years_and_results_are_rejected(
    engine: Engine, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    stranger = make_id_number("350521", date(1999, 9, 9), 99)
    rows = [
        f"{stranger},2023,360,success,",
        f"{people[0]},2022,360,success,",
        f"{people[1]},2023,360,maybe,",
        f"{people[2]},2023,abc,success,",
    ]
    report = import_deductions(engine, policies["huian-2023"], write(tmp_path, rows), actor="tax")
    assert report.applied == 0
    assert [r.line for r in report.rejected] == [2, 3, 4, 5]
    assert "3505211999" not in report.rejected[0].reason  # the ID number is masked


def test_a_file_without_the_columns_is_refused(
    engine: Engine, policies: dict[str, Policy], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("who,what\n1,2\n", encoding="utf-8")
    with pytest.raises(DeductionFileError):
        import_deductions(engine, policies["huian-2023"], path, actor="tax")


def test_amounts_are_checked_against_the_amount_due(
    engine: Engine, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    # huian.txt:17 个人缴费为360元/人: a deduction of another amount is not a payment of the year
    rows = [f"{people[0]},2023,300,success,", f"{people[1]},2023,360.00,success,"]
    report = import_deductions(engine, policies["huian-2023"], write(tmp_path, rows), actor="tax")
    assert report.applied == 1
    [(line, reason)] = [(r.line, r.reason) for r in report.rejected]
    assert line == 2 and "the amount due is 360.00 yuan, got 300.00" in reason


def test_a_gbk_file_is_read_and_chinese_results_understood(
    engine: Engine, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "gbk.csv"
    text = HEADER + f"{people[0]},2023,360,成功,\n{people[1]},2023,360,失败,账户状态异常\n"
    path.write_bytes(text.encode("gbk"))
    report = import_deductions(engine, policies["huian-2023"], path, actor="tax")
    assert (report.applied, report.rejected) == (2, [])


def test_deductions_after_the_period_are_refused(
    engine: Engine, clock: object, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    clock.set(datetime(2023, 1, 2, 2, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    report = import_deductions(
        engine,
        policies["huian-2023"],
        write(tmp_path, [f"{people[0]},2023,360,success,"]),
        actor="tax",
    )
    assert report.applied == 0
    assert "outside the payment period" in report.rejected[0].reason


PAID_AT_HEADER = "id_number,policy_year,amount,result,reason,paid_at\n"


def test_a_second_failure_on_a_later_run_is_unchanged_and_named_masked(
    engine: Engine, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    first = tmp_path / "run1.csv"
    first.write_text(
        PAID_AT_HEADER + f"{people[0]},2023,360,失败,余额不足,2022-10-01T08:00:00+08:00\n",
        encoding="utf-8",
    )
    second = tmp_path / "run2.csv"
    second.write_text(
        PAID_AT_HEADER + f"{people[0]},2023,360,失败,账户状态异常,2022-10-08T08:00:00+08:00\n",
        encoding="utf-8",
    )
    assert import_deductions(engine, policies["huian-2023"], first, actor="tax").applied == 1
    again = import_deductions(engine, policies["huian-2023"], second, actor="tax")
    assert (again.applied, again.unchanged, again.rejected) == (0, 1, [])
    state = queries.by_business_key(engine.db, "enrollment", f"{people[0]}:huian-2023")[0][1]
    assert state == "deduction_failed"


def test_a_deduction_made_in_the_period_counts_when_its_result_comes_after_the_lapse(
    engine: Engine, clock: object, policies: dict[str, Policy], people: list[str], tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from engine.timers import TimerSweep

    clock.set(datetime(2023, 1, 2, 2, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    TimerSweep(engine).sweep(datetime(2023, 1, 2, 2, 0, tzinfo=UTC))  # the year lapses
    key = f"{people[0]}:huian-2023"
    assert queries.by_business_key(engine.db, "enrollment", key)[0][1] == "lapsed"
    late = tmp_path / "late.csv"
    late.write_text(
        PAID_AT_HEADER
        + f"{people[0]},2023,360,成功,,2022-12-30T10:00:00+08:00\n"  # deducted in the period
        + f"{people[1]},2023,360,成功,,2023-01-01T10:00:00+08:00\n",  # deducted after it
        encoding="utf-8",
    )
    report = import_deductions(engine, policies["huian-2023"], late, actor="tax")
    assert report.applied == 1
    assert [r.line for r in report.rejected] == [3]
    assert queries.by_business_key(engine.db, "enrollment", key)[0][1] == "deducted"
