"""The scheduler inside ``shebao run`` is seen at work (QA A#10): a sweep that fired timers logs
its report at INFO, as the standalone ``shebao scheduler`` does, although ``shebao run`` logs at
WARNING otherwise (and an explicit ``SHEBAO_LOG_LEVEL`` still rules)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime

import pytest
from support import counter_card

from engine.clock import SimulatedClock
from web.app import create_app, engine_of
from web.config import PROJECT_ROOT
from workflows.identity import make_id_number

NOW = datetime(2022, 3, 16, 1, tzinfo=UTC)

AS_RUN_DOES = textwrap.dedent(
    """
    import logging, sys
    from web import log_format
    from web.app import create_app
    from web.scheduling import make_scheduler
    log_format.configure(logging.WARNING)  # as `shebao run` does
    app = create_app({"SHEBAO_DATABASE_URL": sys.argv[1], "TESTING": True})
    runner = make_scheduler(app, blocking=False)  # the scheduler `shebao run` starts
    report = runner.tick()
    runner.shutdown(wait=False)
    print(report.fired)
    """
)


@pytest.mark.parametrize(("level", "shown"), [(None, True), ("WARNING", False)])
def test_a_sweep_that_fired_timers_is_logged(
    sqlite_url: str, level: str | None, shown: bool
) -> None:
    app = create_app(
        {"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True}, clock=SimulatedClock(NOW)
    )
    person = make_id_number("440604", date(1980, 1, 2), 11)
    counter_card(app, person, events=("produce", "notify_holder"))  # timers due by 2026
    engine_of(app).db.dispose()
    env = {
        k: v for k, v in os.environ.items() if k not in ("SHEBAO_LOG_LEVEL", "SHEBAO_LOG_FORMAT")
    }
    if level:
        env["SHEBAO_LOG_LEVEL"] = level
    done = subprocess.run(
        [sys.executable, "-c", AS_RUN_DOES, sqlite_url],
        env={**env, "SHEBAO_NOTICE_CHANNEL": "log"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(done.stdout.strip().splitlines()[-1]) >= 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if "timer sweep:" in line]
    assert bool(lines) == shown, done.stderr
    if shown:
        assert "engine.scheduler" in lines[0] and "'fired'" in lines[0]
        assert person not in done.stderr
