"""`shebao instances migrate` as a real process on PostgreSQL, `kill -9`ed half-way and run
again: every instance migrated exactly once, its timers those of the new version (issue 16).

The definitions are a copy whose enrollment process is deployed as version 1, then changed (a
state renamed) and deployed as version 2, as an operator would do it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from benchmarks.deadline_sweep import seed_due_enrollments
from engine.db import make_engine
from web.app import create_app, engine_of
from web.config import PROJECT_ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.serial]  # kill mid-way

SHEBAO = Path(sys.executable).with_name("shebao")
STATES = ("registered", "renewal_pending", "deduction_failed", "deducted", "lapsed")
N, CHUNK = 50_000, 500


@pytest.fixture
def pg(postgres_migrated: str) -> Iterator[SqlEngine]:
    db = make_engine(postgres_migrated)
    tables = "wf_history, wf_task, wf_timer, wf_notice, wf_incident, wf_definition, wf_instance"
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield db
    db.dispose()


def deployed(url: str, definitions: Path) -> None:
    """Start the service once on ``definitions``: it deploys what changed."""
    config = {"SHEBAO_DATABASE_URL": url, "SHEBAO_DEFINITIONS": str(definitions)}
    engine_of(create_app(config)).db.dispose()


def migrate_process(url: str, definitions: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SHEBAO_DATABASE_URL": url, "SHEBAO_DEFINITIONS": str(definitions)}
    args = ["instances", "migrate", "enrollment", "--from", "1", "--to", "2"]
    args += ["--map", "deduction_failed=deduction_returned", "--chunk", str(CHUNK)]
    return subprocess.Popen(
        [str(SHEBAO), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def figures(db: SqlEngine) -> dict[str, int]:
    queries = {
        "on_v2": "SELECT count(*) FROM wf_instance WHERE definition_version = 2",
        "audited": "SELECT count(*) FROM wf_history WHERE event = 'migrate'",
        "audited_once": "SELECT count(DISTINCT instance_id) FROM wf_history WHERE event = 'migrate'",
        "old_state": "SELECT count(*) FROM wf_instance WHERE state = 'deduction_failed'",
        "old_timers": "SELECT count(*) FROM wf_timer WHERE status = 'pending' "
        "AND state = 'deduction_failed'",
        "renamed_timers": "SELECT count(*) FROM wf_timer WHERE status = 'pending' "
        "AND state = 'deduction_returned'",
    }
    with db.connect() as conn:
        return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in queries.items()}


def test_a_migration_killed_half_way_is_resumed_and_moves_each_instance_once(
    pg: SqlEngine, tmp_path: Path, bench_report: object
) -> None:
    definitions = tmp_path / "definitions"
    shutil.copytree(PROJECT_ROOT / "definitions", definitions)
    url = pg.url.render_as_string(hide_password=False)
    deployed(url, definitions)
    for n, state in enumerate(STATES):
        seed_due_enrollments(pg, N // len(STATES), state=state, prefix=f"k{n}-")
    path = definitions / "enrollment.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("deduction_failed", "deduction_returned"),
        encoding="utf-8",
    )
    deployed(url, definitions)  # version 2

    process = migrate_process(url, definitions)
    deadline = time.monotonic() + 120
    while figures(pg)["on_v2"] < N // 5:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no chunk committed within two minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(0.5)  # a COMMIT sent just before the kill still completes
    half = figures(pg)
    assert 0 < half["on_v2"] < N, "killed too late to test a partial run"
    assert half["on_v2"] == half["audited"] == half["audited_once"]
    assert half["on_v2"] % CHUNK == 0  # whole chunks only

    again = migrate_process(url, definitions)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["migrated"] == N - half["on_v2"]
    done = figures(pg)
    assert done == {
        "on_v2": N,
        "audited": N,
        "audited_once": N,
        "old_state": 0,
        "old_timers": 0,
        "renamed_timers": N // 5,  # the renamed state's lapse timers followed it
    }
    bench_report(  # type: ignore[operator]
        "migration killed and resumed",
        json.dumps({"instances": N, "at_the_kill": half["on_v2"], "resumed": report}),
    )
