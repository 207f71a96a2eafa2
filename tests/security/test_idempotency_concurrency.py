"""Sixteen identical requests with one ``Idempotency-Key``, all at once: one does the work, fifteen
wait for it and replay its answer. Same status, same body (but ``replayed``), one instance, one
history row, one key row. On PostgreSQL the key's transaction lock (``Engine.run_idempotent``)
makes them wait; SQLite has a single writer already.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from engine.statements import history, keys
from web.api.tokens import create_token
from web.app import engine_of
from web.extensions import domain_of
from workflows.identity import make_id_number
from workflows.imports import import_people

CALLERS = 16
NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # huian-2023's payment period is open
PERSON = make_id_number("350521", date(1975, 7, 7), 61)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), csrf=True)


def all_at_once(app: Flask, call: Callable[[Any], Any]) -> list[tuple[int, dict[str, Any]]]:
    """``call(client)`` from CALLERS threads released together, each with its own test client."""
    start = threading.Barrier(CALLERS)
    answers: list[tuple[int, dict[str, Any]] | BaseException] = [None] * CALLERS  # type: ignore[list-item]

    def caller(i: int) -> None:
        client = app.test_client()
        try:
            start.wait()
            answer = call(client)
            answers[i] = (answer.status_code, answer.get_json())
        except BaseException as exc:  # reported below
            answers[i] = exc

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, errors
    return answers  # type: ignore[return-value]


def replayed_flags(body: dict[str, Any]) -> bool:
    return bool((body.get("transition") or body)["replayed"])


def without_replayed(body: dict[str, Any]) -> dict[str, Any]:
    copy = dict(body)
    if "transition" in copy:
        copy["transition"] = {k: v for k, v in copy["transition"].items() if k != "replayed"}
    else:
        copy.pop("replayed", None)
    return copy


def assert_one_result_and_replays(answers: list[tuple[int, dict[str, Any]]], status: int) -> None:
    statuses = [s for s, _ in answers]
    assert statuses == [status] * CALLERS, [(s, b) for s, b in answers if s != status][:3]
    bodies = [without_replayed(b) for _, b in answers]
    assert all(b == bodies[0] for b in bodies), bodies
    assert sorted(replayed_flags(b) for _, b in answers) == [False] + [True] * (CALLERS - 1)


def count(app: Flask, table: Any, *where: Any) -> int:
    with engine_of(app).db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def test_sixteen_card_applications_with_one_key_make_one_card(app: Flask) -> None:
    token = create_token(engine_of(app).db, "counter", ["channel"])
    body = {"id_number": PERSON, "channel": "counter", "bank": "qzccb", "region_code": "350521"}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "apply-7"}
    answers = all_at_once(app, lambda c: c.post("/api/v1/cards", json=body, headers=headers))
    assert_one_result_and_replays(answers, 201)
    engine = engine_of(app)
    assert queries.total_instances(engine.db) == 1
    card = answers[0][1]["card"]["id"]
    assert count(app, history, history.c.instance_id == card) == 1
    assert count(app, keys) == 1


def test_sixteen_payments_with_one_key_pay_once(app: Flask) -> None:
    engine = engine_of(app)
    row = {"id_number": PERSON, "name": "梁军", "region": "huian"}
    assert import_people(engine, domain_of(app), [(1, row)], actor="t").rejected == []
    # imported while huian-2023's period is open: the import opened that year already
    people = queries.total_instances(engine.db)
    token = create_token(engine.db, "tax-app", ["channel"])
    body = {"id_number": PERSON, "amount": "360.00", "channel": "app"}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "pay-2023-1"}
    answers = all_at_once(app, lambda c: c.post("/api/v1/payments", json=body, headers=headers))
    assert_one_result_and_replays(answers, 200)
    assert answers[0][1]["transition"]["to_state"] == "deducted"
    # no other year opened, and the year was paid once
    assert queries.total_instances(engine.db) == people
    [(year, state)] = queries.by_business_key(engine.db, "enrollment", f"{PERSON}:huian-2023")
    assert state == "deducted"
    paid = [h for h in queries.history(engine.db, year) if h["event"] == "pay"]
    assert len(paid) == 1
    assert count(app, keys, keys.c.key == "pay-2023-1") == 1


def test_sixteen_events_with_one_key_fire_once(app: Flask) -> None:
    engine = engine_of(app)
    token = create_token(engine.db, "factory", ["factory"])
    counter = create_token(engine.db, "counter", ["channel"])
    applied = app.test_client().post(
        "/api/v1/cards",
        json={"id_number": PERSON, "channel": "online", "bank": "qzccb", "region_code": "350521"},
        headers={"Authorization": f"Bearer {counter}"},
    )
    card = applied.get_json()["card"]["id"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "factory-msg-1"}
    answers = all_at_once(
        app,
        lambda c: c.post(
            f"/api/v1/cards/{card}/events", json={"event": "produce"}, headers=headers
        ),
    )
    assert_one_result_and_replays(answers, 200)
    produced = [h for h in queries.history(engine.db, card) if h["event"] == "produce"]
    assert len(produced) == 1
