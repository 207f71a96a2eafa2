"""The exports (every process, and tests/engine/fixtures/edge_cases.yaml) in the tools BPMN people
use, from the npm registry (package.json, installed by scripts/setup): bpmn-js shows every export
without an import warning and with no two labels meeting; bpmn-moddle with the Camunda 7 extensions
knows every attribute of the exports; bpmnlint's recommended rules find nothing.

bpmn-js runs in Debian's Chromium on a tiny page (``bpmn_page/``) served with the bpmn-js
distribution by a local HTTP server; a screenshot of every export goes to artifacts/screenshots/.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_server import serving

from engine.bpmn import to_bpmn
from engine.bpmn_ext import moddle_descriptor
from engine.definition import ProcessDefinition, load_definition, load_definitions
from web.cli.diagrams import policy_values
from workflows.domain import Domain

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).parent / "bpmn_page"
NODE_MODULES = ROOT / "node_modules"
KEYS = ("card", "card_review", "enrollment", "person", "edge_cases")
EDGE_CASES = ROOT / "tests" / "engine" / "fixtures" / "edge_cases.yaml"
DIALECTS = ("default", "camunda7")
LANGS = ("zh", "en")
POLICY = "huian-2023"
EXPORTS = list(itertools.product(KEYS, DIALECTS, LANGS))


def needs(package: str) -> Path:
    found = NODE_MODULES / package
    if not found.is_dir():
        pytest.fail(f"{found} is missing: scripts/setup installs the npm tools (npm ci)")
    return found


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], Path]:
    """Every process in both dialects and languages, written to files."""
    if shutil.which("dot") is None:
        pytest.fail("Graphviz's dot is missing: scripts/setup installs it")
    definitions: dict[str, ProcessDefinition] = load_definitions(ROOT / "definitions")
    definitions["edge_cases"] = load_definition(EDGE_CASES)  # the shapes the processes lack
    domain = Domain(ROOT / "definitions" / "policies")
    out = tmp_path_factory.mktemp("bpmn")
    files = {}
    for key, dialect, lang in EXPORTS:
        definition = definitions[key]
        path = out / f"{key}.{dialect}.{lang}.bpmn"
        path.write_bytes(
            to_bpmn(
                definition, lang, dialect=dialect, policy=policy_values(domain, POLICY, definition)
            )
        )
        files[(key, dialect, lang)] = path
    return files


class _Handler(SimpleHTTPRequestHandler):
    """The page from bpmn_page/, and /vendor/bpmn-js/ from node_modules; nothing else."""

    def translate_path(self, path: str) -> str:
        prefix = "/vendor/bpmn-js/"
        if path.startswith(prefix):
            self.directory = str(NODE_MODULES / "bpmn-js")
            path = path[len(prefix) - 1 :]
        else:
            self.directory = str(PAGE)
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    needs("bpmn-js")
    with serving(partial(_Handler, directory=str(PAGE))) as address:
        yield f"{address}/index.html"


@pytest.fixture(scope="module")
def extensions() -> dict[str, Any]:
    """The moddle descriptors bpmn-js reads the exports with: ours, Camunda's, the modeler's."""
    return {
        "shebao": moddle_descriptor(),
        "camunda": json.loads(
            (needs("camunda-bpmn-moddle") / "resources" / "camunda.json").read_text()
        ),
        "modeler": json.loads((needs("modeler-moddle") / "resources" / "modeler.json").read_text()),
    }


def intersect(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 2.0) -> bool:
    """``inner`` within ``outer`` (a glyph's ascent may rise a point or two above its line box)."""
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


@pytest.mark.parametrize("key,dialect,lang", EXPORTS, ids=["-".join(e) for e in EXPORTS])
def test_bpmn_js_shows_the_export_without_warnings_or_crossing_labels(
    page: Any,
    page_url: str,
    exports: dict[tuple[str, str, str], Path],
    extensions: dict[str, Any],
    screenshots: Path,
    key: str,
    dialect: str,
    lang: str,
    record_property: Any,
) -> None:
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(page_url)
    xml = exports[(key, dialect, lang)].read_text(encoding="utf-8")
    shown = page.evaluate("([xml, ext]) => window.showBpmn(xml, ext)", [xml, extensions])
    assert "error" not in shown, shown
    assert shown["warnings"] == []
    labels = [label for label in shown["labels"] if label["text"]]
    assert labels, "the diagram has labels"
    for label in labels:
        assert label["bounds"], f"{label['id']} has no BPMNLabel bounds"
        assert inside(label["text"], label["bounds"]), f"{label['id']}: text outside its bounds"
    crossing = [
        (a["id"], b["id"], box)
        for a, b in itertools.combinations(labels, 2)
        for box in ("text", "element", "bounds")
        if intersect(a[box], b[box])
    ]
    assert crossing == []
    record_property("labels", len(labels))
    page.evaluate("() => window.fit()")
    page.screenshot(path=str(screenshots / f"bpmn-{key}.{dialect}.{lang}.png"))


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install Node.js (scripts/setup installs the npm tools)")
    return node


def test_camunda_moddle_knows_every_element_and_attribute(
    exports: dict[tuple[str, str, str], Path], tmp_path: Path
) -> None:
    """bpmn-moddle with camunda-bpmn-moddle (and the modeler's and our descriptors) reads every
    export, Camunda 7 dialect included, with no warning, no unknown attribute, no unknown element."""
    needs("bpmn-moddle")
    descriptor = tmp_path / "shebao.json"
    descriptor.write_text(json.dumps(moddle_descriptor()), encoding="utf-8")
    files = [str(p) for p in exports.values()]
    done = subprocess.run(
        [_node(), str(PAGE / "check_moddle.cjs"), str(descriptor), *files],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    assert {f: problems for f, problems in report.items() if problems} == {}
    assert done.returncode == 0, done.stderr
    assert len(report) == len(EXPORTS)


def test_the_check_catches_an_attribute_camunda_does_not_know(
    exports: dict[tuple[str, str, str], Path], tmp_path: Path
) -> None:
    needs("bpmn-moddle")
    descriptor = tmp_path / "shebao.json"
    descriptor.write_text(json.dumps(moddle_descriptor()), encoding="utf-8")
    broken = tmp_path / "broken.bpmn"
    text = exports[("card", "camunda7", "zh")].read_text(encoding="utf-8")
    broken.write_text(
        text.replace("camunda:candidateGroups=", "camunda:candidateGroup="), encoding="utf-8"
    )
    done = subprocess.run(
        [_node(), str(PAGE / "check_moddle.cjs"), str(descriptor), str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "camunda:candidateGroup" in done.stdout


def test_bpmnlint_recommended_finds_nothing(exports: dict[tuple[str, str, str], Path]) -> None:
    """bpmnlint with the project's .bpmnlintrc (extends bpmnlint:recommended): 0 errors and 0
    warnings on every export."""
    lint = needs("bpmnlint") / "bin" / "bpmnlint.js"
    done = subprocess.run(
        [_node(), str(lint), *[str(p) for p in exports.values()]],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "problem" not in done.stdout, done.stdout
