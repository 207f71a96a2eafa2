"""The set-based deduction import against the row-by-row reference: the same rows, the same report.

One rule path: a file imported set-based (``import_deductions``) must leave exactly what firing the
engine once per row (``import_deductions_row_by_row``) leaves: instances (state, version,
variables), history (with its data), timers, tasks, notices and idempotency keys, and report the
same applied, unchanged and rejected rows. Run on SQLite and (marked ``postgres``) PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from engine.clock import SimulatedClock
from engine.models import Base
from engine.runtime import Engine
from web.config import PROJECT_ROOT
from web.models import WebBase
from web.wiring import Service, build_service
from workflows.deduction_rows import ALREADY_LAPSED, ALREADY_PAID, ImportReport
from workflows.deductions import import_deductions, import_deductions_row_by_row
from workflows.identity import make_id_number
from workflows.payments import open_renewals
from workflows.policy import Policy

HEADER = "id_number,policy_year,amount,result,reason\n"
POLICY = "huian-2023"
TABLES = ("wf_instance", "wf_history", "wf_timer", "wf_task", "wf_notice", "wf_idempotency_key")
NOW = datetime(2022, 10, 10, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Service]]:
    """Builds a service over an empty migrated database, a new one at each call."""
    built: list[Service] = []

    def make() -> Service:
        if request.param == "sqlite":
            path = tmp_path / f"db{len(built)}.db"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("postgres_migrated")
            for service in built:
                service.engine.db.dispose()
            _truncate(url)
        service = build_service(
            url,
            str(PROJECT_ROOT / "definitions"),
            str(PROJECT_ROOT / "definitions" / "policies"),
            clock=SimulatedClock(NOW),
        )
        built.append(service)
        return service

    yield make
    for service in built:
        service.engine.db.dispose()


def _truncate(url: str) -> None:
    names = [t.name for m in (Base.metadata, WebBase.metadata) for t in m.sorted_tables]
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    db.dispose()


def people() -> list[str]:
    return [make_id_number("350521", date(1960 + i, 1, 1), 1 + i) for i in range(12)]


def seed(engine: Engine, policy: Policy) -> None:
    """Twelve renewed Hui'an 2023 years; one already paid (``pay``), one lapsed."""
    numbers = people()
    open_renewals(engine, policy, [{"id_number": n, "region": "huian"} for n in numbers])
    with engine.db.connect() as conn:
        ids = dict(conn.execute(text("SELECT business_key, id FROM wf_instance")).all())
    paid = ids[f"{numbers[8]}:{POLICY}"]
    engine.fire(paid, "pay", actor="app", data={"amount": "360", "payer_kind": "self"})
    engine.fire(ids[f"{numbers[9]}:{POLICY}"], "lapse", actor="scheduler")


def deduction_file(tmp_path: Path) -> Path:
    n = people()
    bad_digit = n[0][:-1] + ("0" if n[0][-1] != "0" else "1")
    stranger = make_id_number("350521", date(1999, 9, 9), 99)
    rows = [
        f"{n[0]},2023,360,success,",
        f"{n[1]},2023,0,failed,余额不足",
        f"{n[2]},2023,360,success,",
        f"{n[2]},2023,360,success,",  # the same row twice: the second is a replay
        f"{n[3]},2023,0,failed,账户状态异常",
        f"{n[3]},2023,360,success,",  # failed, then deducted: both apply, in order
        f"{bad_digit},2023,360,success,",  # bad check digit
        f"{stranger},2023,360,success,",  # no enrollment
        f"{n[4]},2022,360,success,",  # wrong policy year
        f"{n[5]},2023,360,maybe,",  # unknown result
        f"{n[6]},2023,300,success,",  # not the amount due: the guard refuses
        f"{n[7]},2023,abc,success,",  # not an amount: the field refuses
        f"{n[8]},2023,360,success,",  # paid by the person already: a second payment, rejected
        f"{n[8]},2023,0,failed,",  # paid already: a late failure, unchanged
        f"{n[9]},2023,0,failed,",  # lapsed: a late failure, unchanged
        f"{n[9]},2023,360,success,",  # lapsed, deducted in the period (the clock's): counts
        f"{n[10]},2023,360,success,",
        f"{n[10]},2023,360,success,reason differs",  # same key, another request: a conflict
        f"{n[11]},2023,0,failed,",
        f"{n[11]},2023,0,failed,",
        f"{n[8]},2023,abc,failed,",  # paid already, but malformed: rejected all the same
    ]
    path = tmp_path / "deductions.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _normal(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the engine's tables, ids of appended rows left out, in a stable order."""
    found = {}
    with engine.db.connect() as conn:
        for name in TABLES:
            table = Base.metadata.tables[name]
            columns = [c for c in table.columns if name == "wf_instance" or c.name != "id"]
            rows = conn.execute(select(*columns)).all()
            found[name] = sorted(
                tuple(json.dumps(_normal(v), sort_keys=True, default=str) for v in r) for r in rows
            )
    return found


def summary(
    report: ImportReport,
) -> tuple[int, int, list[tuple[int, str]], dict[str, int]]:
    rejected = [(r.line, r.reason) for r in report.rejected]
    return report.applied, report.unchanged, rejected, report.why_unchanged


@pytest.mark.parametrize("chunk", [3, 5000])
def test_set_based_import_writes_what_firing_row_by_row_writes(
    fresh: Callable[[], Service], policies: dict[str, Policy], tmp_path: Path, chunk: int
) -> None:
    policy = policies[POLICY]
    path = deduction_file(tmp_path)
    outcomes = []
    for run in ("reference", "set"):
        service = fresh()
        engine = service.engine
        seed(engine, policy)
        reports, written = [], []
        for _ in range(2):  # the same file twice: the second time changes nothing
            if run == "reference":
                reports.append(import_deductions_row_by_row(engine, policy, path, actor="tax"))
            else:
                reports.append(import_deductions(engine, policy, path, actor="tax", chunk=chunk))
            written.append(contents(engine))
        assert written[0] == written[1], run
        outcomes.append(([summary(r) for r in reports], written[1]))
    (reference_reports, reference_rows), (set_reports, set_rows) = outcomes
    assert set_reports == reference_reports
    for name in TABLES:
        assert set_rows[name] == reference_rows[name], name
    first, second = reference_reports
    # applied: n0 n1 n2 n3 (twice) n9 n10 n11; unchanged: n2 n11 again, n8's and n9's late
    # failures (n9's year lapsed, then was deducted: on the second run it is paid)
    assert first[:2] == (8, 4)
    assert second[:2] == (0, 12)  # everything applied before replays
    assert [line for line, _ in first[2]] == [8, 9, 10, 11, 12, 13, 14, 19, 22]
    # the event in words, not its internal name (enrollment.fail_deduction)
    assert "the data sent for “Batch deduction failed” is not valid" in dict(first[2])[22]
    assert "duplicate payment, refund needed" in dict(first[2])[14]
    assert second[2] == first[2]
    assert first[3] == {ALREADY_PAID: 1, ALREADY_LAPSED: 1}
    assert second[3] == {ALREADY_PAID: 2}


def test_a_rehearsed_import_reports_the_same_and_leaves_nothing(
    fresh: Callable[[], Service], policies: dict[str, Policy], tmp_path: Path
) -> None:
    """A dry run (``Engine.rehearsal``: every chunk a savepoint of one transaction, so on
    PostgreSQL the chunks run in turn, not overlapped) reports what the import then does."""
    policy = policies[POLICY]
    path = deduction_file(tmp_path)
    engine = fresh().engine
    seed(engine, policy)
    before = contents(engine)
    with engine.rehearsal():
        rehearsed = import_deductions(engine, policy, path, actor="tax", chunk=3)
    assert contents(engine) == before
    done = import_deductions(engine, policy, path, actor="tax", chunk=3)
    assert summary(rehearsed) == summary(done)
    assert contents(engine) != before
