"""History retention: finished instances past their process's ``history_ttl`` go, with their
history, tasks, timers, notices and incidents, in chunks, archived first when asked (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.errors import DefinitionError
from engine.models import History, Incident, Instance, Notice, Task, Timer
from engine.registry import Registry
from engine.retention import HistoryCleanup, due_counts, read_archive
from engine.runtime import Engine

ERRAND = """
process: errand
version: 1
label: {zh: 事项, en: Errand}
history_ttl: P30D
initial: open
states:
  open:
    label: {zh: 办理中, en: Open}
    task: {name: do_it, candidate_group: clerk}
    timers:
      - {after: P7D, event: remind}
  done:
    label: {zh: 已办结, en: Done}
    final: true
events:
  remind: {label: {zh: 提醒, en: Remind}, from: open, to: open}
  finish:
    label: {zh: 办结, en: Finish}
    from: open
    to: done
    notices:
      - kind: finished
        to: {variable: person}
        text: {zh: 已办结, en: Done}
"""

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    definition = parse_definition(yaml.safe_load(ERRAND), "errand.yaml", Registry())
    eng = Engine(make_engine(db_url), [definition], Registry(), clock=SimulatedClock(START))
    yield eng
    eng.db.dispose()


def errands(engine: Engine, n: int, finish: bool) -> list[int]:
    ids = [engine.start("errand", variables={"person": f"p{i}"}).instance_id for i in range(n)]
    if finish:
        for iid in ids:
            engine.fire(iid, "finish", actor="clerk")
    return ids


def rows(engine: Engine, model: Any, ids: list[int]) -> int:
    table = model.__table__
    with engine.db.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.instance_id.in_(ids))
            ).scalar_one()
        )


def instances_left(engine: Engine, ids: list[int]) -> int:
    table = Instance.__table__
    with engine.db.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.id.in_(ids))
            ).scalar_one()
        )


def test_finished_instances_past_their_time_to_live_go_with_everything_theirs(
    engine: Engine, tmp_path: Path
) -> None:
    old = errands(engine, 25, finish=True)
    running = errands(engine, 5, finish=False)
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(timedelta(days=20))
    recent = errands(engine, 4, finish=True)
    assert rows(engine, Notice, old) == 25 and rows(engine, Task, old) == 25
    clock.advance(timedelta(days=11))  # the old ones ended 31 days ago, the recent ones 11
    assert due_counts(engine, clock.now()) == {"errand": 25}
    cleanup = HistoryCleanup(engine, chunk=10, archive=tmp_path / "archive")
    planned = cleanup.dry_run()
    assert (planned.instances, planned.history) == (25, 50)
    assert instances_left(engine, old) == 25  # a dry run changes nothing
    report = cleanup.run_once()
    assert (report.instances, report.history) == (25, 50) and report.chunks >= 2
    assert report.archived == 25 and report.max_lock_ms > 0
    assert instances_left(engine, old) == 0
    for model in (History, Task, Timer, Notice, Incident):
        assert rows(engine, model, old) == 0, model
    assert instances_left(engine, running + recent) == 9  # running or too recent: kept
    assert rows(engine, History, recent) == 8
    (archive,) = (tmp_path / "archive").iterdir()
    kept = read_archive(archive)
    assert sorted(item["id"] for item in kept) == old
    assert [step["event"] for step in kept[0]["history"]] == ["start", "finish"]
    assert cleanup.run_once().instances == 0  # nothing more is due


def test_the_chunk_shrinks_to_keep_each_transaction_under_the_bound(engine: Engine) -> None:
    errands(engine, 30, finish=True)
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(timedelta(days=31))
    cleanup = HistoryCleanup(engine, chunk=16, max_lock=timedelta(microseconds=1))
    report = cleanup.run_once()
    assert report.instances == 30
    assert cleanup.chunk == 10  # halved after each chunk down to the smallest


def test_a_budget_stops_the_run_and_the_next_run_goes_on(engine: Engine) -> None:
    ids = errands(engine, 12, finish=True)
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.advance(timedelta(days=31))
    cleanup = HistoryCleanup(engine, chunk=5, budget=timedelta(0))
    assert cleanup.run_once().instances == 5  # one chunk, then the budget is spent
    cleanup.budget = None
    assert cleanup.run_once().instances == 7
    assert instances_left(engine, ids) == 0


def test_a_process_without_a_time_to_live_keeps_everything(db_url: str) -> None:
    text = ERRAND.replace("history_ttl: P30D\n", "")
    definition = parse_definition(yaml.safe_load(text), "errand.yaml", Registry())
    engine = Engine(make_engine(db_url), [definition], Registry(), clock=SimulatedClock(START))
    ids = errands(engine, 3, finish=True)
    assert HistoryCleanup(engine).run_once(START + timedelta(days=10_000)).instances == 0
    assert instances_left(engine, ids) == 3
    engine.db.dispose()


@pytest.mark.parametrize("ttl", ["P1Y", "PT12H", "P0D", "soon"])
def test_a_time_to_live_is_whole_days(ttl: str) -> None:
    text = ERRAND.replace("history_ttl: P30D", f"history_ttl: {ttl}")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(yaml.safe_load(text), "errand.yaml", Registry())
    assert caught.value.key == "history_ttl"
