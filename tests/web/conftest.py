"""Fixtures of the web tests that several modules use alike: the service's clock at the module's
``NOW``, the service with the inbox tests' team of staff, and a copy of the definition files that
a test may change. A module that needs another service or clock defines its own fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from support import TEAM, MakeApp

from engine.clock import SimulatedClock
from web.config import PROJECT_ROOT


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> SimulatedClock:
    """The service's clock, at the test module's ``NOW``."""
    return SimulatedClock(request.module.NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    """The service on this test's database at ``clock``, with ``TEAM`` (two ICBC tellers, a BOC
    teller and a supervisor)."""
    return make_app(clock, staff=TEAM)


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    """A copy of the definition files (and their policies) that the test may change."""
    folder = tmp_path / "definitions"
    shutil.copytree(PROJECT_ROOT / "definitions", folder, ignore=shutil.ignore_patterns("*.md"))
    return folder
