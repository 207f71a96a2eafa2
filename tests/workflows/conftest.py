"""Fixtures for the domain tests: the real definitions and policies over a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engine.clock import SimulatedClock
from engine.runtime import Engine
from web.config import PROJECT_ROOT
from web.wiring import Service, build_service
from workflows.domain import Domain
from workflows.policy import Policy
from workflows.policy_loader import load_policies


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2022, 10, 10, 2, 0, tzinfo=UTC))


@pytest.fixture
def service(sqlite_url: str, clock: SimulatedClock) -> Iterator[Service]:
    built = build_service(
        sqlite_url,
        str(PROJECT_ROOT / "definitions"),
        str(PROJECT_ROOT / "definitions" / "policies"),
        clock=clock,
    )
    yield built
    built.engine.db.dispose()


@pytest.fixture
def engine(service: Service) -> Engine:
    return service.engine


@pytest.fixture
def domain(service: Service) -> Domain:
    return service.domain


@pytest.fixture(scope="session")
def policies() -> dict[str, Policy]:
    return load_policies(PROJECT_ROOT / "definitions" / "policies")
