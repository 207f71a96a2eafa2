"""History retention as the operator meets it: the card process keeps an ended card for ten
years; `shebao history due|cleanup` and the process page say what is past it, the cleanup
removes it (archived first), and the scheduler runs it only inside its window (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from staff_login import client_for
from support import MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from engine.retention import Window, read_archive
from web.app import engine_of
from web.cli.main import main
from web.scheduling import cleanup_window, make_scheduler
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(clock, staff=[("boss", "supervisor", None)])


def ended_card(app: Flask, n: int) -> int:
    """A card cancelled and its bank account closed: the card process's end."""
    card = counter_card(
        app,
        make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11),
        events=("cancel", "close_bank_account"),
    )
    return card.instance_id


def test_ended_cards_past_ten_years_are_listed_then_removed_and_archived(
    app: Flask, clock: SimulatedClock, tmp_path: Path
) -> None:
    ended = [ended_card(app, n) for n in range(3)]
    runner = app.test_cli_runner()
    assert "due=0" in runner.invoke(main, ["history", "due"]).output
    clock.advance(timedelta(days=3651))
    due = runner.invoke(main, ["history", "due"])
    assert "card\tttl=P3650D\tdue=3" in due.output
    page = client_for(app, "boss").get("/processes/card").get_data(as_text=True)
    assert "3650 天" in page and "已超期待清理 3" in page
    dry = runner.invoke(main, ["history", "cleanup", "--dry-run"])
    assert '"instances": 3' in dry.output and queries.instance(engine_of(app).db, ended[0])
    done = runner.invoke(main, ["history", "cleanup", "--archive", str(tmp_path / "archive")])
    assert done.exit_code == 0, done.output
    assert '"instances": 3' in done.output and '"archived": 3' in done.output
    assert all(queries.instance(engine_of(app).db, iid) is None for iid in ended)
    (archive,) = (tmp_path / "archive").iterdir()
    assert sorted(item["id"] for item in read_archive(archive)) == ended


def test_the_scheduler_cleans_only_inside_its_window(app: Flask) -> None:
    assert cleanup_window({"SHEBAO_HISTORY_CLEANUP_WINDOW": "off"}) is None
    window = cleanup_window({})
    assert window is not None
    assert window.contains(datetime(2026, 1, 1, 18, 30, tzinfo=UTC))  # 02:30 in Shanghai
    assert not window.contains(datetime(2026, 1, 1, 6, 0, tzinfo=UTC))  # 14:00 in Shanghai
    overnight = Window.parse("23:00-02:00", UTC)
    assert overnight.contains(datetime(2026, 1, 1, 23, 30, tzinfo=UTC))
    assert overnight.contains(datetime(2026, 1, 2, 1, 30, tzinfo=UTC))
    assert not overnight.contains(datetime(2026, 1, 2, 12, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="01:00-05:00"):
        Window.parse("at night", UTC)
    scheduler = make_scheduler(app, blocking=False)
    jobs = {job.id for job in scheduler.apscheduler.get_jobs()}
    assert "shebao-history-cleanup" in jobs
    scheduler.cleanup_window = Window.parse("00:00-00:00", UTC)  # never open
    assert scheduler.clean() is None
    scheduler.cleanup_window = None
    assert scheduler.clean().instances == 0  # open: runs (nothing is due)
