"""``POST /imports/people`` counts its rows one way, and takes lists as ``/registrations`` does
(QA B.5). A 422's ``details`` named a row by its JSON place (``rows.2``: the third row) while a
200's ``rejected[].line`` counted from 1 (``2``: the second row): a client fixing "row 2" edited
the wrong one. Each detail about a row now also gives ``line``, counted from 1 as ``rejected[]``
counts, and the message names it. ``reduction_categories`` and ``flags``, lists at
``/registrations`` and ``|``-separated text in files, were refused as a list (``expected text``,
no hint of the ``|`` form): the import takes either."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Flask

from engine import queries
from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import create_app
from web.extensions import engine_of
from workflows.identity import make_id_number

LISTED = make_id_number("350521", date(1980, 3, 3), 21)
TEXT = make_id_number("350521", date(1981, 4, 4), 23)
THIRD = make_id_number("350521", date(1982, 5, 5), 25)


def _app(url: str) -> Flask:
    return create_app(
        {"SHEBAO_DATABASE_URL": url, "TESTING": True},
        clock=SimulatedClock(datetime(2021, 10, 12, 2, tzinfo=UTC)),
    )


def _post(app: Flask, rows: list[dict[str, Any]]) -> Any:
    if "token" not in app.config:
        app.config["token"] = create_token(engine_of(app).db, "importer", ["import"])
    return app.test_client().post(
        "/api/v1/imports/people",
        json={"rows": rows},
        headers={"Authorization": f"Bearer {app.config['token']}"},
    )


def _variables(app: Flask, id_number: str) -> dict[str, Any]:
    [(record, _state)] = queries.by_business_key(engine_of(app).db, "person", id_number)
    found = queries.instance(engine_of(app).db, record)
    assert found is not None
    return dict(found["variables"])


def _row(id_number: str, **facts: Any) -> dict[str, Any]:
    return {"id_number": id_number, "name": "某", "region": "huian", **facts}


def test_lists_and_separated_text_are_taken_alike(db_url: str) -> None:
    app = _app(db_url)
    answer = _post(
        app,
        [
            _row(LISTED, reduction_categories=["low_income", "dibao"], flags=["disabled"]),
            _row(TEXT, reduction_categories="low_income|dibao", flags="disabled"),
            _row(THIRD, reduction_categories=[], flags=[]),
        ],
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["applied"] == 3 and answer.json["rejected"] == [], answer.json
    for who in (LISTED, TEXT):
        held = _variables(app, who)
        assert held["reduction_categories"] == ["dibao", "low_income"]
        assert held["flags"] == ["disabled"]
    assert _variables(app, THIRD)["flags"] == []
    # the same person again, their facts as a list: unchanged, as the text form is
    again = _post(app, [_row(TEXT, reduction_categories=["dibao", "low_income"], flags="disabled")])
    assert again.status_code == 200 and again.json["unchanged"] == 1, again.json


def test_a_detail_about_a_row_names_its_line_as_rejected_rows_do(db_url: str) -> None:
    app = _app(db_url)
    rows = [
        _row(LISTED),
        _row(TEXT, flags="disabled|bogus"),  # a rule's refusal: rejected[] counts from 1
        _row(THIRD, reduction_categories=5),  # a shape's refusal: 422
    ]
    refused = _post(app, rows)
    assert refused.status_code == 422, refused.json
    [detail] = refused.json["details"]
    assert detail["field"] == "rows.2.reduction_categories"  # the JSON place, from 0
    assert detail["line"] == 3  # the row, from 1
    assert "“|”" in detail["message_zh"] and "separated by |" in detail["message_en"], detail
    assert "rows.2.reduction_categories (line 3)" in refused.json["message_en"]
    assert "rows.2.reduction_categories（第 3 行）" in refused.json["message_zh"]
    assert queries.total_instances(engine_of(app).db) == 0  # nothing of the batch written

    # a list whose item is not a category's code: named at the item, with the row's line
    rows[2] = _row(THIRD, reduction_categories=["dibao", "Low Income"])
    refused = _post(app, rows)
    assert refused.status_code == 422, refused.json
    [detail] = refused.json["details"]
    assert (detail["field"], detail["line"]) == ("rows.2.reduction_categories.1", 3)

    # a control character, refused before the model: the same line
    refused = _post(app, [rows[0], _row(TEXT, name="某\u0007")])
    assert refused.status_code == 422 and refused.json["code"] == "invalid_characters"
    [detail] = refused.json["details"]
    assert (detail["field"], detail["line"]) == ("rows.1.name", 2), detail

    rows[2] = _row(THIRD, reduction_categories=["dibao"])
    answer = _post(app, rows)
    assert answer.status_code == 200, answer.json
    [rejected] = answer.json["rejected"]
    assert rejected["line"] == 2 and "unknown flag bogus" in rejected["message_en"], rejected
    assert answer.json["applied"] == 2


def test_a_body_problem_outside_the_rows_has_no_line(db_url: str) -> None:
    app = _app(db_url)
    refused = _post(app, [])
    assert refused.status_code == 422, refused.json
    assert [d["field"] for d in refused.json["details"]] == ["rows"]
    assert "line" not in refused.json["details"][0]
    token = app.config["token"]
    refused = app.test_client().post(
        "/api/v1/imports/people",
        json={"rows": [_row(LISTED)], "extra": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 422, refused.json
    assert [d["field"] for d in refused.json["details"]] == ["extra"]
    assert "line" not in refused.json["details"][0]
