"""Real ``shebao scheduler`` processes on PostgreSQL: shared work, exactly once, SIGKILL mid-sweep.

The database is the suite's PostgreSQL (``SHEBAO_TEST_POSTGRES_URL``, migrated by the
``postgres_migrated`` fixture of ``tests/conftest.py``), emptied before each test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from benchmarks.deadline_sweep import DUE, seed_due_enrollments
from engine.db import make_engine

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SHEBAO = Path(sys.executable).with_name("shebao")
AFTER = "2023-01-01T01:00:00+08:00"  # an hour after Hui'an 2023's payment period ended
APP_NAME = "shebao-test-scheduler"  # libpq names the subprocesses' sessions (PGAPPNAME)
TABLES = "wf_history, wf_task, wf_timer, wf_idempotency_key, wf_instance"


@pytest.fixture
def pg(postgres_migrated: str) -> Iterator[SqlEngine]:
    db = make_engine(postgres_migrated)
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield db
    db.dispose()


def scheduler(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SHEBAO_DATABASE_URL": url, "PGAPPNAME": APP_NAME}
    return subprocess.Popen(
        [str(SHEBAO), "scheduler", "--once", "--now", AFTER, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_sessions_to_end(db: SqlEngine) -> None:
    """Until the server has closed the killed process's sessions (it notices on its next read)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    deadline = time.monotonic() + 60
    while True:
        with db.connect() as conn:
            if conn.execute(query, {"name": APP_NAME}).scalar_one() == 0:
                return
        assert time.monotonic() < deadline, "the killed scheduler's session is still open"
        time.sleep(0.05)


def figures(db: SqlEngine) -> dict[str, int]:
    """What the sweep has committed so far."""
    queries = {
        "lapsed": "SELECT count(*) FROM wf_instance WHERE state = 'lapsed'",
        "lapses": "SELECT count(*) FROM wf_history WHERE event = 'lapse'",
        "lapsed_once": "SELECT count(DISTINCT instance_id) FROM wf_history WHERE event = 'lapse'",
        "fired": "SELECT count(*) FROM wf_timer WHERE status = 'fired'",
        "pending": "SELECT count(*) FROM wf_timer WHERE status = 'pending'",
        "version_2": "SELECT count(*) FROM wf_instance WHERE version = 2",
    }
    with db.connect() as conn:
        return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in queries.items()}


def test_two_scheduler_processes_fire_each_timer_exactly_once(pg: SqlEngine) -> None:
    n = 20_000
    seed_due_enrollments(pg, n, due=DUE)
    url = pg.url.render_as_string(hide_password=False)
    processes = [scheduler(url, "--chunk", "500") for _ in range(2)]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(int(r["fired"]) for r in reports) == n, reports
    assert figures(pg) == {
        "lapsed": n,
        "lapses": n,
        "lapsed_once": n,
        "fired": n,
        "pending": 0,
        "version_2": n,
    }


def test_a_sweep_killed_mid_way_leaves_whole_chunks_and_a_restart_finishes(pg: SqlEngine) -> None:
    n, chunk = 30_000, 200
    seed_due_enrollments(pg, n, due=DUE)
    url = pg.url.render_as_string(hide_password=False)
    process = scheduler(url, "--chunk", str(chunk))
    deadline = time.monotonic() + 120
    while figures(pg)["lapses"] == 0:
        assert process.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no chunk committed within two minutes"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    wait_for_sessions_to_end(pg)  # a COMMIT sent just before the kill still completes

    half = figures(pg)
    assert 0 < half["lapses"] < n, "killed too late to test a partial sweep"
    assert half["lapsed"] == half["lapses"] == half["lapsed_once"] == half["fired"]
    assert half["version_2"] == half["lapsed"] and half["pending"] == n - half["fired"]
    assert half["fired"] % chunk == 0  # whole chunks only

    restarted = scheduler(url, "--chunk", str(chunk))
    out, err = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["fired"] == n - half["fired"]
    assert figures(pg) == {
        "lapsed": n,
        "lapses": n,
        "lapsed_once": n,
        "fired": n,
        "pending": 0,
        "version_2": n,
    }
