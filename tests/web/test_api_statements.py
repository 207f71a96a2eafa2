"""What one card-event request sends to the database (issue 17): pinned, so it cannot grow silently.

``POST /api/v1/cards/<id>/events`` authenticates the token with one indexed SELECT and fires the
event in the engine's one transaction, which checks that the token may see the card and send it the
event on the instance row it reads anyway (``Engine.fire``'s ``admit``). No pre-ping, no
``BEGIN``/``ROLLBACK`` around the read, no read of the card's history. Counted at
the driver: on SQLite every statement the connections run (``set_trace_callback``, which sees
``BEGIN`` and ``COMMIT`` too), on PostgreSQL every statement and command psycopg sends (each a
round trip).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event, text
from support import MakeApp

from engine.clock import SimulatedClock
from engine.definition import load_definitions
from web.api.tokens import create_token, revoke_token
from web.app import create_app, engine_of
from web.config import PROJECT_ROOT
from web.reads import reader
from workflows.identity import make_id_number

PERSON = make_id_number("440604", date(1990, 5, 17), 21)
NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
EVENTS = ("produce", "notify_holder", "activate")

# Per event, beyond the engine's own transaction: the token's SELECT.
READS = 1
# The engine's transaction of each event, on SQLite: BEGIN IMMEDIATE, the instance row, the
# state's writes (update, history, timers, tasks, notices), the idempotency key's read and
# write, COMMIT. The largest is notify_holder's: its timers (the reminder, the take-back from
# the branch, the seal: as many as card.yaml declares) are a statement each on SQLite.
AWAITING_TIMERS = len(
    load_definitions(PROJECT_ROOT / "definitions")["card"].states["awaiting_activation"].timers
)
# An event that is an outcome of the state's task (activate) reads that task once more: a task
# a teller holds is not completed by the bank's event (``Engine.fire(respect_claims=True)``).
CLAIM_CHECK = 1
MOST_ON_SQLITE = {
    "produce": READS + 7,
    "notify_holder": READS + 9 + AWAITING_TIMERS,
    "activate": READS + 9 + CLAIM_CHECK,
}
# On PostgreSQL: BEGIN, the instance read that takes the key's advisory lock first, the key, the
# writes fused into one statement (``engine.tx.Tx``), COMMIT; whatever the event writes.
MOST_ON_POSTGRES = {
    "produce": READS + 5,
    "notify_holder": READS + 5,
    "activate": READS + 5 + CLAIM_CHECK,
}


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    # A worker's look for definition versions deployed by another process is one read every
    # SHEBAO_DEFINITION_CHECK_SECONDS (5), not one per event: kept out of the events counted.
    return make_app(SimulatedClock(NOW), SHEBAO_DEFINITION_CHECK_SECONDS=3600)


@contextmanager
def sqlite_statements(db: Engine) -> Iterator[list[str]]:
    """Every statement the SQLite connections of ``db`` run meanwhile (new connections: the pool
    is emptied first, and the kept ones with it)."""
    seen: list[str] = []

    def trace(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    db.dispose()
    event.listen(db, "connect", trace)
    try:
        yield seen
    finally:
        event.remove(db, "connect", trace)
        db.dispose()


@contextmanager
def postgres_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement (plain or prepared) and command (BEGIN, COMMIT...) psycopg sends."""
    from psycopg import _connection_base, _cursor_base

    seen: list[str] = []
    send = _cursor_base.BaseCursor._execute_send
    prepared = _cursor_base.BaseCursor._send_query_prepared
    command = _connection_base.BaseConnection._exec_command

    def sending(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(bytes(query.query).decode())
        return send(self, query, *args, **kwargs)

    def sending_prepared(self: Any, name: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(bytes(query.query).decode())
        return prepared(self, name, query, *args, **kwargs)

    def commanding(self: Any, cmd: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(cmd.decode() if isinstance(cmd, bytes) else str(cmd))
        return command(self, cmd, *args, **kwargs)

    monkeypatch.setattr(_cursor_base.BaseCursor, "_execute_send", sending)
    monkeypatch.setattr(_cursor_base.BaseCursor, "_send_query_prepared", sending_prepared)
    monkeypatch.setattr(_connection_base.BaseConnection, "_exec_command", commanding)
    yield seen


def card_events(app: Flask, count: int) -> Iterator[tuple[str, Any]]:
    """Apply for ``count`` cards, then send each its events; yields (event, send) to call."""
    db = engine_of(app).db
    channel = create_token(db, "app", ["channel"])
    bank = create_token(db, "bank", ["factory", "bank:icbc"])
    client = app.test_client()
    for n in range(count):
        person = make_id_number("440604", date(1980, 1, 1) + timedelta(days=n), n % 1000)
        applied = client.post(
            "/api/v1/cards",
            json={
                "id_number": person,
                "channel": "online",
                "bank": "icbc",
                "region_code": "440604",
            },
            headers={"Authorization": f"Bearer {channel}"},
        )
        assert applied.status_code == 201, applied.json
        card = applied.json["card"]["id"]
        for name in EVENTS:
            data = {"presented_id_number": person} if name == "activate" else {}

            def send(card: int = card, name: str = name, data: dict[str, Any] = data) -> None:
                answer = client.post(
                    f"/api/v1/cards/{card}/events",
                    json={"event": name, "data": data},
                    headers={
                        "Authorization": f"Bearer {bank}",
                        "Idempotency-Key": f"{card}-{name}",
                    },
                )
                assert answer.status_code == 200, answer.json
                assert answer.json["to_state"] and answer.json["replayed"] is False

            yield name, send


def test_a_card_event_request_sends_its_reads_and_one_transaction(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = engine_of(app).db
    events = card_events(app, 3)
    for _ in range(len(EVENTS)):  # warm: connections made, statements prepared
        _name, send = next(events)
        send()
    postgres = db.dialect.name == "postgresql"
    most = MOST_ON_POSTGRES if postgres else MOST_ON_SQLITE
    counter = postgres_round_trips(monkeypatch) if postgres else sqlite_statements(db)
    counts: dict[str, list[int]] = {}
    with counter as seen:
        for name, send in events:
            before = len(seen)
            send()
            sent = [s[:80] for s in seen[before:]]  # the heads: no personal data in a failure
            counts.setdefault(name, []).append(len(sent))
            assert len(sent) <= most[name], (name, sent)
            assert not any(
                "wf_history" in s and s.lstrip().upper().startswith("SELECT") for s in sent
            )
            assert sum(s.strip().upper() == "BEGIN" or s.startswith("BEGIN") for s in sent) <= 1
            assert not any(s.strip().upper() == "ROLLBACK" for s in sent), sent
    assert set(counts) == set(EVENTS)


@pytest.mark.postgres
def test_a_kept_read_connection_the_server_closed_is_replaced(postgres_migrated: str) -> None:
    """The reads skip the pool's pre-ping on a kept connection: one the server ended meanwhile
    is found out by its statement, which runs again on a fresh connection; the caller sees
    nothing of it."""
    application = create_app(
        {"SHEBAO_DATABASE_URL": postgres_migrated, "TESTING": True, "WTF_CSRF_ENABLED": False}
    )
    db = engine_of(application).db
    name = f"kept-{datetime.now(UTC).timestamp():.0f}"
    token = create_token(db, name, ["read"])
    client = application.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert client.get("/api/v1/cards/999999", headers=headers).status_code == 404
        kept = reader(db).keeper._idle  # noqa: SLF001 - what the test is about
        assert kept, "the read's connection is kept"
        pids = [int(h.driver_connection.info.backend_pid) for h in kept]
        with db.connect() as other:
            for pid in pids:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.1)
        assert client.get("/api/v1/cards/999999", headers=headers).status_code == 404
        assert all(
            h.driver_connection.info.backend_pid not in pids for h in reader(db).keeper._idle
        )  # noqa: SLF001
        revoke_token(db, name)  # and a revocation is seen at once
        assert client.get("/api/v1/cards/999999", headers=headers).status_code == 401
    finally:
        db.dispose()
