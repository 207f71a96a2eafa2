"""No input answers 5xx: the body is read safely and checked before any work is done.

A body nested 20,000 levels deep, a lone surrogate, a NUL, a payment time of "x", a body of a
megabyte, bytes that are not UTF-8, ``NaN``, duplicate keys, digits that are not ASCII: each is a
4xx with the documented JSON error body, and nothing is written (not even an idempotency key).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import queries
from engine.statements import keys as idempotency_keys
from web.api import routes as api_routes  # noqa: F401  (imports every endpoint module: fills ENDPOINTS)
from web.api.bodies import MAX_DEPTH, nesting_depth
from web.api.spec import ENDPOINTS, ErrorBody
from web.app import engine_of
from web.extensions import domain_of
from workflows.identity import make_id_number
from workflows.imports import import_people

PERSON = make_id_number("350521", date(1980, 3, 3), 15)
CARD = {"id_number": PERSON, "channel": "online", "bank": "icbc", "region_code": "350521"}
SCOPES = {
    "app": "channel",
    "tax": "tax",
    "importer": "import",
    "icbc": "bank:icbc",
    "clerks": "clerk:huian",
    "board": "read",
    "admin": "admin",
}
"""The tokens the ``tokens`` fixture makes (``conftest.py``): name and scope."""


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def raw(client: FlaskClient, path: str, token: str, data: bytes | str, **headers: str) -> Any:
    return client.post(
        f"/api/v1{path}",
        data=data,
        content_type=headers.pop("content_type", "application/json"),
        headers=bearer(token, **headers),
    )


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    ErrorBody.model_validate(body)  # the documented error body
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


def nothing_written(app: Flask) -> None:
    db = engine_of(app).db
    assert queries.total_instances(db) == 0
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(idempotency_keys)).scalar() == 0


BODY_ENDPOINTS = sorted(
    {(e.path, e.scopes) for e in ENDPOINTS if e.body is not None and "{" not in e.path}
)
"""Every endpoint that takes a body and has no path parameter: (path, scopes)."""


def token_for(tokens: dict[str, str], scopes: tuple[str, ...]) -> str:
    wanted = {
        "channel": "app",
        "tax": "tax",
        "import": "importer",
        "read": "board",
        "admin": "admin",
    }
    return tokens[next(wanted[s] for s in scopes if s in wanted)]


def test_nesting_depth_is_counted_outside_strings_without_recursion() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert nesting_depth('"\\"[[[["') == 0
    assert nesting_depth("[" * 100_000, limit=MAX_DEPTH) == MAX_DEPTH + 1  # stops counting


@pytest.mark.parametrize(("path", "scopes"), BODY_ENDPOINTS)
def test_a_body_nested_20000_levels_deep_is_400_on_every_endpoint(
    app: Flask, tokens: dict[str, str], path: str, scopes: tuple[str, ...]
) -> None:
    client = app.test_client()
    deep = "[" * 20_000 + "]" * 20_000
    body = assert_error(raw(client, path, token_for(tokens, scopes), deep), 400, "too_deep")
    assert str(MAX_DEPTH) in body["message_en"]
    inside = '{"id_number": ' + deep + "}"  # deep inside an object
    assert_error(raw(client, path, token_for(tokens, scopes), inside), 400, "too_deep")
    nothing_written(app)


def test_the_nesting_limit_is_32_levels(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()

    def nested(levels: int) -> str:  # the body itself is level 1, ``data`` level 2
        value = "1"
        for _ in range(levels - 2):
            value = "[" + value + "]"
        return json.dumps({"event": "produce"})[:-1] + ', "data": {"x": ' + value + "}}"

    assert nesting_depth(nested(MAX_DEPTH)) == MAX_DEPTH
    # within the limit the body is read and validated (data values are scalars)
    assert_error(
        raw(client, "/cards/1/events", tokens["app"], nested(MAX_DEPTH)), 422, "invalid_request"
    )
    assert_error(
        raw(client, "/cards/1/events", tokens["app"], nested(MAX_DEPTH + 1)), 400, "too_deep"
    )


@pytest.mark.parametrize(
    "paid_at",
    [
        "x",
        "",
        12345,
        True,
        [],
        "2022-10-09T10:00:00",  # no offset
        "2022-13-01T00:00:00+08:00",
        "0001-01-01T00:00:00+14:00",  # before 2000 (and out of range in UTC)
        "9999-12-31T23:59:59-14:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "1643680800",  # epoch seconds: not RFC 3339 (events refuse it too)
        "1643680800000",
        "20220201T10+08",  # ISO basic: not RFC 3339
        "2022-W05-2T10:00+08:00",
        "２０２２-10-09T10:00:00+08:00",  # full-width digits
    ],
)
def test_paid_at_is_parsed_by_the_schema(app: Flask, tokens: dict[str, str], paid_at: Any) -> None:
    client = app.test_client()
    for path in ("/payments", "/enrollments/1/payments"):
        body: dict[str, Any] = {"amount": "360", "paid_at": paid_at}
        if path == "/payments":
            body["id_number"] = PERSON
        answer = client.post(f"/api/v1{path}", json=body, headers=bearer(tokens["tax"]))
        found = assert_error(answer, 422, "invalid_request")
        assert [d["loc"] for d in found["details"]] == [["paid_at"]], found
    nothing_written(app)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/cards",
            '{"id_number": "\\ud800", "channel": "online", "bank": "icbc", '
            '"region_code": "350521"}',
        ),
        ("/cards", json.dumps({**CARD, "outlet": "x"}).replace('"x"', '"\\udfff"')),
        ("/cards/1/events", '{"event": "produce", "data": {"batch": "\\ud83d"}}'),
        ("/cards/1/events", '{"event": "produce", "data": {"\\ud800": 1}}'),
        ("/registrations", f'{{"id_number": "{PERSON}", "name": "\\ud800", "region": "huian"}}'),
    ],
)
def test_a_lone_surrogate_with_an_idempotency_key_is_refused_before_any_work(
    app: Flask, tokens: dict[str, str], path: str, body: str
) -> None:
    client = app.test_client()
    for attempt in range(2):  # the same key twice: refused both times, nothing remembered
        answer = raw(client, path, tokens["app"], body, **{"Idempotency-Key": "k-1"})
        found = assert_error(answer, 422, "invalid_characters")
        assert "surrogate" in found["message_en"], attempt
    nothing_written(app)


@pytest.mark.parametrize(
    ("path", "token", "body"),
    [
        ("/registrations", "app", {"id_number": PERSON, "name": "张\u0000三", "region": "huian"}),
        (
            "/registrations",
            "app",
            {"id_number": PERSON + "\u0000", "name": "张三", "region": "huian"},
        ),
        (
            "/registrations",
            "app",
            {"id_number": PERSON, "name": "张三", "region": "huian", "household": "F\u00001"},
        ),
        ("/cards", "app", {**CARD, "outlet": "\u0000"}),
        ("/cards", "app", {**CARD, "outlet": "a\u001bb"}),  # ESC
        ("/cards", "app", {**CARD, "outlet": "a\u0085b"}),  # a C1 control
        ("/cards/1/events", "app", {"event": "produce", "data": {"note": "a\u0000"}}),
        ("/cards/1/events", "app", {"event": "produce", "data": {"a\u0000": "x"}}),
        (
            "/imports/people",
            "importer",
            {"rows": [{"id_number": PERSON, "name": "\u0000", "region": "huian"}]},
        ),
        ("/payments", "tax", {"id_number": PERSON, "amount": "360", "channel": "tax\u0000"}),
        ("/people/cards", "app", {"id_number": "\u0000"}),
        ("/people/enrollments", "app", {"id_number": PERSON[:9] + "\u0000" + PERSON[10:]}),
    ],
)
def test_nul_and_other_control_characters_are_refused_before_any_work(
    app: Flask, tokens: dict[str, str], path: str, token: str, body: dict[str, Any]
) -> None:
    """On PostgreSQL a NUL cannot be stored: it is refused before the database sees it."""
    answer = app.test_client().post(
        f"/api/v1{path}", json=body, headers=bearer(tokens[token], **{"Idempotency-Key": "n-1"})
    )
    assert_error(answer, 422, "invalid_characters")
    nothing_written(app)


def test_tab_newline_and_return_are_text_but_not_in_one_line_fields(
    app: Flask, tokens: dict[str, str]
) -> None:
    client = app.test_client()
    answer = client.post(
        "/api/v1/registrations",
        json={"id_number": PERSON, "name": "张\n三", "region": "huian"},
        headers=bearer(tokens["app"]),
    )
    found = assert_error(answer, 422, "invalid_request")  # a name is one line
    assert found["details"][0]["loc"] == ["name"]
    for separator in ("\u2028", "\u2029"):  # Unicode's line and paragraph separators too
        answer = client.post(
            "/api/v1/registrations",
            json={"id_number": PERSON, "name": "张三", "household": f"H{separator}1"},
            headers=bearer(tokens["app"]),
        )
        found = assert_error(answer, 422, "invalid_request")
        assert ["household"] in [d["loc"] for d in found["details"]]
    nothing_written(app)


def test_an_oversized_body_is_413_as_json(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    big = json.dumps({**CARD, "outlet": "x" * 1_000_000})
    assert_error(raw(client, "/cards", tokens["app"], big), 413, "body_too_large")
    rows = [{"id_number": PERSON, "name": "张三", "region": "huian"}] * 1000
    batch = json.dumps({"rows": rows})
    padded = batch + " " * 1024 * 1024
    assert_error(raw(client, "/imports/people", tokens["importer"], padded), 413, "body_too_large")
    nothing_written(app)
    assert 64 * 1024 < len(batch) < 1024 * 1024  # but a batch of 1,000 people is taken
    taken = raw(client, "/imports/people", tokens["importer"], batch)
    assert taken.status_code == 200, taken.get_json()


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (b'{"id_number": "\xff\xfe"}', "application/json", "malformed_json"),  # not UTF-8
        (b'{"id_number": "\xed\xa0\x80"}', "application/json", "malformed_json"),  # a raw surrogate
        (b"", "application/json", "malformed_json"),
        (b"{not json", "application/json", "malformed_json"),
        (b'{"a": 1} trailing', "application/json", "malformed_json"),
        (b'{"amount": NaN}', "application/json", "malformed_json"),
        (b'{"amount": Infinity}', "application/json", "malformed_json"),
        (b'{"amount": -Infinity}', "application/json", "malformed_json"),
        (b'{"amount": 1e999}', "application/json", "malformed_json"),
        (b'{"amount": ' + b"9" * 5000 + b"}", "application/json", "malformed_json"),
        (b'{"id_number": "1", "id_number": "2"}', "application/json", "malformed_json"),
        (json.dumps(CARD).encode(), "text/plain", "not_json"),
        (json.dumps(CARD).encode(), "application/x-www-form-urlencoded", "not_json"),
    ],
)
def test_malformed_bodies_are_400(
    app: Flask, tokens: dict[str, str], data: bytes, content_type: str, code: str
) -> None:
    client = app.test_client()
    answer = raw(client, "/cards", tokens["app"], data, content_type=content_type)
    assert_error(answer, 400, code)
    nothing_written(app)


@pytest.mark.parametrize("key", ["", "a b", " k", "k" * 201, "ключ", "k\t1"])
def test_an_idempotency_key_is_1_to_200_printable_ascii_characters(
    app: Flask, tokens: dict[str, str], key: str
) -> None:
    answer = app.test_client().post(
        "/api/v1/cards", json=CARD, headers=bearer(tokens["app"], **{"Idempotency-Key": key})
    )
    assert_error(answer, 400, "bad_idempotency_key")
    nothing_written(app)


def test_the_same_key_and_the_same_content_replay_however_it_is_spelled(
    app: Flask, tokens: dict[str, str]
) -> None:
    client = app.test_client()
    first = raw(client, "/cards", tokens["app"], json.dumps(CARD), **{"Idempotency-Key": "a-1"})
    spelled = json.dumps(dict(reversed(list(CARD.items()))), indent=4)
    again = raw(client, "/cards", tokens["app"], spelled, **{"Idempotency-Key": "a-1"})
    assert first.status_code == again.status_code == 201, again.get_json()
    assert again.get_json()["transition"]["replayed"] is True
    other = raw(
        client,
        "/cards",
        tokens["app"],
        json.dumps({**CARD, "channel": "counter"}),
        **{"Idempotency-Key": "a-1"},
    )
    assert_error(other, 422, "idempotency_conflict")
    assert queries.total_instances(engine_of(app).db) == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/registrations/²", 404),  # str.isdigit() says yes, int() says no
        ("/registrations/١٢", 404),  # Arabic-Indic digits
        ("/cards/9007199254740993", 404),  # past 2**53
        ("/cards/00000000000000000001", 404),
        ("/tasks?after_id=²", 422),
        ("/tasks?limit=١٠", 422),
        ("/tasks?after_id=-1", 422),
    ],
)
def test_path_and_query_numbers_are_ascii_digits(
    app: Flask, tokens: dict[str, str], path: str, status: int
) -> None:
    token = tokens["clerks"] if path.startswith("/tasks") else tokens["board"]
    assert_error(app.test_client().get(f"/api/v1{path}", headers=bearer(token)), status)


def test_a_valid_request_still_works_on_every_database(app: Flask, tokens: dict[str, str]) -> None:
    """The checks refuse only what they should: tab, newline and return are fine in free text."""
    import_people(
        engine_of(app),
        domain_of(app),
        [(1, {"id_number": PERSON, "name": "张三", "region": "huian"})],
        actor="t",
    )
    client = app.test_client()
    card = client.post("/api/v1/cards", json=CARD, headers=bearer(tokens["app"]))
    assert card.status_code == 201, card.get_json()
    # the import opened huian-2023 (its period is open), as a clerk's approval would have
    years = client.post(
        "/api/v1/people/enrollments", json={"id_number": PERSON}, headers=bearer(tokens["app"])
    )
    assert years.status_code == 200, years.get_json()
    [year] = years.get_json()["unpaid"]
    failed = client.post(
        f"/api/v1/enrollments/{year['enrollment_id']}/events",
        json={"event": "fail_deduction", "data": {"reason": "余额不足\t(账户\r\n冻结)"}},
        headers=bearer(tokens["tax"]),
    )
    assert failed.status_code == 200, failed.get_json()


def test_a_401_names_the_bearer_scheme(app: Flask) -> None:
    answer = app.test_client().get("/api/v1/cards/1")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_errors_do_not_echo_what_a_careless_client_put_in_keys_and_names(
    app: Flask, tokens: dict[str, str]
) -> None:
    client = app.test_client()
    leaked = "陈明 " + PERSON
    unknown = client.get(f"/api/v1/processes/{leaked}/counts", headers=bearer(tokens["board"]))
    assert unknown.status_code == 404 and PERSON[6:14] not in unknown.get_data(as_text=True)
    body = {**CARD, leaked: 1, "amout": 2}
    refused = assert_error(
        client.post("/api/v1/cards", json=body, headers=bearer(tokens["app"])), 422
    )
    locs = [d["loc"] for d in refused["details"]]
    assert ["<key>"] in locs and ["amout"] in locs  # a field-like name is named back
    assert "陈明" not in json.dumps(refused, ensure_ascii=False)
    key = "ChenMing-" + PERSON
    first = client.post(
        "/api/v1/cards", json=CARD, headers=bearer(tokens["app"], **{"Idempotency-Key": key})
    )
    assert first.status_code == 201
    other = {**CARD, "bank": "boc"}
    conflict = client.post(
        "/api/v1/cards", json=other, headers=bearer(tokens["app"], **{"Idempotency-Key": key})
    )
    assert_error(conflict, 422, "idempotency_conflict")
    assert PERSON[6:14] not in conflict.get_data(as_text=True)
