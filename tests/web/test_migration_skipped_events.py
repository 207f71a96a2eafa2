"""`shebao instances migrate card --map produced=active` would put cards that were never handed
to their holders nor activated into use: the plan names the events the move skips (in Chinese
and English), and, as with the domain's other warnings, nothing moves until the operator confirms
the warning's code; the history keeps the confirmation. Moving instances to an earlier state, or
to a renamed one, warns of nothing (QA)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from support import counter_card

from engine import queries
from engine.clock import SimulatedClock
from engine.migration_skips import SKIPPED_EVENTS
from tests.web.definition_files import definition_service
from web.app import engine_of
from web.cli.main import main
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
NEW_EVENT = """  note_received:
    label: {zh: 收到补充材料, en: Supporting note received}
    from: applied
    to: applied
"""
MIGRATE = ("instances", "migrate", "card", "--from", "1", "--to", "2", "--actor", "ops")


def service(db_url: str, definitions: Path) -> Flask:
    return definition_service(db_url, definitions, SimulatedClock(NOW), WTF_CSRF_ENABLED=False)


def produced_cards(app: Flask, n: int) -> list[int]:
    """``n`` cards made by the factory, not yet sent to their bank branch."""
    return [
        counter_card(
            app, make_id_number("440604", datetime(1980, 1, 1 + i).date(), 11), events=["produce"]
        ).instance_id
        for i in range(n)
    ]


def second_version(db_url: str, definitions: Path) -> Flask:
    """The service restarted on a ``card.yaml`` with one more event: card v2 deployed."""
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("events:\n", "events:\n" + NEW_EVENT, 1), encoding="utf-8")
    return service(db_url, definitions)


def where(app: Flask, iid: int) -> tuple[int, str]:
    found = queries.instance(engine_of(app).db, iid)
    assert found is not None
    return found["definition_version"], found["state"]


def test_moving_cards_past_events_they_never_took_names_them_and_needs_confirming(
    db_url: str, definitions: Path
) -> None:
    first = service(db_url, definitions)
    cards = produced_cards(first, 2)
    engine_of(first).db.dispose()
    second = second_version(db_url, definitions)
    runner = second.test_cli_runner()
    args = [*MIGRATE, "--map", "produced=active"]

    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 1, dry.output
    assert f"WARNING {SKIPPED_EVENTS}: 2 instances (ids {cards[0]}, {cards[1]})" in dry.stdout
    assert "produced → active skips: notify_holder, activate" in dry.stdout
    assert "银行通知领卡" in dry.stdout and "本人持申领证件激活" in dry.stdout
    refused = runner.invoke(main, args)
    assert refused.exit_code == 1
    assert f"--confirm {SKIPPED_EVENTS}" in refused.stderr
    assert "nothing was moved" in refused.stderr and "未迁移任何实例" in refused.stderr
    assert {where(second, iid) for iid in cards} == {(1, "produced")}

    done = runner.invoke(main, [*args, "--confirm", SKIPPED_EVENTS])
    assert done.exit_code == 0, done.output
    assert f'"confirmed": {{"{SKIPPED_EVENTS}": 2}}' in done.stdout
    assert {where(second, iid) for iid in cards} == {(2, "active")}
    moved = queries.history(engine_of(second).db, cards[0])[-1]
    assert (moved["event"], moved["from_state"], moved["to_state"]) == (
        "migrate",
        "produced",
        "active",
    )
    assert moved["data"]["confirmed"] == [SKIPPED_EVENTS]
    engine_of(second).db.dispose()


def test_moving_cards_back_to_an_earlier_state_warns_of_nothing(
    db_url: str, definitions: Path
) -> None:
    first = service(db_url, definitions)
    cards = produced_cards(first, 1)
    engine_of(first).db.dispose()
    second = second_version(db_url, definitions)
    done = second.test_cli_runner().invoke(main, [*MIGRATE, "--map", "produced=applied"])
    assert done.exit_code == 0, done.output
    assert "WARNING" not in done.stdout and "skips" not in done.stdout
    assert where(second, cards[0]) == (2, "applied")
    assert "confirmed" not in queries.history(engine_of(second).db, cards[0])[-1]["data"]
    engine_of(second).db.dispose()
