"""``shebao bpmn`` exports what is deployed, as every command but the service's reads, and says
which version it wrote (QA A-6): the latest deployed version by default, ``--version N`` another,
``--from-file`` the definition file as it stands (an undeployed draft only when asked for);
``export-all`` the same, ``--from-files`` for the lint of a clone where nothing is deployed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.web.definition_files import definition_service
from web.app import engine_of
from web.cli.main import main

V1, V2, DRAFT = "{zh: 已制卡,", "{zh: 已制卡V2,", "{zh: 已制卡草稿,"
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


def relabel(definitions: Path, old: str, new: str) -> None:
    """The zh label of card's ``produced`` state changed in the file (not deployed by this)."""
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


def label_in(xml: str) -> str:
    """Which of the three labels of ``produced`` the BPMN carries."""
    found = [name for name in ("已制卡V2", "已制卡草稿") if f'name="{name}"' in xml]
    return found[0] if found else "已制卡"


def deployed_twice_and_a_draft(db_url: str, definitions: Path) -> Flask:
    """card v1 (the service's start), v2 (``definitions deploy``), then a draft in the file."""
    app = definition_service(db_url, definitions)
    relabel(definitions, V1, V2)
    deployed = app.test_cli_runner().invoke(main, ["definitions", "deploy", "--actor", "ops"])
    assert deployed.exit_code == 0 and "card v2: deployed" in deployed.output, deployed.output
    relabel(definitions, V2, DRAFT)
    return app


def test_the_export_is_the_latest_deployed_version_and_says_so(
    db_url: str, definitions: Path, tmp_path: Path
) -> None:
    app = deployed_twice_and_a_draft(db_url, definitions)
    runner = app.test_cli_runner()
    out = tmp_path / "card.bpmn"
    written = runner.invoke(main, ["bpmn", "card", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert label_in(out.read_text(encoding="utf-8")) == "已制卡V2"
    assert f"wrote {out}: card v2 (the latest), deployed " in written.output
    assert "by ops" in written.output
    printed = runner.invoke(main, ["bpmn", "card"])
    assert printed.exit_code == 0, printed.output
    assert label_in(printed.stdout) == "已制卡V2"
    assert printed.stdout.startswith("<?xml")  # the note goes to stderr, the XML stays whole
    assert "exported card v2 (the latest)" in printed.stderr
    engine_of(app).db.dispose()


def test_another_version_or_the_file_when_asked(
    db_url: str, definitions: Path, tmp_path: Path
) -> None:
    app = deployed_twice_and_a_draft(db_url, definitions)
    runner = app.test_cli_runner()
    first = runner.invoke(main, ["bpmn", "card", "--version", "1"])
    assert first.exit_code == 0, first.output
    assert label_in(first.stdout) == "已制卡"
    assert "exported card v1 (the latest is v2)" in first.stderr
    missing = runner.invoke(main, ["bpmn", "card", "--version", "3"])
    assert missing.exit_code == 1
    assert "card has no version 3 (deployed: 1, 2)" in missing.stderr
    assert "card 没有版本 3（已部署：1, 2）" in missing.stderr
    draft = runner.invoke(main, ["bpmn", "card", "--from-file"])
    assert draft.exit_code == 0, draft.output
    assert label_in(draft.stdout) == "已制卡草稿"
    assert f"card from the file {definitions / 'card.yaml'} (deployed or not)" in draft.stderr
    both = runner.invoke(main, ["bpmn", "card", "--from-file", "--version", "1"])
    assert both.exit_code == 2
    deployed, files = tmp_path / "deployed", tmp_path / "files"
    every = runner.invoke(main, ["bpmn", "export-all", str(deployed)])
    assert every.exit_code == 0, every.output
    assert "deployed: card v2, card_review v1, enrollment v1, person v1" in every.output
    assert label_in((deployed / "card.default.bpmn").read_text(encoding="utf-8")) == "已制卡V2"
    drafts = runner.invoke(main, ["bpmn", "export-all", "--from-files", str(files)])
    assert drafts.exit_code == 0, drafts.output
    assert f"the definition files under {definitions}" in drafts.output
    assert label_in((files / "card.default.bpmn").read_text(encoding="utf-8")) == "已制卡草稿"
    engine_of(app).db.dispose()


def test_nothing_deployed_is_said_and_the_files_still_export(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A clone's migrated, empty database (what ``scripts/test`` lints the files on)."""
    runner = CliRunner(env={"SHEBAO_DATABASE_URL": sqlite_url})
    refused = runner.invoke(main, ["bpmn", "card"])
    assert refused.exit_code == 1
    assert "card is not deployed (nothing is deployed yet" in refused.stderr
    assert "--from-file" in refused.stderr
    assert runner.invoke(main, ["bpmn", "export-all", str(tmp_path / "none")]).exit_code == 1
    files = runner.invoke(main, ["bpmn", "export-all", "--from-files", str(tmp_path / "files")])
    assert files.exit_code == 0, files.output
    assert len(list((tmp_path / "files").glob("*.bpmn"))) == 8
