"""``shebao diagrams`` (write, --check) and ``shebao bpmn``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from web.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
FILES = tuple(
    f"{process}.{lang}.svg"
    for process in ("card", "card_review", "enrollment", "person")
    for lang in ("zh", "en")
)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


@pytest.fixture
def runner(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The commands on a database where the definition files are deployed (``shebao bpmn``
    exports what is deployed)."""
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    deployed = runner.invoke(main, ["definitions", "deploy"])
    assert deployed.exit_code == 0, deployed.output
    return runner


@pytest.fixture
def committed_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "diagrams"
    shutil.copytree(ROOT / "diagrams", copy)
    return copy


@needs_dot
def test_committed_diagrams_are_current(runner: CliRunner) -> None:
    result = runner.invoke(main, ["diagrams", "--check"])
    assert result.exit_code == 0, result.output
    assert all((ROOT / "diagrams" / name).is_file() for name in FILES)


@needs_dot
def test_check_fails_listing_a_changed_diagram(runner: CliRunner, committed_copy: Path) -> None:
    stale = committed_copy / "card.zh.svg"
    stale.write_bytes(stale.read_bytes().replace("待激活".encode(), "待激話".encode()))
    result = runner.invoke(main, ["diagrams", "--check", "--out-dir", str(committed_copy)])
    assert result.exit_code == 1
    assert "card.zh.svg" in result.output and "card.en.svg" not in result.output
    assert "待激話".encode() in stale.read_bytes(), "--check writes nothing"


@needs_dot
def test_check_fails_on_a_missing_diagram_and_writing_fixes_both(
    runner: CliRunner, committed_copy: Path
) -> None:
    (committed_copy / "enrollment.en.svg").unlink()
    (committed_copy / "card.zh.svg").write_text("<svg/>", encoding="utf-8")
    result = runner.invoke(main, ["diagrams", "--check", "--out-dir", str(committed_copy)])
    assert result.exit_code == 1
    assert "enrollment.en.svg" in result.output and "card.zh.svg" in result.output
    written = runner.invoke(main, ["diagrams", "--out-dir", str(committed_copy)])
    assert written.exit_code == 0, written.output
    assert f"2 of {len(FILES)} diagrams written" in written.output
    assert (
        runner.invoke(main, ["diagrams", "--check", "--out-dir", str(committed_copy)]).exit_code
        == 0
    )
    for name in FILES:
        assert (committed_copy / name).read_bytes() == (ROOT / "diagrams" / name).read_bytes()


@needs_dot
def test_bpmn_writes_a_bpmn_document(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "card.bpmn"
    result = runner.invoke(main, ["bpmn", "card", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = etree.parse(str(out)).getroot()
    assert doc.tag == "{http://www.omg.org/spec/BPMN/20100524/MODEL}definitions"
    printed = runner.invoke(main, ["bpmn", "enrollment", "--lang", "en"])
    assert printed.exit_code == 0
    assert 'name="Resident medical insurance year"' in printed.output


def test_bpmn_of_an_unknown_process_names_the_known_ones(runner: CliRunner) -> None:
    result = runner.invoke(main, ["bpmn", "pension"])
    assert result.exit_code == 2
    assert "card, card_review, enrollment" in result.output


@pytest.mark.parametrize("args", [["diagrams", "--check"], ["bpmn", "card"]])
def test_without_graphviz_the_error_says_how_to_install_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "apt-get install graphviz fonts-noto-cjk" in result.output
