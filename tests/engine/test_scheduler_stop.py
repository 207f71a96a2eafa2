"""A real ``shebao scheduler`` process stopped by SIGTERM, as a service manager stops it: it
finishes the chunk in hand, gives back the timers it leased, removes its heartbeat row and exits 0,
so that neither ``shebao schedulers`` nor the heartbeat metric keeps a dead scheduler, and the
timers it left are fired by the next scheduler at once (not after its lease)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from shebao_processes import SHEBAO, running_scheduler, stopped_by_sigterm
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from benchmarks.deadline_sweep import DUE, seed_due_enrollments
from engine.db import make_engine

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # a process stopped mid-sweep

FIGURES = {
    "lapses": "SELECT count(*) FROM wf_history WHERE event = 'lapse'",
    "fired": "SELECT count(*) FROM wf_timer WHERE status = 'fired'",
    "pending": "SELECT count(*) FROM wf_timer WHERE status = 'pending'",
    "leased": "SELECT count(*) FROM wf_timer WHERE status = 'pending' AND locked_by IS NOT NULL",
    "schedulers": "SELECT count(*) FROM wf_scheduler",
}


@pytest.fixture
def db(db_url: str) -> Iterator[SqlEngine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def figures(db: SqlEngine) -> dict[str, int]:
    with db.connect() as conn:
        return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in FIGURES.items()}


def test_sigterm_stops_a_scheduler_after_its_chunk_with_no_lease_or_row_left(
    db: SqlEngine, tmp_path: Path
) -> None:
    n, chunk = 20_000, 100
    seed_due_enrollments(db, n, due=DUE)
    url = db.url.render_as_string(hide_password=False)
    log = tmp_path / "scheduler.log"
    process = running_scheduler(
        url, log, "--chunk", str(chunk), SHEBAO_HISTORY_CLEANUP_WINDOW="off"
    )
    with stopped_by_sigterm(process):
        deadline = time.monotonic() + 120
        while figures(db)["lapses"] == 0:  # mid-sweep: chunks fired, more to come
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no chunk committed within two minutes"
            time.sleep(0.02)
    said = log.read_text()
    assert process.returncode == 0, said
    assert "signal 15: stopping after the chunk in hand" in said
    assert "leased timer(s) given back" in said
    stopped = figures(db)
    assert 0 < stopped["fired"] < n, "stopped too late to test a stop mid-sweep"
    assert stopped["fired"] % chunk == 0 and stopped["lapses"] == stopped["fired"]
    assert stopped["pending"] == n - stopped["fired"]
    assert (stopped["leased"], stopped["schedulers"]) == (0, 0), stopped

    # Nothing waits for a lease: the next scheduler fires the rest at once.
    again = subprocess.run(
        [str(SHEBAO), "scheduler", "--once"],
        env={**os.environ, "SHEBAO_DATABASE_URL": url, "SHEBAO_TIMER_LEASE_SECONDS": "3600"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert figures(db) == {"lapses": n, "fired": n, "pending": 0, "leased": 0, "schedulers": 0}
