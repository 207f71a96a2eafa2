"""Property-based API test: schemathesis generates requests from the served OpenAPI description.

No request may answer 5xx, and every answer must match the description (status codes, content
type, body schema). The number of examples is bounded so the test runs in CI in under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.extensions import domain_of
from workflows.cards import apply_for_card
from workflows.identity import make_id_number
from workflows.imports import import_people
from workflows.payments import open_renewals
from workflows.people import Registration, register_person

ALL_SCOPES = ["channel", "factory", "tax", "read", "import", "bank:icbc", "clerk:huian"]
EXAMPLES = 30  # per operation: bounded so CI stays fast
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from web.migrate import upgrade_database

    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    upgrade_database(url)
    clock = SimulatedClock(datetime(2022, 10, 10, 2, tzinfo=UTC))
    app = create_app({"SHEBAO_DATABASE_URL": url, "TESTING": True}, clock=clock)
    engine, domain = engine_of(app), domain_of(app)
    people = [make_id_number("350521", date(1960 + i, 3, 3), 1 + i) for i in range(5)]
    for person in people:
        apply_for_card(
            engine,
            domain.regions,
            id_number=person,
            channel="online",
            bank="icbc",
            region_code="350521",
            actor="seed",
        )
    # insured people with a renewed year, and one registration waiting for a clerk
    rows = [(i, {"id_number": p, "name": "张三", "region": "huian"}) for i, p in enumerate(people)]
    assert import_people(engine, domain, rows, actor="seed").rejected == []
    policy = domain.regions.policy("huian-2023")
    assert policy is not None
    open_renewals(engine, policy, [{"id_number": p, "region": "huian"} for p in people])
    newcomer = make_id_number("350521", date(1990, 1, 1), 7)
    register_person(
        engine, domain, Registration(id_number=newcomer, name="李四", region="huian"), actor="seed"
    )
    token = create_token(engine.db, "fuzzer", ALL_SCOPES)
    yield app, token
    engine.db.dispose()


@pytest.mark.slow
def test_api_matches_its_description_and_never_fails(served: tuple[Any, str]) -> None:
    """Every operation of the served description, with bounded generated examples each."""
    app, token = served
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # cards, registrations, imports, years, payments, tasks, ...

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        check()
