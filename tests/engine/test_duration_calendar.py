"""``Duration.after`` counts years and months on the calendar of the zone it is given (the
service's) and answers in the moment's own zone; days and hours are exact."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from engine.durations import parse_duration

CHINA = ZoneInfo("Asia/Shanghai")


def test_months_are_counted_on_the_given_zones_calendar() -> None:
    told = datetime(2022, 8, 30, 22, 0, tzinfo=UTC)  # 06:00 on 31 August in China
    due = parse_duration("P6M").after(told, CHINA)
    assert due == datetime(2023, 2, 27, 22, 0, tzinfo=UTC)  # 06:00 on 28 February in China
    assert due.tzinfo is UTC
    assert parse_duration("P6M").after(told) == datetime(2023, 2, 28, 22, 0, tzinfo=UTC)


def test_a_year_from_29_february_is_28_february_there() -> None:
    told = datetime(2024, 2, 28, 23, 0, tzinfo=UTC)  # 07:00 on 29 February in China
    assert parse_duration("P1Y").after(told, CHINA) == datetime(2025, 2, 27, 23, 0, tzinfo=UTC)


def test_days_and_hours_do_not_depend_on_the_zone() -> None:
    told = datetime(2022, 8, 30, 22, 0, tzinfo=UTC)
    for text in ("P30D", "PT12H", "P1DT1H"):
        assert parse_duration(text).after(told, CHINA) == parse_duration(text).after(told)


def test_a_naive_moment_is_counted_as_it_is() -> None:
    assert parse_duration("P1M").after(datetime(2022, 1, 31), CHINA) == datetime(2022, 2, 28)
