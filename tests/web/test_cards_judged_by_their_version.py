"""One person one card per province, judged by each card's own definition version: a card that
stays on version 1 while version 2 renames its state (``active`` becomes ``in_use``) is still the
person's usable card, as the JSON API's channel sees it: a second application is refused naming
it in its own version's words, a replacement (换领) finds it and replaces it, and its status shows
its electronic card working and its production progress done."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine.clock import SimulatedClock
from tests.web.definition_files import definition_service
from web.api.tokens import create_token
from web.app import engine_of
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
HOLDER = make_id_number("440604", date(1980, 1, 2), 11)
TOKENS = itertools.count()
APPLICATION = {"id_number": HOLDER, "channel": "counter", "bank": "icbc", "region_code": "440604"}


def call(app: Flask, method: str, path: str, body: Any, expect: int) -> Any:
    """``/api/v1{path}`` with a channel token; the answer's JSON."""
    token = create_token(engine_of(app).db, f"channel-{next(TOKENS)}", ["channel"])
    client: FlaskClient = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
    assert answer.status_code == expect, answer.get_json()
    return answer.get_json()


def apply(app: Flask, body: dict[str, Any], expect: int) -> Any:
    """``POST /api/v1/cards``: an application at a channel."""
    return call(app, "POST", "/cards", body, expect)


def active_card_on_v1_then_v2_renames_active(db_url: str, definitions: Path) -> tuple[Flask, int]:
    """The holder's card made on the spot on v1 (``active``); then the service restarts with
    ``active`` renamed ``in_use`` (labelled 在用 / In use), deployed as v2; the card stays on v1."""
    first = definition_service(db_url, definitions, SimulatedClock(NOW))
    made = apply(first, {**APPLICATION, "channel": "fast_issuance"}, 201)["card"]
    assert (made["state"], made["definition_version"]) == ("active", 1)
    engine_of(first).db.dispose()
    path = definitions / "card.yaml"
    text = re.sub(r"\bactive\b", "in_use", path.read_text(encoding="utf-8"))
    path.write_text(text.replace("{zh: 正常, en: Active}", "{zh: 在用, en: In use}"), "utf-8")
    second = definition_service(db_url, definitions, SimulatedClock(NOW))
    assert engine_of(second).definition("card").version == 2
    return second, made["id"]


def test_a_second_application_is_refused_beside_a_card_left_on_the_version_before(
    db_url: str, definitions: Path
) -> None:
    app, old = active_card_on_v1_then_v2_renames_active(db_url, definitions)
    refused = apply(app, APPLICATION, 422)
    assert refused["code"] == "card_application_refused"
    assert f"card {old}" in refused["message_en"] and "Active" in refused["message_en"]
    assert f"卡 {old}" in refused["message_zh"] and "正常" in refused["message_zh"]
    engine_of(app).db.dispose()


def test_a_card_left_on_the_version_before_shows_its_own_status(
    db_url: str, definitions: Path
) -> None:
    app, old = active_card_on_v1_then_v2_renames_active(db_url, definitions)
    card = call(app, "GET", f"/cards/{old}", None, 200)
    assert (card["state_label"]["en"], card["electronic_card"]) == ("Active", "usable")
    last = card["progress"][-1]
    assert (last["step"], last["label"]["zh"]) == ("active", "正常") and last["done_at"]
    engine_of(app).db.dispose()


def test_a_replacement_replaces_a_card_left_on_the_version_before(
    db_url: str, definitions: Path
) -> None:
    app, old = active_card_on_v1_then_v2_renames_active(db_url, definitions)
    new = apply(app, {**APPLICATION, "replacement_reason": "damaged"}, 201)["card"]
    assert (new["replaces_card_id"], new["definition_version"]) == (old, 2)
    again = apply(app, {**APPLICATION, "replacement_reason": "expired"}, 422)
    assert "a second replacement is refused" in again["message_en"]
    engine_of(app).db.dispose()
