"""The deduction-import benchmark, run as its own process like a user runs it (marked ``bench``).

Its last line is the JSON result; the peak RSS is that process's own. The issue's bar is a ratio of
0.3 against the bare-SQL floor (staging, one ``INSERT ... SELECT`` and one ``UPDATE ... FROM``) on
PostgreSQL with 1,000,000 rows and under 500 MB, measured by hand (0.35, 140 MB). CI runs 100,000
rows there, where the fixed costs (staging, one chunk not overlapped) weigh more and the figure
swings with the machine's load (0.23-0.31 measured): CI holds 0.2 and prints the figure.
"""

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
        [sys.executable, "-m", "benchmarks.deduction_import", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    last = done.stdout.strip().splitlines()[-1]
    report(f"deduction_import {' '.join(args)}", last)
    return json.loads(last)


@pytest.mark.postgres
def test_deduction_import_on_postgres(bench_report: Callable[[str, str], None]) -> None:
    url = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    args = ("-n", "100000", "--sample", "1000", "--postgres", own_database(url, "dedu"))
    result = run_benchmark(bench_report, *args)
    assert result["rows"] == 100000  # the benchmark exits non-zero unless every row applied
    assert result["ratio"] >= 0.2, result
    assert result["peak_rss_mb"] < 500, result
