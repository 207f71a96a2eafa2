"""A migration is not a business step (QA): a card produced on v1, then migrated to a v2 that
renames ``produced`` to ``manufactured`` (``--map produced=manufactured``), keeps its production
time in its production progress (制卡进度, what the channel tells the holder), also after going
back to v1 and up to v2 again, and after the bank's ``notify_holder``; the state page's age counts
from the production too (``state_entered_at``), and the task page says which event opened the
task. The plan says when a task it keeps has another due date in the new version."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from staff_login import client_for
from support import counter_card

from engine import queries
from engine.clock import SimulatedClock
from tests.web.definition_files import definition_service
from web.api.tokens import create_token
from web.app import engine_of
from web.auth import create_user
from web.cli.main import main
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PRODUCED = NOW + timedelta(days=1)
TOKENS = itertools.count()
ACTIVATION_TASK = """      events: [activate]
      due: P30D"""


def service(db_url: str, definitions: Path, at: datetime) -> Flask:
    return definition_service(db_url, definitions, SimulatedClock(at), WTF_CSRF_ENABLED=False)


def at(app: Flask, moment: datetime) -> None:
    clock = engine_of(app).clock
    assert isinstance(clock, SimulatedClock)
    clock.set(moment)


def card(app: Flask, n: int) -> int:
    return counter_card(app, make_id_number("440604", date(1980, 1, 1 + n), 11)).instance_id


def rename_produced_and_shorten_activation(definitions: Path) -> None:
    """v2: ``produced`` is ``manufactured`` (the events that name it too), and the activation
    task is due in 20 days instead of 30."""
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(ACTIVATION_TASK) == 1
    text = text.replace(ACTIVATION_TASK, ACTIVATION_TASK.replace("P30D", "P20D"))
    path.write_text(re.sub(r"\bproduced\b", "manufactured", text), encoding="utf-8")


def migrate(app: Flask, *args: str) -> Any:
    done = app.test_cli_runner().invoke(main, ["instances", "migrate", "card", *args])
    assert done.exit_code == 0, done.output
    return done


def progress(app: Flask, card_id: int) -> dict[str, str | None]:
    token = create_token(engine_of(app).db, f"channel-{next(TOKENS)}", ["channel"])
    answer = app.test_client().get(
        f"/api/v1/cards/{card_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.get_json()
    return {step["step"]: step["done_at"] for step in answer.get_json()["progress"]}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_renamed_state_keeps_the_time_its_business_event_entered_it(
    db_url: str, definitions: Path
) -> None:
    first = service(db_url, definitions, NOW)
    made = card(first, 1)
    at(first, PRODUCED)
    engine_of(first).fire(made, "produce", actor="factory")
    engine_of(first).db.dispose()
    rename_produced_and_shorten_activation(definitions)

    second = service(db_url, definitions, NOW + timedelta(days=10))
    engine = engine_of(second)
    assert engine.definition("card").version == 2
    migrate(second, "--from", "1", "--to", "2", "--map", "produced=manufactured")
    at(second, NOW + timedelta(days=11))  # back to v1 and up again: still the production time
    migrate(second, "--from", "2", "--to", "1", "--map", "manufactured=produced")
    at(second, NOW + timedelta(days=12))
    migrate(second, "--from", "1", "--to", "2", "--map", "produced=manufactured")
    found = queries.instance(engine.db, made)
    assert found is not None
    assert (found["definition_version"], found["state"]) == (2, "manufactured")
    assert progress(second, made)["manufactured"] == iso(PRODUCED)
    assert found["state_entered_at"] == PRODUCED  # the state page's age counts from production

    notified = NOW + timedelta(days=13)
    at(second, notified)
    engine.fire(made, "notify_holder", actor="api:bank")
    steps = progress(second, made)
    assert steps == {
        "applied": iso(NOW),
        "manufactured": iso(PRODUCED),
        "awaiting_activation": iso(notified),
        "active": None,
    }
    engine.db.dispose()


def test_a_task_kept_through_a_rename_says_which_event_opened_it(
    db_url: str, definitions: Path
) -> None:
    """The task page's "why this task exists" names the bank's notice, not "nothing known",
    when the migration renamed the state the task waits in and kept the task."""
    first = service(db_url, definitions, NOW)
    engine = engine_of(first)
    made = card(first, 1)
    engine.fire(made, "produce", actor="factory")
    at(first, PRODUCED)
    engine.fire(made, "notify_holder", actor="api:bank")
    engine.db.dispose()
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8").replace("awaiting_activation", "ready_to_collect")
    path.write_text(text, encoding="utf-8")

    second = service(db_url, definitions, NOW + timedelta(days=10))
    engine = engine_of(second)
    done = migrate(
        second, "--from", "1", "--to", "2", "--map", "awaiting_activation=ready_to_collect"
    )
    assert "ready_to_collect: 1 instances, task kept" in done.output
    [task] = queries.tasks_of(engine.db, made, "open")
    assert task["state"] == "ready_to_collect"
    create_user(engine.db, "teller", "pw", "bank_teller", "icbc")
    page = client_for(second, "teller").get(f"/inbox/{task['id']}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="task-why"' in html and "Bank notifies the holder" in html
    found = queries.instance(engine.db, made)
    assert found is not None and found["state_entered_at"] == PRODUCED
    engine.db.dispose()


def test_the_plan_says_a_kept_task_keeps_its_due_date_when_the_new_version_declares_another(
    db_url: str, definitions: Path
) -> None:
    first = service(db_url, definitions, NOW)
    engine = engine_of(first)
    waiting = card(first, 1)
    engine.fire(waiting, "produce", actor="factory")
    engine.fire(waiting, "notify_holder", actor="api:bank")
    [before] = queries.tasks_of(engine.db, waiting, "open")
    assert before["due_at"] == NOW + timedelta(days=30)
    engine.db.dispose()
    rename_produced_and_shorten_activation(definitions)

    second = service(db_url, definitions, NOW + timedelta(days=10))
    dry = migrate(second, "--from", "1", "--to", "2", "--dry-run")
    line = next(x for x in dry.output.splitlines() if "awaiting_activation ->" in x)
    assert "task kept (its due date stays; v2 declares P20D)" in line, line
    done = migrate(second, "--from", "1", "--to", "2")
    assert "task kept (its due date stays; v2 declares P20D)" in done.output
    [after] = queries.tasks_of(engine_of(second).db, waiting, "open")
    assert (after["id"], after["due_at"]) == (before["id"], before["due_at"])
    engine_of(second).db.dispose()
