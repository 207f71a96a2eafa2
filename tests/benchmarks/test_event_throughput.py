"""The event-throughput benchmark in CI: the engine reaches at least a fifth of the bare-SQL floor."""

from __future__ import annotations

import pytest

from benchmarks.event_throughput import main


@pytest.mark.bench
def test_engine_reaches_a_fifth_of_the_bare_sql_floor(capsys: pytest.CaptureFixture[str]) -> None:
    result = main(["--quick"])
    with capsys.disabled():
        print(f"\nevent_throughput: {result}")
    assert result["transitions"] == 3000
    assert result["ratio"] >= 0.2, result
