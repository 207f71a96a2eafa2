"""Incidents as a receiver's outage leaves them, for the incident tests: cards whose notices
failed their every attempt against a webhook nobody listens on (as QA's ``webhook:`` channel on
127.0.0.1:5398 with a password), and a timer whose event its state refuses."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask
from sqlalchemy import insert
from support import counter_card

from engine.models import Timer
from engine.scheduler import run_once
from web.app import engine_of
from web.notices import worker_for
from workflows.identity import make_id_number

TIMERS = Timer.__table__


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (the connection is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def person(n: int) -> str:
    return make_id_number("440604", date(1980, 1, 1) + timedelta(days=n), 21)


def cards_with_failed_notices(app: Flask, n: int, *, first: int = 0) -> list[int]:
    """``n`` cards at their bank, each reminded to collect (notices ``card_ready`` and
    ``collection_reminder``), whose notices the delivery worker sends once, to the channel of
    ``SHEBAO_NOTICE_CHANNEL``: with one attempt allowed, each failure is an incident."""
    engine = engine_of(app)
    cards = []
    for i in range(first, first + n):
        card = counter_card(app, person(i), events=("produce", "notify_holder", "remind_holder"))
        cards.append(card.instance_id)
    worker_for(app).run_once(engine.clock.now())
    return cards


def overdue_card_timer(app: Flask, card: int, state: str, event: str) -> None:
    """A pending timer of ``card`` in ``state`` firing ``event``, due a day ago (written as a
    definition that has since changed would have left it: the event may not leave the state)."""
    engine = engine_of(app)
    now = engine.clock.now()
    with engine.db.begin() as conn:
        conn.execute(
            insert(TIMERS).values(
                instance_id=card,
                process="card",
                state=state,
                event=event,
                due_at=now - timedelta(days=1),
                status="pending",
                created_at=now - timedelta(days=2),
            )
        )


def refused_timer(app: Flask, n: int = 900) -> int:
    """A card just applied for whose pending timer, of its state, fires ``remind_holder``, an
    event that state does not have: the sweep opens an incident at once. Returns the card."""
    card = counter_card(app, person(n)).instance_id
    overdue_card_timer(app, card, "applied", "remind_holder")
    assert run_once(engine_of(app)).failed == 1
    return card


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that takes every notice and keeps each ``Idempotency-Key`` it got."""

    keys: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the handler's protocol
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.keys.append(self.headers["Idempotency-Key"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@contextmanager
def receiver_on(port: int) -> Iterator[list[str]]:
    """The receiver listening on ``port`` (back after its outage): the keys it got."""
    Receiver.keys = []
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Receiver.keys
    finally:
        server.shutdown()
        server.server_close()
