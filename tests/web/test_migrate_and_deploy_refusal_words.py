"""The refusals of ``shebao instances migrate`` and ``shebao definitions deploy`` as an operator
reads them (QA A-9): a version that is not deployed is named as such, with the versions that are
(not "unknown process"); every refusal in Chinese and English; a broken file's fault said once."""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from support import counter_card

from engine import queries
from tests.web.definition_files import definition_service, definition_settings
from web.app import engine_of
from web.cli.main import main
from workflows.identity import make_id_number


def rename_applied(definitions: Path) -> None:
    """card's state ``applied`` renamed ``received`` in the file (the event texts kept)."""
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"\bapplied\b(?! with)", "received", text), encoding="utf-8")


def on_two_versions(db_url: str, definitions: Path) -> tuple[Flask, list[int]]:
    """Two cards in ``applied`` on card v1; v2 (``applied`` renamed) deployed."""
    app = definition_service(db_url, definitions)
    cards = [
        counter_card(app, make_id_number("440604", date(1980, 1, 1 + n), 11)).instance_id
        for n in range(2)
    ]
    rename_applied(definitions)
    deployed = app.test_cli_runner().invoke(main, ["definitions", "deploy"])
    assert "card v2: deployed" in deployed.output, deployed.output
    return app, cards


def test_migrate_names_the_versions_and_refuses_in_both_languages(
    db_url: str, definitions: Path
) -> None:
    app, cards = on_two_versions(db_url, definitions)
    db = engine_of(app).db
    before = [queries.instance(db, iid) for iid in cards]
    runner = app.test_cli_runner()

    def migrate(*args: str) -> str:
        result = runner.invoke(main, ["instances", "migrate", "card", *args])
        assert result.exit_code == 1, result.output
        assert '"migrated"' not in result.output
        return result.stderr

    no_version = migrate("--from", "1", "--to", "3")
    assert "card has no version 3 (deployed: 1, 2)" in no_version
    assert "card 没有版本 3（已部署：1, 2）" in no_version
    assert "unknown process" not in no_version
    typo = migrate("--from", "1", "--to", "2", "--map", "appleid=received")
    assert "v1 has no state 'appleid'" in typo and "v1 没有状态 'appleid'" in typo
    target_typo = migrate("--from", "1", "--to", "2", "--map", "applied=recieved")
    assert "v2 has no state 'recieved'" in target_typo and "v2 没有状态 'recieved'" in target_typo
    unmapped = migrate("--from", "1", "--to", "2")
    assert "states without a target in v2: applied; map them with --map OLD=NEW" in unmapped
    assert "applied 在 v2 中没有对应状态，请用 --map 旧状态=新状态 指定" in unmapped
    same = migrate("--from", "2", "--to", "2")
    assert same.index("源版本与目标版本相同") < same.index("the same version")  # zh / en
    other = runner.invoke(main, ["instances", "migrate", "pension", "--from", "1", "--to", "2"])
    assert other.exit_code == 1
    assert "pension is not deployed (deployed processes: card, card_review" in other.stderr
    assert [queries.instance(db, iid) for iid in cards] == before
    db.dispose()


def test_deploying_a_broken_file_says_its_fault_once(
    sqlite_url: str, definitions: Path, caplog: pytest.LogCaptureFixture
) -> None:
    definition_service(sqlite_url, definitions)  # v1 of every process deployed
    path = definitions / "card.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("initial: applied", "initial: appliedx"),
        encoding="utf-8",
    )
    runner = CliRunner(env=definition_settings(sqlite_url, definitions))  # as the shell starts it
    with caplog.at_level(logging.INFO):
        result = runner.invoke(main, ["definitions", "deploy"])
    assert result.exit_code == 1
    fault = "initial[0]: unknown state 'appliedx'"
    said = result.output + "\n".join(r.getMessage() for r in caplog.records)
    assert said.count(fault) == 1, said
    assert "a broken file deploys nothing" in result.stderr
