"""A scheduler killed with ``kill -9`` (QA A#3): ``shebao schedulers`` marks it stale once its
heartbeat is older than ``SHEBAO_SCHEDULER_STALE_SECONDS`` (the threshold ``/readyz`` uses), the
metrics count it as stale and leave it out of the per-scheduler heartbeat age (an alert on the age
of live schedulers does not fire for a day after a crash), and ``shebao schedulers forget``
removes it at once; a live scheduler is never forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from support import MakeApp

from engine.clock import SimulatedClock
from engine.heartbeat import SCHEDULERS, Heartbeat
from web.app import engine_of
from web.cli.main import main

NOW = datetime(2022, 3, 16, 1, tzinfo=UTC)
KILLED = "vm:20760:260328"
LIVE = "vm:20800:aa11bb"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(SimulatedClock(NOW))
    db = engine_of(app).db
    killed_at = datetime.now(UTC) - timedelta(seconds=636)
    with db.begin() as conn:
        conn.execute(
            insert(SCHEDULERS).values(
                name=KILLED, host="vm", pid=20760, started_at=killed_at, heartbeat_at=killed_at
            )
        )
    Heartbeat(db, LIVE).beat({"interval_s": 30})
    return app


def listing(app: Flask) -> dict[str, str]:
    shown = app.test_cli_runner().invoke(main, args=["schedulers"])
    assert shown.exit_code == 0, shown.output
    return {line.split("\t")[0]: line for line in shown.stdout.splitlines()}


def heartbeat_families(app: Flask) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    return {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        if family.name in ("shebao_schedulers", "shebao_scheduler_heartbeat_age_seconds")
    }


def test_the_listing_marks_a_killed_scheduler_stale(app: Flask) -> None:
    rows = listing(app)
    assert rows[KILLED].endswith("\tstale") and "last beat 63" in rows[KILLED]
    assert rows[LIVE].endswith("\tlive")
    shown = app.test_cli_runner().invoke(main, args=["schedulers"])
    assert "1 stale scheduler(s)" in shown.stderr and "forget --stale" in shown.stderr
    app.config["SHEBAO_SCHEDULER_STALE_SECONDS"] = "900"  # the threshold /readyz uses
    assert listing(app)[KILLED].endswith("\tlive")


def test_the_metrics_leave_a_stale_scheduler_out_of_the_age_series(app: Flask) -> None:
    found = heartbeat_families(app)
    ages = found["shebao_scheduler_heartbeat_age_seconds"]
    assert list(ages) == [(("scheduler", LIVE),)] and ages[(("scheduler", LIVE),)] < 60
    states = found["shebao_schedulers"]
    assert states == {(("state", "live"),): 1, (("state", "stale"),): 1}


def test_forget_removes_stale_schedulers_and_keeps_live_ones(app: Flask) -> None:
    cli = app.test_cli_runner()
    assert cli.invoke(main, args=["schedulers", "forget"]).exit_code == 2
    kept = cli.invoke(main, args=["schedulers", "forget", LIVE])
    assert kept.exit_code == 1 and LIVE in kept.output
    gone = cli.invoke(main, args=["schedulers", "forget", "--stale"])
    assert gone.exit_code == 0 and f"forgot {KILLED}" in gone.output
    assert list(listing(app)) == [LIVE]
    found = heartbeat_families(app)
    assert found["shebao_schedulers"] == {(("state", "live"),): 1, (("state", "stale"),): 0}
