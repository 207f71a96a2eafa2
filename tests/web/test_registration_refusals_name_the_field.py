"""A registration's refused facts name their field, in the same words in both languages, and an
unknown policy year is refused as such (QA B4).

``POST /registrations`` with a bad ``name`` (a right-to-left override, only spaces) or an unknown
``region`` was a 422 ``registration_refused`` without ``details``, and the Chinese said less than
the English (``姓名无效``; ``未知的参保地：nowhere`` without the regions). ``POST /enrollments`` with
an unknown ``policy`` was coded ``registration_refused``. Now each names the field in
``details`` (``field``, ``message_zh``, ``message_en``), both languages give the same facts, the
people import and the command line say the same words, and an unknown policy is ``422
unknown_policy`` naming ``policy`` and listing the policies that may be named. Nothing is written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from tests.web.insured_years import insured_year
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # huian-2023's payment period is open
DAVE = make_id_number("350521", date(1991, 3, 3), 33)
CAROL = make_id_number("350521", date(1992, 2, 2), 41)
SCOPES = {"app": "channel", "tax": "tax", "importer": "import"}


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def call(app: Flask) -> Any:
    tokens = {n: create_token(engine_of(app).db, n, [s]) for n, s in SCOPES.items()}
    client = app.test_client()

    def call(method: str, path: str, who: str, body: Any, expect: int) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        answer = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert answer.status_code == expect, (path, answer.status_code, answer.json)
        return dict(answer.json)

    return call


def _field_named(refused: dict[str, Any], code: str, field: str) -> dict[str, Any]:
    """The one detail of a 422 ``code`` refusal, which names ``field`` in both languages."""
    assert refused["code"] == code, refused
    [detail] = refused["details"]
    assert detail["field"] == field, refused
    assert detail["message_zh"] and detail["message_en"], refused
    return dict(detail)


def _nothing_written(call: Any) -> None:
    """Dave has no record: the refused registrations wrote none, so his registration with the
    facts right is taken (a second one would be refused: he would have a record already)."""
    body = {"id_number": DAVE, "name": "张伟", "region": "huian"}
    call("POST", "/registrations", "app", body, 201)


@pytest.mark.parametrize("name", ["a\u202eb", "   "])
def test_a_bad_name_is_refused_naming_the_field_alike_in_both_languages(
    call: Any, name: str
) -> None:
    body = {"id_number": DAVE, "name": name, "region": "huian"}
    refused = call("POST", "/registrations", "app", body, 422)
    detail = _field_named(refused, "registration_refused", "name")
    for text in (refused["message_zh"], detail["message_zh"]):
        assert "1 至 64 个可打印字符" in text, refused  # the rule, not only 姓名无效
    for text in (refused["message_en"], detail["message_en"]):
        assert "1 to 64 printable characters" in text, refused
    _nothing_written(call)


def test_an_unknown_region_is_refused_naming_the_field_and_the_regions(call: Any) -> None:
    body = {"id_number": DAVE, "name": "张伟", "region": "nowhere"}
    refused = call("POST", "/registrations", "app", body, 422)
    detail = _field_named(refused, "registration_refused", "region")
    for text in (refused["message_zh"], refused["message_en"]):
        assert "nowhere" in text and "foshan" in text and "huian" in text, refused
    for text in (detail["message_zh"], detail["message_en"]):
        assert "foshan" in text and "huian" in text, detail
    _nothing_written(call)


def test_the_people_import_and_the_command_line_say_the_same_words(app: Flask, call: Any) -> None:
    rows = [
        {"id_number": DAVE, "name": "   ", "region": "huian"},
        {"id_number": DAVE, "name": "张伟", "region": "nowhere"},
    ]
    report = call("POST", "/imports/people", "importer", {"rows": rows}, 200)
    name, region = report["rejected"]
    assert "1 至 64 个可打印字符" in name["message_zh"], name
    assert "1 to 64 printable characters" in name["message_en"], name
    assert "foshan" in region["message_zh"] and "huian" in region["message_zh"], region
    args = ["people", "register", "--id-number", DAVE, "--name", "张伟", "--region", "nowhere"]
    said = app.test_cli_runner().invoke(main, args)
    assert said.exit_code != 0
    assert "未知的参保地：nowhere（可选：foshan、huian）" in said.output, said.output


def test_an_unknown_policy_is_its_own_refusal_naming_the_field(app: Flask, call: Any) -> None:
    insured_year(app, CAROL)
    for policy, listed, unlisted in (
        ("x", ("foshan-2022", "huian-2023"), ()),
        ("huian-2030", ("huian-2022", "huian-2023"), ("foshan-2022",)),  # the region's years
    ):
        body = {"id_number": CAROL, "policy": policy}
        refused = call("POST", "/enrollments", "app", body, 422)
        detail = _field_named(refused, "unknown_policy", "policy")
        for text in (refused["message_zh"], refused["message_en"]):
            assert policy in text, refused
        for text in (
            refused["message_zh"],
            refused["message_en"],
            detail["message_zh"],
            detail["message_en"],
        ):
            assert all(p in text for p in listed), refused
            assert not any(p in text for p in unlisted), refused
        # the tax app's door by ID number: the same refusal
        payment = {"id_number": CAROL, "amount": "360.00", "policy": policy}
        assert call("POST", "/payments", "tax", payment, 422) == refused
    # a policy code that is someone's ID number is not echoed
    body = {"id_number": CAROL, "policy": DAVE}
    refused = call("POST", "/enrollments", "app", body, 422)
    assert DAVE not in str(refused) and mask_id_number(DAVE) in refused["message_en"]
    # nothing was opened: her huian-2023 year is the only one
    years = call("POST", "/people/enrollments", "app", {"id_number": CAROL}, 200)
    listed_years = [y for part in years.values() if isinstance(part, list) for y in part]
    assert [y["policy"] for y in listed_years] == ["huian-2023"], years
    said = app.test_cli_runner().invoke(
        main, ["people", "open-year", "--id-number", CAROL, "--policy", "x"]
    )
    assert said.exit_code != 0 and "未知的年度政策：x（可选：" in said.output, said.output
