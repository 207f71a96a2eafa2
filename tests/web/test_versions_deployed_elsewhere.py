"""Definition versions another process deployed, as a running service meets them (QA, high): the
service keeps running while an operator deploys a changed ``enrollment.yaml`` (a state renamed)
and migrates the running years to it with the ``shebao`` command line. The running service's API,
labels and scheduler then work on the migrated years (never a second live year of one person and
policy), and its new years start on the version deployed; a read-only command deploys nothing."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.models import DeployedDefinition, Incident, Instance
from engine.scheduler import run_once
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.cli.main import main
from web.config import PROJECT_ROOT
from workflows.identity import make_id_number

NOW = datetime(2022, 9, 1, 2, tzinfo=UTC)  # 10:00 in Hui'an, its 2023 payment period open
PERIOD_OVER = datetime(2023, 1, 1, 2, tzinfo=UTC)
POLICY = "huian-2023"
NEW_LABEL = {"zh": "扣费未成功待缴", "en": "Deduction unpaid"}
DEPLOYED = DeployedDefinition.__table__
INSTANCES = Instance.__table__


@pytest.fixture
def definitions(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    shutil.copytree(PROJECT_ROOT / "definitions", folder, ignore=shutil.ignore_patterns("*.md"))
    return folder


def service(db_url: str, definitions: Path, **config: Any) -> Flask:
    """The service as it runs (its own clock; deployed versions looked at as configured)."""
    settings = {
        "SHEBAO_DATABASE_URL": db_url,
        "TESTING": True,
        "SHEBAO_DEFINITIONS": str(definitions),
        "SHEBAO_POLICIES": str(definitions / "policies"),
        "SHEBAO_DEFINITION_CHECK_SECONDS": 3600,  # only what it meets, unless a test says
        **config,
    }
    return create_app(settings, clock=SimulatedClock(NOW))


def shebao(db_url: str, definitions: Path, *args: str) -> Result:
    """The ``shebao`` command line, another process: it makes its own app (``start_app``)."""
    env = {
        "SHEBAO_DATABASE_URL": db_url,
        "SHEBAO_DEFINITIONS": str(definitions),
        "SHEBAO_POLICIES": str(definitions / "policies"),
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def person(n: int) -> str:
    return make_id_number("350521", date(1975, 7, 1 + n), 11)


class Running:
    """The running service and its API."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        db = engine_of(app).db
        self.tokens = {
            scope: create_token(db, f"t-{scope}", [scope]) for scope in ("channel", "tax", "import")
        }

    def api(self, method: str, path: str, scope: str, body: Any, expect: int) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[scope]}"}
        answer = self.client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert answer.status_code == expect, (path, answer.status_code, answer.get_json())
        return answer.get_json()

    def years(self, id_number: str) -> list[dict[str, Any]]:
        found = self.api("POST", "/people/enrollments", "channel", {"id_number": id_number}, 200)
        lists = ("closed", "paid", "unpaid", "refunded")
        return [y for name in lists for y in found.get(name, []) if y["policy"] == POLICY]

    def imported_year(self, id_number: str) -> int:
        rows = [{"id_number": id_number, "name": "惠", "region": "huian"}]
        self.api("POST", "/imports/people", "import", {"rows": rows}, 200)
        [year] = self.years(id_number)
        return int(year["enrollment_id"])


def rename_failed_state(definitions: Path) -> None:
    """``deduction_failed`` becomes ``deduction_unpaid`` (a new label too; the notice's kind
    stays)."""
    path = definitions / "enrollment.yaml"
    text = path.read_text(encoding="utf-8").replace("deduction_failed", "deduction_unpaid")
    text = text.replace("kind: deduction_unpaid", "kind: deduction_failed")
    text = text.replace(
        "label: {zh: 扣费失败, en: Deduction failed}",
        f"label: {{zh: {NEW_LABEL['zh']}, en: {NEW_LABEL['en']}}}",
    )
    path.write_text(text, encoding="utf-8")


def migrated_elsewhere(db_url: str, definitions: Path) -> tuple[Running, int]:
    """The running service with a Hui'an year whose deduction failed, then moved to enrollment
    v2 (the state renamed) by ``shebao definitions deploy`` and ``shebao instances migrate``
    while the service runs on."""
    running = Running(service(db_url, definitions))
    year = running.imported_year(person(0))
    failed = {"event": "fail_deduction", "data": {"reason": "余额不足"}}
    running.api("POST", f"/enrollments/{year}/events", "tax", failed, 200)
    rename_failed_state(definitions)
    deployed = shebao(db_url, definitions, "definitions", "deploy", "--actor", "ops")
    assert deployed.exit_code == 0 and "enrollment v2" in deployed.output, deployed.output
    moved = shebao(
        db_url,
        definitions,
        *("instances", "migrate", "enrollment", "--from", "1", "--to", "2"),
        *("--map", "deduction_failed=deduction_unpaid", "--actor", "ops"),
    )
    assert moved.exit_code == 0, moved.output
    found = queries.instance(engine_of(running.app).db, year)
    assert found is not None
    assert (found["definition_version"], found["state"]) == (2, "deduction_unpaid")
    return running, year


def instances_of_year(app: Flask, id_number: str) -> int:
    query = (
        select(func.count())
        .select_from(INSTANCES)
        .where(INSTANCES.c.business_key == f"{id_number}:{POLICY}")
    )
    with engine_of(app).db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_payment_pays_the_year_another_process_migrated(db_url: str, definitions: Path) -> None:
    running, year = migrated_elsewhere(db_url, definitions)
    paid = running.api(
        "POST", "/payments", "channel", {"id_number": person(0), "amount": "360.00"}, 200
    )
    moved = paid["transition"]
    assert (moved["instance_id"], moved["from_state"]) == (year, "deduction_unpaid"), paid
    assert instances_of_year(running.app, person(0)) == 1  # never a second year of the same policy
    assert [y["state"] for y in running.years(person(0))] == ["deducted"]


def test_the_tax_authority_deducts_a_year_another_process_migrated(
    db_url: str, definitions: Path
) -> None:
    running, year = migrated_elsewhere(db_url, definitions)
    deducted = {"event": "deduct", "data": {"amount": "360.00"}}
    done = running.api("POST", f"/enrollments/{year}/events", "tax", deducted, 200)
    assert (done["from_state"], done["to_state"]) == ("deduction_unpaid", "deducted"), done
    assert instances_of_year(running.app, person(0)) == 1


def test_the_years_show_the_label_of_the_state_another_process_deployed(
    db_url: str, definitions: Path
) -> None:
    running = Running(service(db_url, definitions, SHEBAO_DEFINITION_CHECK_SECONDS=0))
    year = running.imported_year(person(0))
    failed = {"event": "fail_deduction", "data": {"reason": "余额不足"}}
    running.api("POST", f"/enrollments/{year}/events", "tax", failed, 200)
    rename_failed_state(definitions)
    assert shebao(db_url, definitions, "definitions", "deploy").exit_code == 0
    moved = shebao(
        db_url,
        definitions,
        *("instances", "migrate", "enrollment", "--from", "1", "--to", "2"),
        *("--map", "deduction_failed=deduction_unpaid"),
    )
    assert moved.exit_code == 0, moved.output
    [shown_after] = running.years(person(0))
    assert shown_after["state"] == "deduction_unpaid"
    assert shown_after["state_label"] == NEW_LABEL


def test_new_years_start_on_the_version_another_process_deployed(
    db_url: str, definitions: Path
) -> None:
    running = Running(service(db_url, definitions, SHEBAO_DEFINITION_CHECK_SECONDS=0))
    before = running.imported_year(person(0))
    rename_failed_state(definitions)
    assert shebao(db_url, definitions, "definitions", "deploy").exit_code == 0
    after = running.imported_year(person(1))
    db = engine_of(running.app).db
    versions = [queries.instance(db, iid)["definition_version"] for iid in (before, after)]  # type: ignore[index]
    assert versions == [1, 2]
    failed = {"event": "fail_deduction", "data": {"reason": "余额不足"}}
    done = running.api("POST", f"/enrollments/{after}/events", "tax", failed, 200)
    assert done["to_state"] == "deduction_unpaid"  # v2's rules


def test_the_running_scheduler_fires_the_timer_of_a_year_another_process_migrated(
    db_url: str, definitions: Path
) -> None:
    running, year = migrated_elsewhere(db_url, definitions)
    engine = engine_of(running.app)
    report = run_once(engine, PERIOD_OVER)  # the scheduler inside the running service
    assert report.failed == 0, report
    found = queries.instance(engine.db, year)
    assert found is not None and found["state"] == "lapsed"
    with engine.db.connect() as conn:
        incidents = conn.execute(select(func.count()).select_from(Incident.__table__)).scalar_one()
    assert incidents == 0


def deployments(db_url: str) -> list[tuple[str, int, str]]:
    db = make_engine(db_url)
    with db.connect() as conn:
        rows = conn.execute(select(DEPLOYED.c.key, DEPLOYED.c.version, DEPLOYED.c.content_hash))
        found = sorted((r.key, r.version, r.content_hash) for r in rows)
    db.dispose()
    return found


@pytest.mark.parametrize(
    "command",
    [
        ("definitions", "versions", "person"),
        ("definitions", "validate"),
        ("clock", "show"),
    ],
)
def test_a_read_only_command_deploys_nothing(
    db_url: str, definitions: Path, command: tuple[str, ...]
) -> None:
    engine_of(service(db_url, definitions)).db.dispose()  # the service started: v1 of each
    before = deployments(db_url)
    path = definitions / "person.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    done = shebao(db_url, definitions, *command)
    assert done.exit_code == 0, done.output
    assert "person v2" not in done.output
    assert deployments(db_url) == before
    deployed = shebao(db_url, definitions, "definitions", "deploy", "--actor", "ops")
    assert "person v2: deployed" in deployed.output  # the command that deploys still does


def test_a_second_card_is_refused_beside_one_another_process_migrated(
    db_url: str, definitions: Path
) -> None:
    """The one-card rule, judged before the running service looked for new versions: the card
    that another process moved into a renamed usable state still counts."""
    running = Running(service(db_url, definitions))
    engine = engine_of(running.app)
    holder = make_id_number("440604", date(1980, 1, 2), 11)
    application = {
        "id_number": holder,
        "channel": "online",
        "bank": "icbc",
        "region_code": "440604",
    }
    card = running.api("POST", "/cards", "channel", application, 201)["card"]["id"]
    for event in ("produce", "notify_holder"):
        engine.fire(card, event)
    engine.fire(card, "activate", data={"presented_id_number": holder})
    path = definitions / "card.yaml"
    path.write_text(
        re.sub(r"\bactive\b", "in_use", path.read_text(encoding="utf-8")), encoding="utf-8"
    )
    assert shebao(db_url, definitions, "definitions", "deploy").exit_code == 0
    args = ("instances", "migrate", "card", "--from", "1", "--to", "2", "--map", "active=in_use")
    moved = shebao(db_url, definitions, *args)
    assert moved.exit_code == 0, moved.output

    refused = running.api("POST", "/cards", "channel", application, 422)
    assert refused["code"] == "card_application_refused"
    assert f"card {card}" in refused["message_en"], refused
    with engine.db.connect() as conn:
        cards = conn.execute(
            select(func.count()).select_from(INSTANCES).where(INSTANCES.c.process == "card")
        ).scalar_one()
    assert cards == 1
