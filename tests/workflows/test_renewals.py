"""Automatic renewal (默认续保) when a payment period opens, fired by the scheduler.

huian.txt:29 在我市参加过城乡居民基本医保且参保状态正常的群众...由医保信息系统默认续保登记.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from engine import queries
from engine.clock import SimulatedClock
from engine.runtime import Engine
from engine.scheduler import run_once
from web.config import PROJECT_ROOT
from web.wiring import build_engine
from workflows.identity import make_id_number
from workflows.payments import Person, open_renewals, pay_enrollment
from workflows.policy import load_policies

CST = ZoneInfo("Asia/Shanghai")


def shifted(day: date) -> date:
    return day.replace(year=day.year + 1)


@pytest.fixture
def policies_dir(tmp_path: Path) -> Path:
    """The shipped policies plus a Hui'an 2024 that renews from 2023 (dates a year later)."""
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "definitions" / "policies", folder)
    data = yaml.safe_load((folder / "huian-2023.yaml").read_text(encoding="utf-8"))
    data.update(policy="huian-2024", year=2024, renews_from="huian-2023")
    period, late = data["payment_period"], data["late_payment"]
    period.update(start=shifted(period["start"]), end=shifted(period["end"]))
    late["until"] = shifted(late["until"])
    for rule in late["rules"]:
        rule["from"] = shifted(rule["from"])
    (folder / "huian-2024.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return folder


@pytest.fixture
def engine(sqlite_url: str, policies_dir: Path) -> Iterator[Engine]:
    clock = SimulatedClock(datetime(2022, 10, 1, tzinfo=UTC))
    eng = build_engine(sqlite_url, str(PROJECT_ROOT / "definitions"), str(policies_dir), clock)
    yield eng
    eng.db.dispose()


def test_renewals_open_when_the_period_begins_for_paid_people_only(
    engine: Engine, policies_dir: Path
) -> None:
    policies = load_policies(policies_dir)
    huian_2023 = policies["huian-2023"]
    paid, late, unpaid = (make_id_number("350521", date(1970, 1, 1 + i), 1 + i) for i in range(3))
    open_renewals(engine, huian_2023, [Person(p, "huian") for p in (paid, late, unpaid)])
    years = {
        p: queries.by_business_key(engine.db, "enrollment", f"{p}:huian-2023")[0][0]
        for p in (paid, late, unpaid)
    }
    pay_enrollment(
        engine,
        huian_2023,
        years[paid],
        amount="360",
        actor="app",
        paid_at=datetime(2022, 10, 2, 10, tzinfo=CST),
    )
    pay_enrollment(
        engine,
        huian_2023,
        years[late],
        amount="360",
        actor="app",
        paid_at=datetime(2023, 1, 15, 10, tzinfo=CST),
    )

    run_once(engine, datetime(2023, 8, 31, 23, 59, tzinfo=CST))  # the 2024 period is not open
    assert queries.by_business_key(engine.db, "enrollment", f"{paid}:huian-2024") == []

    run_once(engine, datetime(2023, 9, 1, 0, 1, tzinfo=CST))
    renewed = {
        p: queries.by_business_key(engine.db, "enrollment", f"{p}:huian-2024")
        for p in (paid, late, unpaid)
    }
    assert [state for _, state in renewed[paid]] == ["renewal_pending"]
    assert [state for _, state in renewed[late]] == ["renewal_pending"]
    assert renewed[unpaid] == []  # the 2023 year lapsed: not in good standing
    [(new_year, _)] = renewed[paid]
    [timer] = queries.timers_of(engine.db, new_year, "pending")
    assert (timer["event"], timer["due_at"]) == ("lapse", datetime(2024, 1, 1, tzinfo=CST))

    run_once(engine, datetime(2023, 9, 2, tzinfo=CST))  # once per policy: nothing more
    assert len(queries.by_business_key(engine.db, "enrollment", f"{paid}:huian-2024")) == 1
