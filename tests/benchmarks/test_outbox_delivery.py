"""The outbox delivery benchmark in CI, as its own process like a user runs it: the worker reaches
a fifth of a bare loop of the same file-channel calls, and nearly all of it once every call pays a
network round trip (1 ms), as calls to an SMS gateway or a bank's webhook do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest


def run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.outbox_delivery", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.bench
def test_delivery_reaches_a_fifth_of_a_bare_loop_of_the_channel_calls(
    bench_report: Callable[[str, str], None],
) -> None:
    result = run("--quick")
    bench_report("outbox_delivery --quick", json.dumps(result, ensure_ascii=False))
    assert result["notices"] == 5000
    assert float(result["ratio"]) >= 0.2, result  # type: ignore[arg-type]


@pytest.mark.bench
def test_behind_a_round_trip_the_outbox_costs_little(
    bench_report: Callable[[str, str], None],
) -> None:
    result = run("-n", "2000", "--latency-ms", "1")
    bench_report("outbox_delivery -n 2000 --latency-ms 1", json.dumps(result, ensure_ascii=False))
    assert float(result["ratio"]) >= 0.8, result  # type: ignore[arg-type]
