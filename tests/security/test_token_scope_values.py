"""``shebao tokens create`` refuses a scope naming a bank or a region the policies do not know, as
``users create`` does: a usage error naming the valid values, and no token made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from web.api.tokens import list_tokens
from web.app import engine_of
from web.cli.main import main


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(datetime(2022, 10, 10, 2, tzinfo=UTC)))


@pytest.mark.parametrize(
    ("scope", "named", "valid"),
    [("bank:nosuchbank", "nosuchbank", "icbc"), ("clerk:beijing", "beijing", "huian")],
)
def test_a_token_for_an_unknown_bank_or_region_is_refused(
    app: Flask, scope: str, named: str, valid: str
) -> None:
    runner = app.test_cli_runner()
    refused = runner.invoke(main, ["tokens", "create", "x-1", "--scope", "read", "--scope", scope])
    assert refused.exit_code == 2, refused.output
    assert named in refused.output and valid in refused.output
    assert list_tokens(engine_of(app).db) == []


def test_known_banks_and_regions_are_accepted(app: Flask) -> None:
    runner = app.test_cli_runner()
    for name, scope in (("bank-1", "bank:icbc"), ("clerks-1", "clerk:huian")):
        made = runner.invoke(main, ["tokens", "create", name, "--scope", scope])
        assert made.exit_code == 0, made.output
    assert sorted(t["name"] for t in list_tokens(engine_of(app).db)) == ["bank-1", "clerks-1"]
