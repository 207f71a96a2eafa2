"""Definition versions as an operator meets them: the service deploys its definition files at
start-up; a changed file becomes the process's next version; instances that started on v1 keep
v1's rules while new ones start on v2; pages and `shebao definitions versions` show both
(issue 16)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from staff_login import client_for
from support import counter_card

from engine import queries
from engine.clock import SimulatedClock
from engine.errors import WorkflowError
from tests.web.definition_files import definition_service
from web.app import engine_of
from web.auth import create_user
from web.cli.main import main
from web.config import PROJECT_ROOT
from web.mfa import enroll
from workflows.extra_cards import OTHER_USABLE_CARD
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
ONE_STEP_LOSS = PROJECT_ROOT / "tests" / "engine" / "fixtures" / "card_one_step_loss.yaml"
NEW_EVENT = """  note_received:
    label: {zh: 收到补充材料, en: Supporting note received}
    from: applied
    to: applied
"""


def service(db_url: str, definitions: Path) -> Flask:
    """The service starting on ``definitions`` at ``NOW`` (it deploys the files that changed)."""
    return definition_service(db_url, definitions, SimulatedClock(NOW), WTF_CSRF_ENABLED=False)


def card(app: Flask, n: int) -> int:
    return counter_card(
        app, make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11)
    ).instance_id


def add_note_received(definitions: Path) -> None:
    """``NEW_EVENT`` added to ``card.yaml``: the next start deploys the file as a new version."""
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("events:\n", "events:\n" + NEW_EVENT, 1), encoding="utf-8")


def version_of(app: Flask, iid: int) -> Any:
    found = queries.instance(engine_of(app).db, iid)
    assert found is not None
    return found["definition_version"]


def test_a_changed_file_is_the_next_version_and_running_instances_keep_theirs(
    db_url: str, definitions: Path
) -> None:
    first = service(db_url, definitions)
    old = card(first, 1)
    assert version_of(first, old) == 1
    engine_of(first).db.dispose()

    add_note_received(definitions)
    second = service(db_url, definitions)  # the restart deploys the change
    engine = engine_of(second)
    assert engine.definition("card").version == 2
    new = card(second, 2)
    assert (version_of(second, old), version_of(second, new)) == (1, 2)
    engine.fire(new, "note_received", actor="clerk")  # v2's rule
    with pytest.raises(WorkflowError):
        engine.fire(old, "note_received", actor="clerk")  # not in v1
    assert [h["event"] for h in queries.history(engine.db, old)] == ["start"]

    listed = second.test_cli_runner().invoke(main, ["definitions", "versions", "card"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith("card v2\t1 instances") and lines[1].startswith("card v1\t1 inst")
    create_user(engine.db, "boss", "pw", "supervisor")
    enroll(engine.db, "boss")
    page = client_for(second, "boss").get("/processes/card").get_data(as_text=True)
    assert 'data-version="2"' in page and 'data-version="1"' in page

    third = service(db_url, definitions)  # unchanged files deploy nothing
    assert engine_of(third).definition("card").version == 2
    again = third.test_cli_runner().invoke(main, ["definitions", "deploy", "--actor", "ops"])
    assert "card v2: unchanged" in again.output
    engine_of(second).db.dispose()
    engine_of(third).db.dispose()


def test_a_broken_file_deploys_nothing(db_url: str, definitions: Path) -> None:
    app = service(db_url, definitions)
    path = definitions / "card.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("to: produced", "to: nowhere", 1))
    done = app.test_cli_runner().invoke(main, ["definitions", "deploy"])
    assert done.exit_code != 0 and "nowhere" in done.output
    listed = app.test_cli_runner().invoke(main, ["definitions", "versions", "card"]).output
    assert "card v2" not in listed and "card v1" in listed
    engine_of(app).db.dispose()


def test_shebao_instances_migrate_moves_v1_cards_to_v2(db_url: str, definitions: Path) -> None:
    first = service(db_url, definitions)
    old = [card(first, n) for n in range(3)]
    engine_of(first).db.dispose()
    add_note_received(definitions)
    second = service(db_url, definitions)
    runner = second.test_cli_runner()
    dry = runner.invoke(
        main, ["instances", "migrate", "card", "--from", "1", "--to", "2", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "card v1 -> v2: 3 instances" in dry.output
    assert "applied -> applied: 3 instances, task none, timers" in dry.output
    assert {version_of(second, iid) for iid in old} == {1}
    bad = runner.invoke(
        main, ["instances", "migrate", "card", "--from", "1", "--to", "2", "--map", "x"]
    )
    assert bad.exit_code != 0 and "OLD_STATE=NEW_STATE" in bad.output
    done = runner.invoke(
        main, ["instances", "migrate", "card", "--from", "1", "--to", "2", "--actor", "ops"]
    )
    assert done.exit_code == 0, done.output
    assert '"migrated": 3' in done.output
    assert {version_of(second, iid) for iid in old} == {2}
    engine_of(second).fire(old[0], "note_received", actor="clerk")  # v2's rule now applies
    listed = runner.invoke(main, ["definitions", "versions", "card"]).output
    assert listed.splitlines()[0].startswith("card v2\t3 instances")
    engine_of(second).db.dispose()


def test_migrating_to_the_same_version_is_refused_and_back_to_an_earlier_one_is_allowed(
    db_url: str, definitions: Path
) -> None:
    """``--from 2 --to 2`` once "migrated" every instance onto its own version (a history row and
    a version bump each): refused, nothing written. Back to an earlier version is a deliberate
    rollback (a version that proved wrong): planned and moved as any other migration."""
    first = service(db_url, definitions)
    old = [card(first, n) for n in range(2)]
    engine_of(first).db.dispose()
    add_note_received(definitions)
    second = service(db_url, definitions)
    engine = engine_of(second)
    runner = second.test_cli_runner()
    before = [(queries.instance(engine.db, iid), queries.history(engine.db, iid)) for iid in old]
    for version in ("1", "2"):
        same = runner.invoke(
            main, ["instances", "migrate", "card", "--from", version, "--to", version]
        )
        assert same.exit_code == 1, same.output
        assert f"v{version} to v{version}" in same.stderr and "版本相同" in same.stderr
        assert '"migrated"' not in same.output
    assert [(queries.instance(engine.db, iid), queries.history(engine.db, iid)) for iid in old] == (
        before
    )

    up = runner.invoke(main, ["instances", "migrate", "card", "--from", "1", "--to", "2"])
    assert up.exit_code == 0 and '"migrated": 2' in up.output, up.output
    down = runner.invoke(main, ["instances", "migrate", "card", "--from", "2", "--to", "1"])
    assert down.exit_code == 0, down.output
    assert "card v2 -> v1: 2 instances" in down.output and '"migrated": 2' in down.output
    assert {version_of(second, iid) for iid in old} == {1}
    assert queries.history(engine.db, old[0])[-1]["data"] == {"from_version": 2, "to_version": 1}
    with pytest.raises(WorkflowError):
        engine.fire(old[0], "note_received", actor="clerk")  # v1's rules again
    engine.db.dispose()


def test_migrating_cancelled_cards_into_use_needs_the_one_card_rule_confirmed(
    db_url: str, definitions: Path
) -> None:
    """`--map cancelled=active` would give a person with another usable card a second one: the
    plan names the warning, the migration is refused (exit 1, nothing moved) until the operator
    confirms its code, and the warned card's history keeps the confirmation."""
    first = service(db_url, definitions)
    engine = engine_of(first)
    holder = make_id_number("440604", datetime(1980, 1, 2).date(), 11)
    warned = card(first, 1)
    engine.fire(warned, "cancel", data={"reason": "test"})
    other = card(first, 1)  # the same person's new card: usable
    alone = card(first, 2)  # another person, no other card: no warning
    engine.fire(alone, "cancel", data={"reason": "test"})
    engine.db.dispose()
    add_note_received(definitions)
    second = service(db_url, definitions)
    engine = engine_of(second)
    runner = second.test_cli_runner()
    args = ["instances", "migrate", "card", "--from", "1", "--to", "2"]
    args += ["--map", "cancelled=active", "--actor", "ops"]

    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 1, dry.output
    assert f"WARNING {OTHER_USABLE_CARD}: 1 instances (ids {warned})" in dry.stdout
    assert f"card {other}" in dry.stdout and mask_id_number(holder) in dry.stdout
    refused = runner.invoke(main, args)
    assert refused.exit_code == 1
    assert f"--confirm {OTHER_USABLE_CARD}" in refused.stderr
    assert "nothing was moved" in refused.stderr and "未迁移任何实例" in refused.stderr
    assert holder not in refused.output and holder not in dry.output
    assert {version_of(second, iid) for iid in (warned, other, alone)} == {1}
    assert queries.instance(engine.db, warned)["state"] == "cancelled"  # type: ignore[index]
    # a typo'd code, or a state mapped twice, is refused before anything moves
    typo = runner.invoke(main, [*args, "--confirm", OTHER_USABLE_CARD, "--confirm", "bogus"])
    assert typo.exit_code == 2 and "bogus" in typo.output and OTHER_USABLE_CARD in typo.output
    twice = runner.invoke(main, [*args, "--map", "cancelled=lost", "--confirm", OTHER_USABLE_CARD])
    assert twice.exit_code == 2 and "mapped twice" in twice.output
    assert queries.instance(engine.db, warned)["state"] == "cancelled"  # type: ignore[index]

    done = runner.invoke(main, [*args, "--confirm", OTHER_USABLE_CARD])
    assert done.exit_code == 0, done.output
    assert f'"confirmed": {{"{OTHER_USABLE_CARD}": 1}}' in done.stdout
    for iid in (warned, alone):
        found = queries.instance(engine.db, iid)
        assert found is not None and (found["definition_version"], found["state"]) == (2, "active")
    moved = queries.history(engine.db, warned)[-1]
    assert (moved["event"], moved["actor"]) == ("migrate", "ops")
    assert moved["data"]["confirmed"] == [OTHER_USABLE_CARD]
    assert "confirmed" not in queries.history(engine.db, alone)[-1]["data"]
    engine.db.dispose()


def test_cards_lost_before_loss_reports_became_temporary_keep_their_rules(
    db_url: str, definitions: Path
) -> None:
    """Cards reported lost when a report went straight to ``lost`` (revocable there) stay
    valid: on their version they keep the account-closing task and may still be revoked; new
    reports are temporary first; migrating them keeps ``lost`` with its task."""
    path = definitions / "card.yaml"
    current = path.read_text(encoding="utf-8")
    shutil.copy(ONE_STEP_LOSS, path)
    first = service(db_url, definitions)
    engine = engine_of(first)
    old = [card(first, n) for n in (1, 2)]
    for n, iid in zip((1, 2), old, strict=True):
        holder = make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11)
        engine.fire(iid, "produce")
        engine.fire(iid, "notify_holder")
        engine.fire(iid, "activate", data={"presented_id_number": holder})
        engine.fire(iid, "report_loss")
    assert {queries.instance(engine.db, iid)["state"] for iid in old} == {"lost"}  # type: ignore[index]
    engine.db.dispose()

    path.write_text(current, encoding="utf-8")
    second = service(db_url, definitions)  # the restart deploys the temporary report as v2
    engine = engine_of(second)
    assert engine.definition("card").version == 2
    [task] = queries.tasks_of(engine.db, old[0], "open")
    assert task["name"] == "close_bank_account"
    engine.fire(old[0], "revoke_loss")  # v1's rule: a report was revocable in lost
    assert queries.instance(engine.db, old[0])["state"] == "active"  # type: ignore[index]
    new = card(second, 3)
    holder = make_id_number("440604", datetime(1980, 1, 4).date(), 11)
    engine.fire(new, "produce")
    engine.fire(new, "notify_holder")
    engine.fire(new, "activate", data={"presented_id_number": holder})
    assert engine.fire(new, "report_loss").to_state == "loss_reported"  # v2: temporary first

    runner = second.test_cli_runner()
    moved = runner.invoke(main, ["instances", "migrate", "card", "--from", "1", "--to", "2"])
    assert moved.exit_code == 0, moved.output
    assert "lost -> lost: 1 instances, task kept" in moved.output
    assert version_of(second, old[1]) == 2
    with pytest.raises(WorkflowError):
        engine.fire(old[1], "revoke_loss")  # now a formal report: v2 has no revoke from lost
    engine.fire(old[1], "close_bank_account")
    assert queries.instance(engine.db, old[1])["state"] == "bank_account_closed"  # type: ignore[index]
    engine.db.dispose()
