"""The demo is a simulation: every state it shows was reached by the service's rules on a simulated
clock, the timeline agrees with the policies at the demo date, and every group of staff has work.

States are named through the definitions (an event's target, a tag), as the code does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.clock import SimulatedClock
from engine.runtime import Engine
from engine.scheduler import run_once
from engine.statements import history, instances, tasks, timers
from web.config import PROJECT_ROOT
from web.wiring import build_service
from workflows.demo import DEMO_AT, DemoSummary, seed_demo
from workflows.domain import Domain

CST = timezone(timedelta(hours=8))
PEOPLE = 120


@dataclass
class Seeded:
    engine: Engine
    domain: Domain
    summary: DemoSummary


def _seed(path: Path, template: Path, seed: int = 2022) -> Seeded:
    shutil.copy(template, path)
    service = build_service(
        f"sqlite:///{path}",
        str(PROJECT_ROOT / "definitions"),
        str(PROJECT_ROOT / "definitions" / "policies"),
        clock=SimulatedClock(DEMO_AT),
    )
    summary = seed_demo(service.engine, service.domain, people=PEOPLE, seed=seed)
    return Seeded(service.engine, service.domain, summary)


@pytest.fixture(scope="module")
def demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One seeded demo shared by the read-only tests of this module."""
    seeded = _seed(tmp_path_factory.mktemp("demo") / "demo.db", sqlite_template)
    yield seeded
    seeded.engine.db.dispose()


@pytest.fixture
def fresh_demo(sqlite_template: Path, tmp_path: Path) -> Iterator[Seeded]:
    """A seeded demo of the test's own (for tests that move on from the demo date)."""
    seeded = _seed(tmp_path / "demo.db", sqlite_template)
    yield seeded
    seeded.engine.db.dispose()


def _rows(engine: Engine, query: Any) -> list[Any]:
    with engine.db.connect() as conn:
        return list(conn.execute(query).all())


def _years(engine: Engine, policy: str | None = None) -> list[Any]:
    query = select(instances).where(instances.c.process == "enrollment")
    if policy is not None:
        query = query.where(instances.c.business_key.like(f"%:{policy}"))
    return _rows(engine, query.order_by(instances.c.id))


def _open_tasks(engine: Engine) -> list[Any]:
    return _rows(engine, select(tasks).where(tasks.c.status == "open"))


def test_the_summary_describes_the_demo_date(demo: Seeded) -> None:
    summary = demo.summary
    assert summary.at == DEMO_AT
    assert summary.people == PEOPLE
    assert summary.cards >= PEOPLE * 0.9
    assert summary.enrollments > PEOPLE
    assert summary.refused == ()  # the storyline only asks for what the rules allow
    assert summary.regions == tuple(region.key for region in demo.domain.regions)
    assert "2022-02-15" in summary.lines()[0]


def test_every_candidate_group_has_open_tasks_in_every_scope(demo: Seeded) -> None:
    engine, summary = demo.engine, demo.summary
    groups = {
        spec.task.candidate_group
        for definition in engine.processes.values()
        for spec in definition.states.values()
        if spec.task is not None
    }
    found = _open_tasks(engine)
    assert groups <= {t.candidate_group for t in found}
    by_scope = {(t.candidate_group, t.scope, t.name) for t in found}
    for region in demo.domain.regions:
        for group in ("medical_insurance_clerk", "social_security_clerk"):
            assert any(g == group and s == region.key for g, s, _ in by_scope), (group, region)
    # tellers of every demo bank: a card to activate and a bank account to close
    assert summary.banks
    for bank in summary.banks:
        names = {n for g, s, n in by_scope if g == "bank_teller" and s == bank}
        assert {"activate_card", "close_bank_account"} <= names, bank
    # medical-insurance clerks: registrations to check, and Foshan's refunds to review
    names = {n for g, _, n in by_scope if g == "medical_insurance_clerk"}
    assert {"verify_residence", "review_refund"} <= names
    assert summary.open_tasks["bank_teller"] and summary.open_tasks["social_security_clerk"]


def test_nothing_happened_after_the_demo_date(demo: Seeded) -> None:
    latest = _rows(
        demo.engine, select(history.c.occurred_at).order_by(history.c.occurred_at.desc())
    )
    assert latest[0].occurred_at <= DEMO_AT
    # and every timer due by the demo date was fired by the sweep (none is left behind)
    overdue = _rows(
        demo.engine,
        select(timers.c.id).where(timers.c.status == "pending", timers.c.due_at <= DEMO_AT),
    )
    assert overdue == []


def test_foshan_2022_is_open_at_the_demo_date_and_lapses_when_its_period_ends(
    fresh_demo: Seeded,
) -> None:
    engine = fresh_demo.engine
    definition = engine.definition("enrollment")
    lapsed = definition.events["lapse"].target
    payable = set(definition.tagged("payable"))
    years = _years(engine, "foshan-2022")
    assert years and all(y.state != lapsed for y in years)
    unpaid = {y.id for y in years if y.state in payable}
    assert unpaid, "some Foshan people have not paid yet on 2022-02-15"

    run_once(engine, datetime(2022, 3, 1, 0, 0, tzinfo=CST))

    after = {y.id: y.state for y in _years(engine, "foshan-2022")}
    assert {after[i] for i in unpaid} == {lapsed}
    assert not any(state in payable for state in after.values())


def test_every_paid_year_has_its_payment(demo: Seeded) -> None:
    paid = set(demo.engine.definition("enrollment").tagged("paid"))
    years = [y for y in _years(demo.engine) if y.state in paid]
    assert len(years) > PEOPLE / 2
    kinds = set()
    for year in years:
        payment = year.variables["payment"]
        assert Decimal(payment["amount"]) >= 0 and payment["paid_at"]
        if payment["payer_kind"] == "medical_assistance":  # the fund paid it all: no payer
            assert Decimal(payment["amount"]) == 0 and payment["payer_id_number"] is None
            continue
        assert payment["payer_id_number"]
        kinds.add(payment["payer_kind"])
        if payment["payer_kind"] != "self":
            assert payment["payer_id_number"] != year.variables["id_number"]
    assert "self" in kinds


def test_huian_2022_has_paid_late_and_lapsed_people(demo: Seeded) -> None:
    definition = demo.engine.definition("enrollment")
    states = {y.state for y in _years(demo.engine, "huian-2022")}
    events = definition.events
    assert {events["deduct"].target, events["pay_late"].target, events["lapse"].target} <= states
    assert _years(demo.engine, "huian-2023") == []  # its period opens after the demo date


def test_renewals_and_every_date_agree_with_the_policies(demo: Seeded) -> None:
    engine, domain = demo.engine, demo.domain
    renewal = set(engine.definition("enrollment").tagged("renewal"))
    foshan = _years(engine, "foshan-2022")
    assert any(y.state in renewal for y in foshan), "renewals waiting for payment"
    for year in _years(engine):
        policy = domain.regions.policy(year.variables["policy"])
        assert policy is not None
        opens = policy.date_value("payment_period.start")
        closes = (
            policy.date_value("late_payment.until")
            if policy.late_payment.accepted
            else policy.deadline_instant()
        )
        assert opens <= year.created_at < closes, (year.business_key, year.created_at)
        payment = year.variables.get("payment")
        if payment:
            paid_at = datetime.fromisoformat(payment["paid_at"])
            assert policy.is_within_period(paid_at) or policy.late_payment_accepted(paid_at)


def test_the_same_seed_gives_the_same_data(
    demo: Seeded, sqlite_template: Path, tmp_path: Path
) -> None:
    again = _seed(tmp_path / "again.db", sqlite_template)
    try:
        assert _dump(again.engine) == _dump(demo.engine)
        assert again.summary.open_tasks == demo.summary.open_tasks
    finally:
        again.engine.db.dispose()


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    def rows(table: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in _rows(engine, select(table).order_by(table.c.id))]

    return {t.name: rows(t) for t in (instances, history, tasks, timers)}
