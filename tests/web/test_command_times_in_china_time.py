"""The commands show moments in China time with the offset, as ``shebao clock show`` does: a
policy date moved from the end of 28 February (China) reads ``2022-03-01 00:00 +08:00``, where
``policy changes`` printed ``2022-02-28T16:00:00+00:00`` (which reads like 28 February, 16:00);
``notices list``, ``incidents list``, ``definitions versions``, ``tokens list`` and ``users list``
printed UTC (``Z``, ``UTC``). The clock set back by less than a day says by how long in words,
where it printed ``0:00:53.910380``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from engine.clock import SimulatedClock
from web.cli.main import main
from web.cli.times import shown

NOW = datetime(2022, 2, 20, 7, 30, tzinfo=UTC)  # 15:30 in China


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


def test_shown_is_china_time_with_its_offset() -> None:
    assert shown(datetime(2022, 2, 28, 16, 0)) == "2022-03-01 00:00 +08:00"  # naive: UTC
    assert shown(datetime(2022, 2, 28, 16, 0, 5, tzinfo=UTC), seconds=True) == (
        "2022-03-01 00:00:05 +08:00"
    )
    assert shown(None) == "-"


def test_lists_show_china_time(app: Flask) -> None:
    runner = app.test_cli_runner()
    made = runner.invoke(main, ["tokens", "create", "ops", "--scope", "admin"])
    assert made.exit_code == 0, made.output
    versions = runner.invoke(main, ["definitions", "versions"]).output
    assert "+08:00 by " in versions and "Z by " not in versions
    tokens = runner.invoke(main, ["tokens", "list"]).output
    assert "UTC" not in tokens and "+08:00" in tokens


def test_the_clock_set_back_by_minutes_says_minutes(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["clock", "set", "2022-02-20T15:30:00+08:00"]).exit_code == 0
    back = runner.invoke(main, ["clock", "set", "2022-02-20T15:20:30+08:00"])
    assert back.exit_code == 0, back.output
    assert "went back 9 minutes" in back.output and "回拨了 9 分钟" in back.output
