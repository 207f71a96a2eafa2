"""A whole-number query parameter out of range says its range, and a JSON body that starts with
a UTF-8 byte order mark is read (QA B8).

``GET /tasks?limit=-1`` and ``?limit=100000000000000000000`` said "expected a whole number / 应为
整数", which they are; now every such refusal gives the range the parameter takes. A body sent by
a Windows or .NET client with a leading BOM was ``400 malformed_json`` ("syntax, a duplicate key
or a number out of range"); RFC 8259 (section 8.1) lets a parser ignore the mark, and the API does.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of
from web.ids import MAX_ID
from workflows.identity import make_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
DAVE = make_id_number("350521", date(1991, 3, 3), 33)
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    db = engine_of(app).db
    return {
        "app": create_token(db, "app", ["channel"]),
        "clerk": create_token(db, "c", ["clerk:huian"]),
    }


def _get(app: Flask, token: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return app.test_client().get(f"/api/v1{path}", headers=headers)


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=100000000000000000000", "limit=0", "limit=501", "limit=abc", "limit=+5"],
)
def test_a_limit_out_of_range_says_the_range(
    app: Flask, tokens: dict[str, str], query: str
) -> None:
    refused = _get(app, tokens["clerk"], f"/tasks?{query}")
    assert refused.status_code == 422 and refused.json["code"] == "invalid_request", refused.json
    [detail] = refused.json["details"]
    assert detail["field"] == "limit"
    assert (detail["message_zh"], detail["message_en"]) == (
        "应为 1 至 500 之间的整数",
        "a whole number from 1 to 500",
    )
    assert "1 至 500" in refused.json["message_zh"] and "1 to 500" in refused.json["message_en"]


def test_every_whole_number_parameter_says_its_own_range(
    app: Flask, tokens: dict[str, str]
) -> None:
    refused = _get(app, tokens["clerk"], "/tasks?after_id=-1&limit=-1")
    assert refused.status_code == 422, refused.json
    said = {d["field"]: d["message_en"] for d in refused.json["details"]}
    assert said == {
        "after_id": f"a whole number from 0 to {MAX_ID}",
        "limit": "a whole number from 1 to 500",
    }
    listed = _get(app, tokens["clerk"], "/tasks?after_id=0&limit=500")
    assert listed.status_code == 200 and listed.json["tasks"] == [], listed.json


def test_a_body_starting_with_a_byte_order_mark_is_read(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    body = json.dumps({"id_number": DAVE, "name": "张伟", "region": "huian"}).encode()
    headers = {
        "Authorization": f"Bearer {tokens['app']}",
        "Content-Type": "application/json",
        "Idempotency-Key": "bom-1",
    }
    made = client.post("/api/v1/registrations", data=BOM + body, headers=headers)
    assert made.status_code == 201, made.json
    # the mark is no part of the content: the same body without it is the same request
    again = client.post("/api/v1/registrations", data=body, headers=headers)
    assert again.status_code == 201 and again.json["transition"]["replayed"] is True, again.json
    assert again.json["person"] == made.json["person"]
    # a mark anywhere else is still not JSON
    inside = client.post(
        "/api/v1/registrations", data=b" " + BOM + body, headers={**headers, "Idempotency-Key": "2"}
    )
    assert inside.status_code == 400 and inside.json["code"] == "malformed_json", inside.json
