"""Fixtures of the security tests that call the JSON API with tokens of several scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # huian-2023's payment period is open


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    """The service on this test's database at ``NOW``, with CSRF checks on."""
    return make_app(SimulatedClock(NOW), csrf=True)


@pytest.fixture
def tokens(app: Flask, request: pytest.FixtureRequest) -> dict[str, str]:
    """A token for each name of the test module's ``SCOPES`` (name: scope), by name."""
    db = engine_of(app).db
    scopes: dict[str, str] = request.module.SCOPES
    return {name: create_token(db, name, [scope]) for name, scope in scopes.items()}
