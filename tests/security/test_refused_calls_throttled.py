"""A flood of refused API calls from one address writes a bounded number of security events
(QA: "no throttling of token_missing / token_refused rows": every request without a token, or
with a wrong one, wrote a row and committed, so a client could fill the table at the rate it
sent requests).

Per worker, address and kind, the first 20 refusals in a minute are recorded; the rest are
counted, and the first one recorded after the minute says how many were left out before it
(``suppressed_before``). Another address is recorded all the same, and every refused call is
still a 401.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from staff_helpers import add_staff, make_app

from web.event_throttle import PER_WINDOW, EventThrottle, throttle
from web.extensions import engine_of
from web.security_log import recent

PROBER = {"REMOTE_ADDR": "203.0.113.7"}
OTHER = {"REMOTE_ADDR": "198.51.100.9"}


class Ticks:
    """A clock for the throttle's windows, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(db_url: str) -> Flask:
    app = make_app(db_url)
    add_staff(app, "boss", "supervisor")
    return app


@pytest.fixture
def ticks(app: Flask) -> Ticks:
    clock = Ticks()
    with app.app_context():
        throttle().clock = clock
    return clock


def events(app: Flask, kind: str, address: str) -> list[dict[str, Any]]:
    found = recent(engine_of(app).db, 1000, kind)
    return [dict(e) for e in found if e["remote_addr"] == address]


@pytest.mark.parametrize(
    ("kind", "headers"),
    [("token_missing", {}), ("token_refused", {"Authorization": "Bearer not-a-token"})],
)
def test_a_flood_from_one_address_is_recorded_in_part_and_counted(
    app: Flask, ticks: Ticks, kind: str, headers: dict[str, str]
) -> None:
    client = app.test_client()

    def call(environ: dict[str, str]) -> None:
        answer = client.get("/api/v1/admin/incidents", headers=headers, environ_base=environ)
        assert answer.status_code == 401 and answer.json["code"] == "unauthenticated"

    for _ in range(100):
        call(PROBER)
    assert len(events(app, kind, PROBER["REMOTE_ADDR"])) == PER_WINDOW
    call(OTHER)  # another address: its own window
    assert len(events(app, kind, OTHER["REMOTE_ADDR"])) == 1

    ticks.now += 30
    call(PROBER)  # the same minute: still left out
    assert len(events(app, kind, PROBER["REMOTE_ADDR"])) == PER_WINDOW
    ticks.now += 31
    call(PROBER)  # a new minute: recorded, saying how many were left out
    found = events(app, kind, PROBER["REMOTE_ADDR"])
    assert len(found) == PER_WINDOW + 1
    newest = found[0]
    assert newest["detail"]["suppressed_before"] == 100 - PER_WINDOW + 1, newest
    assert all("suppressed_before" not in e["detail"] for e in found[1:])


def test_the_windows_forget_the_oldest_address_beyond_the_bound() -> None:
    clock = Ticks()
    limited = EventThrottle(per_window=1, max_keys=2, clock=clock)
    assert limited.admit("token_missing", "a") == 0
    assert limited.admit("token_missing", "a") is None
    assert limited.admit("token_missing", "b") == 0
    assert limited.admit("token_missing", "c") == 0  # "a" forgotten
    assert limited.admit("token_missing", "a") == 0  # a new window, its count lost with it
