"""The instance-migration benchmark, run as its own process (marked ``bench``): 5 states, one
renamed by the plan, against a one-transaction floor. The issue's measure is 1,000,000 instances
on PostgreSQL (by hand: ``python -m benchmarks.instance_migration --rows 1000000 --postgres URL``);
CI runs 50,000 on SQLite and 100,000 on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from test_deadline_sweep import own_database

pytestmark = pytest.mark.bench


def run_benchmark(report: Callable[[str, str], None], *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.instance_migration", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    last = done.stdout.strip().splitlines()[-1]
    report(f"instance_migration {' '.join(args)}", last)
    return json.loads(last)


def test_instance_migration_on_sqlite(bench_report: Callable[[str, str], None]) -> None:
    result = run_benchmark(bench_report, "--rows", "50000")
    assert result["instances"] == 50000 and result["ratio"] >= 0.15, result


@pytest.mark.postgres
def test_instance_migration_on_postgres(bench_report: Callable[[str, str], None]) -> None:
    url = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    result = run_benchmark(
        bench_report, "--rows", "100000", "--postgres", own_database(url, "migr")
    )
    assert result["instances"] == 100000 and result["ratio"] >= 0.15, result
