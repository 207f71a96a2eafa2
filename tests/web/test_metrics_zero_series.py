"""``/metrics`` as an alert reads it (QA A#10 and A#5's polish): every known label value has a
sample, 0 when nothing is counted (no incidents yet; an incident closed; no failed notice), so no
series vanishes; ``shebao_notices{status="failed"}`` counts the failed notices still waiting for
a person, not those a supervisor resolved; and the age of the oldest pending notice shows a slow
channel before any incident opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from failed_notices import cards_with_failed_notices, closed_port, person
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from support import MakeApp, counter_card

from engine.clock import SimulatedClock
from engine.incidents import Matching, list_incidents, resolve_incident, resolve_incidents
from web.app import engine_of

NOW = datetime(2022, 3, 16, 1, tzinfo=UTC)
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(
        clock,
        SHEBAO_NOTICE_CHANNEL=f"webhook:http://127.0.0.1:{closed_port()}/hook",
        SHEBAO_NOTICE_MAX_ATTEMPTS="1",
    )


def scrape(app: Flask) -> Samples:
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    return {
        family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
    }


def incidents_open(found: Samples, process: str, kind: str) -> float | None:
    return found["shebao_incidents_open"].get((("kind", kind), ("process", process)))


def notices(found: Samples) -> dict[str, float]:
    return {dict(k)["status"]: v for k, v in found["shebao_notices"].items()}


def test_known_series_read_0_before_anything_happens(app: Flask) -> None:
    found = scrape(app)
    for process in ("card", "enrollment", "card_review", "person"):
        for kind in ("timer", "notice"):
            assert incidents_open(found, process, kind) == 0, (process, kind)
    assert notices(found) == {"pending": 0, "delivered": 0, "failed": 0, "resolved": 0}
    assert found["shebao_notice_backlog_seconds"] == {(): 0}
    assert found["shebao_schedulers"] == {(("state", "live"),): 0, (("state", "stale"),): 0}


def test_failed_counts_what_still_waits_and_series_stay_at_0(app: Flask) -> None:
    cards_with_failed_notices(app, 2)
    engine = engine_of(app)
    found = scrape(app)
    assert incidents_open(found, "card", "notice") == 4
    assert notices(found) == {"pending": 0, "delivered": 0, "failed": 4, "resolved": 0}
    first = list_incidents(engine)[-1].id
    resolve_incident(engine, first, "ops")
    found = scrape(app)
    assert notices(found)["failed"] == 3 and notices(found)["resolved"] == 1
    resolve_incidents(engine, Matching(), "ops")
    found = scrape(app)
    assert incidents_open(found, "card", "notice") == 0  # back to 0, not gone
    assert notices(found) == {"pending": 0, "delivered": 0, "failed": 0, "resolved": 4}


def test_the_oldest_pending_notice_shows_a_slow_channel(app: Flask, clock: SimulatedClock) -> None:
    counter_card(app, person(1), events=("produce", "notify_holder"))  # its notice waits
    clock.set(NOW + timedelta(seconds=90))
    counter_card(app, person(2), events=("produce", "notify_holder"))
    found = scrape(app)
    assert found["shebao_notice_backlog_seconds"][()] == pytest.approx(90, abs=1)
    assert notices(found)["pending"] == 2
