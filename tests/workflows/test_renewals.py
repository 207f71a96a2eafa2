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
from engine.scheduler import run_once
from web.config import PROJECT_ROOT
from web.wiring import Service, build_service
from workflows.identity import make_id_number
from workflows.imports import import_people
from workflows.payments import PaymentRequest, open_renewals, pay_enrollment

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
def service(sqlite_url: str, policies_dir: Path) -> Iterator[Service]:
    clock = SimulatedClock(datetime(2022, 10, 1, tzinfo=UTC))
    built = build_service(sqlite_url, str(PROJECT_ROOT / "definitions"), str(policies_dir), clock)
    yield built
    built.engine.db.dispose()


def test_renewals_open_when_the_period_begins_for_insured_people_in_good_standing(
    service: Service,
) -> None:
    engine, domain = service.engine, service.domain
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    huian_2023 = domain.regions.policy("huian-2023")
    assert huian_2023 is not None
    paid, late, unpaid, left = (
        make_id_number("350521", date(1970, 1, 1 + i), 1 + i) for i in range(4)
    )
    rows = [
        (i, {"id_number": p, "name": "居民", "region": "huian"})
        for i, p in enumerate((paid, late, unpaid, left))
    ]
    assert import_people(engine, domain, rows, actor="import").count("applied") == 4
    open_renewals(
        engine,
        huian_2023,
        [{"id_number": p, "region": "huian"} for p in (paid, late, unpaid, left)],
    )
    years = {
        p: queries.by_business_key(engine.db, "enrollment", f"{p}:huian-2023")[0][0]
        for p in (paid, late, unpaid, left)
    }
    clock.set(datetime(2022, 10, 2, 10, tzinfo=CST))
    for person in (paid, left):
        pay_enrollment(engine, domain, years[person], PaymentRequest("360"), actor="app")
    clock.set(datetime(2023, 1, 15, 10, tzinfo=CST))
    pay_enrollment(engine, domain, years[late], PaymentRequest("360"), actor="app")
    # a person who left the scheme (moved away) is not renewed, paid or not
    [(record, _)] = queries.by_business_key(engine.db, "person", left)
    engine.fire(record, "leave_scheme", data={"reason": "迁出"})

    run_once(engine, datetime(2023, 8, 31, 23, 59, tzinfo=CST))  # the 2024 period is not open
    assert queries.by_business_key(engine.db, "enrollment", f"{paid}:huian-2024") == []

    run_once(engine, datetime(2023, 9, 1, 0, 1, tzinfo=CST))
    renewed = {
        p: queries.by_business_key(engine.db, "enrollment", f"{p}:huian-2024")
        for p in (paid, late, unpaid, left)
    }
    assert [state for _, state in renewed[paid]] == ["renewal_pending"]
    assert [state for _, state in renewed[late]] == ["renewal_pending"]
    assert renewed[unpaid] == []  # the 2023 year lapsed: not in good standing
    assert renewed[left] == []
    [(new_year, _)] = renewed[paid]
    [timer] = queries.timers_of(engine.db, new_year, "pending")
    assert (timer["event"], timer["due_at"]) == ("lapse", datetime(2024, 1, 1, tzinfo=CST))

    run_once(engine, datetime(2023, 9, 2, tzinfo=CST))  # once per policy: nothing more
    assert len(queries.by_business_key(engine.db, "enrollment", f"{paid}:huian-2024")) == 1


def test_a_scheduler_down_when_the_period_began_renews_at_its_next_tick(service: Service) -> None:
    engine, domain = service.engine, service.domain
    person = make_id_number("350521", date(1980, 2, 2), 5)
    import_people(
        engine, domain, [(2, {"id_number": person, "name": "甲", "region": "huian"})], actor="i"
    )
    huian_2023 = domain.regions.policy("huian-2023")
    assert huian_2023 is not None
    open_renewals(engine, huian_2023, [{"id_number": person, "region": "huian"}])
    [(year, _)] = queries.by_business_key(engine.db, "enrollment", f"{person}:huian-2023")
    pay_enrollment(engine, domain, year, PaymentRequest("360"), actor="app")
    # nothing ran on 2023-09-01; the first tick is on 2023-10-20, still inside the period
    run_once(engine, datetime(2023, 10, 20, 9, tzinfo=CST))
    assert [
        s for _, s in queries.by_business_key(engine.db, "enrollment", f"{person}:huian-2024")
    ] == ["renewal_pending"]
