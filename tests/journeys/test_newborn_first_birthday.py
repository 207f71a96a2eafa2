"""A registration may declare ``newborn`` up to the baby's first birthday, on the calendar: the
window was 365 days, so a baby born on 1 March 2023 was refused on its first birthday, 1 March 2024
(366 days later, 2024 being a leap year), while one born on 15 February 2022 was taken on its
first birthday. A baby born on 29 February has its first birthday on 28 February. Through the API
(``POST /registrations``), on the service clock."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.journeys.conftest import Journey
from workflows.identity import make_id_number


@pytest.mark.parametrize(
    ("born", "birthday"),
    [
        (date(2023, 3, 1), date(2024, 3, 1)),  # 366 days: refused before
        (date(2022, 2, 15), date(2023, 2, 15)),
        (date(2024, 2, 29), date(2025, 2, 28)),
    ],
)
def test_newborn_until_the_first_birthday(journey_factory: Any, born: date, birthday: date) -> None:
    j: Journey = journey_factory(f"{birthday.isoformat()}T10:00:00+08:00")
    j.token("counter", "channel")
    baby = make_id_number("350521", born, 21)
    body = {"id_number": baby, "name": "新", "region": "huian", "flags": ["newborn"]}
    j.api("POST", "/registrations", "counter", body, expect=201)

    j.at(f"{birthday.isoformat()}T23:59:00+08:00")
    twin = make_id_number("350521", born, 23)
    j.api("POST", "/registrations", "counter", {**body, "id_number": twin}, expect=201)

    later = birthday.toordinal() + 1
    j.at(f"{date.fromordinal(later).isoformat()}T00:01:00+08:00")
    third = make_id_number("350521", born, 25)
    refused = j.api("POST", "/registrations", "counter", {**body, "id_number": third}, expect=422)
    [detail] = refused["details"]
    assert detail["rule"] == "newborn_window"
    assert detail["facts"]["day_used"] == date.fromordinal(later).isoformat()
