"""A card's timers of months and years count on China's calendar, as its policy means them: a card
told ready at 06:00 on 31 August in China (22:00 on 30 August in UTC, the service clock's zone) is
taken back from the branch six months later at 06:00 on 28 February, not on 1 March (the months
were counted from 30 August, the UTC date); one told ready at 07:00 on 29 February 2024 is sealed a
year later at 07:00 on 28 February 2025, not 1 March. Seen through the doors: the card's place and
state (API) before and after each moment, the sweeps run by ``shebao scheduler --once``; the clock
reads UTC, as the service's does (a clock at +08:00 hid the fault: the months were counted on its
own calendar).

Source: the policy files' ``card.uncollected_card_returned_after: P6M`` and
``uncollected_card_sealed_after: P1Y`` (definitions/policies/foshan-*.yaml)."""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

HOLDER = "440604198003030050"
OTHER = "44060419750707006X"


def _ready_card(j: Journey, holder: str) -> int:
    card, _task = j.card_at_activation(holder, channel="counter", factory="factory", bank="cmb")
    return card


def _events(j: Journey, card: int) -> list[str]:
    return [step["event"] for step in j.card(card).get("history", [])]


def test_six_months_from_31_august_in_china_end_on_28_february(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-08-30T22:00:00+00:00")  # 06:00 on 31 August in China
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    card = _ready_card(j, HOLDER)
    place = j.card(card).get("collection_place")

    j.at("2023-02-27T21:59:00+00:00")  # 05:59 on 28 February in China
    j.sweep()
    assert j.card(card).get("collection_place") == place  # not yet

    j.at("2023-02-27T22:00:01+00:00")  # 06:00 on 28 February in China
    j.sweep()
    assert j.card(card).get("collection_place") != place  # taken back: six months have passed


def test_a_year_from_29_february_in_china_ends_on_28_february(journey_factory: Any) -> None:
    j: Journey = journey_factory("2024-02-28T23:00:00+00:00")  # 07:00 on 29 February in China
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    card = _ready_card(j, OTHER)

    j.at("2025-02-27T22:59:00+00:00")
    j.sweep()
    assert j.card(card)["state"] == "awaiting_activation"

    j.at("2025-02-27T23:00:01+00:00")  # 07:00 on 28 February in China
    j.sweep()
    assert j.card(card)["state"] != "awaiting_activation"  # sealed: a year has passed
