"""The HTTP benchmark (issue 17) in CI, run as its own process like a user runs it.

The service under gunicorn (4 sync workers, as README deploys it) on PostgreSQL against a bare
Flask endpoint doing the same SQL under the same gunicorn: events/s and p50/p95/p99 at 1, 4 and 16
clients, each worker's share of its server's CPU time, and the top 10 of a profile, reported in
the benchmark section. Every event sent is served (no error) and every card ends active.

The issue's target is a ratio of 0.5 at 16 clients. The service first reached about 0.3 on the
2-core CI machine: besides the engine's transaction, each request read the token and the whole
card, production progress included, each on a connection of its own (pre-ping, BEGIN, the SELECT,
ROLLBACK). It now reads the token with one statement on a kept autocommit connection
(``web.reads``) and checks the card in the engine's transaction, on the row it reads anyway; the
transaction takes two round trips (psycopg's pipeline: ``BEGIN`` with the reads, ``COMMIT`` with
the writes, the writes fused into one statement, the version check on the server): 3 round trips
and 7 statements per event (6 since the instance's read takes the idempotency key's lock). The
benchmark used to run gthread workers, which keep the keep-alive connections they accepted: one
worker of four served all 16 clients, and the ratio swung between 0.41 and 0.71. With sync workers the load spreads (each worker's CPU share near 0.25, asserted)
and the ratio follows the CPU each side spends per event: 0.47-0.69 measured. Then the
per-request hooks were trimmed (policy files looked at once a second, no session cookie work
without a cookie, the security headers made once) and both servers freeze their start-up objects
out of the garbage collector's full collections: 0.58-0.64 at 16 clients in five runs of 600
cards here. CI runs 600 cards per side and level (~20 s; the ``--quick`` 240 swung by +-0.1
between runs). This asserts what it holds with margin for the machine's noise, 0.4, and prints
the real figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from test_deadline_sweep import own_database

pytestmark = [pytest.mark.bench, pytest.mark.postgres]

HELD_RATIO_16 = 0.4
"""What the service holds at 16 clients with margin (measured 0.58-0.64); the target is 0.5."""
CARDS = 600
"""Cards per side and level: 1,800 events each, enough to steady the ratio."""


def test_http_events_service_against_the_bare_flask_floor(
    bench_report: Callable[[str, str], None],
) -> None:
    url = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.http_events", "--quick", "-n", str(CARDS)]
        + ["--postgres", own_database(url, "http")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    for line in lines[:-1]:  # the table and the profile, as the benchmark printed them
        bench_report("http_events", line)
    bench_report("http_events", json.dumps({k: v for k, v in result.items() if k != "profile"}))
    per_side = 3 * result["cards_per_level"]
    for level in result["levels"]:
        for side in ("service", "floor"):
            assert level[side]["errors"] == 0, level
            assert level[side]["events"] >= per_side, level
            shares = level[side]["worker_cpu_shares"]
            assert len(shares) == 4 and abs(sum(shares) - 1) < 0.05, level
            if level["clients"] == 16:  # every worker carried its part, none all of it
                assert shares[0] <= 0.5, level
    assert result["events_ok"] == result["events_sent"]
    assert result["errors"] == 0
    assert result["cards_not_active"] == 0
    assert result["profile"]["errors"] == 0
    assert len(result["profile_top10"]) == 10
    assert result["ratio_16"] >= HELD_RATIO_16, result["levels"]
