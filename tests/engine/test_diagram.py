"""Process diagrams: what a supervisor sees (labels, shapes, Chinese glyphs), overlays, no Graphviz."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import create_engine
from sqlalchemy import event as sa_event

from engine import diagram, diagram_live, queries
from engine import diagram_styles as ds
from engine.definition import ProcessDefinition, load_definitions

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


@pytest.fixture(scope="module")
def processes() -> dict[str, ProcessDefinition]:
    return load_definitions(ROOT / "definitions")


def texts(svg: bytes) -> list[str]:
    """Every text drawn in the SVG, entities decoded."""
    return [el.text or "" for el in ET.fromstring(svg).iter(f"{SVG}text")]


def group(svg: bytes, element_id: str) -> ET.Element:
    found = [g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("id") == element_id]
    assert found, f"no element {element_id}"
    return found[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("key", ["card", "enrollment"])
def test_every_state_and_event_label_is_text_in_the_svg(
    processes: dict[str, ProcessDefinition], key: str, lang: str
) -> None:
    definition = processes[key]
    drawn = texts(diagram.render_svg(definition, lang))
    for spec in definition.states.values():
        assert spec.label.get(lang) in drawn, spec.name
    for event in definition.events.values():
        assert event.label.get(lang) in drawn, event.name


@pytest.mark.parametrize("key", ["card", "enrollment"])
def test_committed_svgs_show_every_state_and_event_in_chinese(
    processes: dict[str, ProcessDefinition], key: str
) -> None:
    committed = (ROOT / "diagrams" / f"{key}.zh.svg").read_bytes()
    drawn = texts(committed)
    definition = processes[key]
    assert all(spec.label.zh in drawn for spec in definition.states.values())
    assert all(event.label.zh in drawn for event in definition.events.values())
    assert re.search("[\u4e00-\u9fff]", "".join(drawn))


def test_bpmn_visual_language(processes: dict[str, ProcessDefinition]) -> None:
    card = processes["card"]
    svg = diagram.render_svg(card, "zh")
    start = group(svg, "start_applied").find(f"{SVG}ellipse")
    end = group(svg, "end_bank_account_closed").find(f"{SVG}ellipse")
    assert start is not None and end is not None
    assert float(end.get("stroke-width", "1")) >= 3 > float(start.get("stroke-width", "1"))
    box = group(svg, "state_active").find(f"{SVG}path")
    assert box is not None and "C" in box.get("d", ""), "states are rounded boxes"
    activation = [t.text for t in group(svg, "state_awaiting_activation").iter(f"{SVG}text")]
    assert "候选组：银行柜员" in activation
    assert "定时：提醒间隔（地区政策）" in activation and "定时：封存期限（地区政策）" in activation
    remind = group(svg, "flow_remind_holder__awaiting_activation")
    assert "提醒领卡激活" in [t.text for t in remind.iter(f"{SVG}text")]
    path = remind.find(f"{SVG}path")
    assert path is not None and path.get("stroke-dasharray"), "timer flows are dashed"


def test_policy_timers_show_the_policy_date(processes: dict[str, ProcessDefinition]) -> None:
    zh = texts(diagram.render_svg(processes["enrollment"], "zh"))
    en = texts(diagram.render_svg(processes["enrollment"], "en"))
    assert zh.count("定时：缴费期结束日") == 3
    assert en.count("Timer: end of the payment period") == 3


def test_rendering_is_byte_identical_and_carries_no_version(
    processes: dict[str, ProcessDefinition],
) -> None:
    first = diagram.render_svg(processes["card"], "zh")
    assert first == diagram.render_svg(processes["card"], "zh")
    assert b"graphviz version" not in first


def _charset(font_file: str, family: str) -> set[int]:
    out = subprocess.run(
        ["fc-query", "--format=%{family}|%{charset}\n", font_file],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if family in line.split("|")[0].split(","))
    covered: set[int] = set()
    for part in line.split("|")[1].split():
        low, _, high = part.partition("-")
        covered.update(range(int(low, 16), int(high or low, 16) + 1))
    return covered


def test_card_png_draws_every_label_with_the_cjk_font(
    processes: dict[str, ProcessDefinition],
) -> None:
    card = processes["card"]
    dot_text = diagram.to_dot(card, "zh")
    done = subprocess.run(
        ["dot", "-v", "-Tpng"], input=dot_text.encode(), capture_output=True, check=True
    )
    assert done.stdout.startswith(b"\x89PNG"), "a PNG was drawn"
    resolved = re.findall(
        r'fontname: "([^"]+)" resolved to: .*?"([^"]+)" (\S+)', done.stderr.decode()
    )
    assert resolved, done.stderr.decode()[-2000:]
    assert {name for name, _, _ in resolved} == {ds.FONT}
    (_, face, font_file), *_ = resolved
    assert face.startswith(ds.FONT), f"Graphviz drew with {face!r}, not {ds.FONT!r}"
    # No missing-glyph box: the font Graphviz used has a glyph for every character drawn.
    covered = _charset(font_file, ds.FONT)
    drawn = "".join(texts(diagram.render_svg(card, "zh")))
    missing = sorted({ch for ch in drawn if not ch.isspace() and ord(ch) not in covered})
    assert not missing, f"no glyph for {missing}"
    fonts = {el.get("font-family") for el in ET.fromstring(diagram.render_svg(card, "zh")).iter()}
    assert fonts - {None} == {ds.FONT}


def _history(*steps: tuple[str, str | None, str]) -> list[dict[str, str | None]]:
    return [{"event": e, "from_state": f, "to_state": t} for e, f, t in steps]


def test_path_marks_visited_states_in_order_and_the_current_one(
    processes: dict[str, ProcessDefinition],
) -> None:
    history = _history(
        ("start", None, "applied"),
        ("produce", "applied", "produced"),
        ("notify_holder", "produced", "awaiting_activation"),
        ("activate", "awaiting_activation", "active"),
        ("report_loss", "active", "lost"),
        ("revoke_loss", "lost", "active"),
    )
    svg = diagram.path_svg(processes["card"], history, "zh")

    def fill(state: str) -> str | None:
        shape = group(svg, diagram.state_id(state)).find(f"{SVG}path")
        return None if shape is None else shape.get("fill")

    assert fill("active") == ds.STATE_STYLES["current"]["fillcolor"]
    assert fill("lost") == fill("applied") == ds.STATE_STYLES["visited"]["fillcolor"]
    assert fill("cancelled") == ds.STATE_STYLES["not_visited"]["fillcolor"]
    assert "步骤 4、6" in [t.text for t in group(svg, "state_active").iter(f"{SVG}text")]
    travelled = group(svg, "flow_report_loss__active").find(f"{SVG}path")
    assert travelled is not None and travelled.get("stroke") == ds.EDGE_STYLES["visited"]["color"]


def test_live_counts_recolour_the_cached_layout_without_dot(
    processes: dict[str, ProcessDefinition], monkeypatch: pytest.MonkeyPatch
) -> None:
    card = processes["card"]
    diagram_live.live_layout(card, "zh")

    def no_dot(*_: object, **__: object) -> bytes:
        raise AssertionError("dot ran again")

    monkeypatch.setattr(diagram, "run_dot", no_dot)
    svg = diagram_live.live_svg(
        card, {"active": 120_000, "lost": 5}, {"flow_report_loss__active": 7}
    )
    assert "120,000" in [t.text for t in group(svg, "state_active").iter(f"{SVG}text")]
    peak, idle = ds.LOAD_COLOURS[-1], ds.LOAD_COLOURS[0]
    assert group(svg, "state_active").find(f"{SVG}path").get("fill") == peak[2]  # type: ignore[union-attr]
    assert group(svg, "state_lost").find(f"{SVG}path").get("fill") == ds.LOAD_COLOURS[1][2]  # type: ignore[union-attr]
    assert group(svg, "state_produced").find(f"{SVG}path").get("fill") == idle[2]  # type: ignore[union-attr]
    flow = group(svg, "flow_report_loss__active")
    assert "7" in [t.text for t in flow.iter(f"{SVG}text")]
    assert float(flow.find(f"{SVG}path").get("stroke-width")) == ds.FLOW_WIDTH[1]  # type: ignore[union-attr, arg-type]
    assert b"#0a0b0" not in svg, "every placeholder colour was filled"
    stray = [el.tail for el in ET.fromstring(svg).iter() if el.tail and el.tail.strip()]
    assert not stray, "nothing but the SVG's own elements"


def test_counts_come_from_the_database(
    processes: dict[str, ProcessDefinition], sqlite_url: str
) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        for i, state in enumerate(["applied", "produced", "produced"], start=1):
            conn.execute(
                "INSERT INTO wf_instance (id, process, definition_version, state, version,"
                " variables, created_at, updated_at) VALUES (?, 'card', 1, ?, 1, '{}',"
                " '2024-01-01 00:00:00', '2024-01-01 00:00:00')",
                (i, state),
            )
            conn.execute(
                "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor,"
                " occurred_at) VALUES (?, 'card', 'start', NULL, 'applied', 't',"
                " '2024-01-01 00:00:00')",
                (i,),
            )
            if state == "produced":
                conn.execute(
                    "INSERT INTO wf_history (instance_id, process, event, from_state, to_state,"
                    " actor, occurred_at) VALUES (?, 'card', 'produce', 'applied', 'produced', 't',"
                    " '2024-01-02 00:00:00')",
                    (i,),
                )
    db = create_engine(sqlite_url)
    card = processes["card"]
    assert queries.counts_by_state(db, card.key) == {"applied": 1, "produced": 2}
    assert diagram_live.flow_counts(db, card) == {
        "flow_start__applied": 3,
        "flow_produce__applied": 2,
    }
    svg = diagram_live.live_svg(
        card, queries.counts_by_state(db, card.key), diagram_live.flow_counts(db, card)
    )
    assert "2" in [t.text for t in group(svg, "state_produced").iter(f"{SVG}text")]
    db.dispose()


def test_missing_dot_says_how_to_install_it_and_pages_fall_back(
    processes: dict[str, ProcessDefinition], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(diagram.GraphvizMissing, match="apt-get install graphviz fonts-noto-cjk"):
        diagram.render_svg(processes["card"], "zh")
    committed = ROOT / "diagrams" / "card.zh.svg"
    fallback = diagram.svg_or_committed(processes["card"], "zh", ROOT / "diagrams")
    assert fallback == committed.read_bytes()


@pytest.mark.bench
def test_bench_live_card_diagram_over_a_million_instances(
    processes: dict[str, ProcessDefinition], sqlite_url: str, bench_report: Any
) -> None:
    card = processes["card"]
    states = list(card.states)
    path = sqlite_url.removeprefix("sqlite:///")
    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        case = " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(states))
        conn.execute(
            "INSERT INTO wf_instance (id, process, definition_version, state, version, variables,"
            " created_at, updated_at) WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1"
            " FROM seq WHERE n < 1000000) SELECT n, 'card', 1,"
            f" CASE (n * 7919) % {len(states)} {case} END, 1, '{{}}',"
            " '2024-01-01 00:00:00', '2024-01-01 00:00:00' FROM seq"
        )
        # one transition per instance: its start (the flows the counts overlay reads)
        conn.execute(
            "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor,"
            " occurred_at) SELECT id, 'card', 'start', NULL, 'applied', 'bench',"
            " '2024-01-01 00:00:00' FROM wf_instance"
        )
    seeded = time.perf_counter() - started
    db = create_engine(sqlite_url)
    diagram_live.live_layout(card, "zh")  # the warm cache of the layout
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        counts = queries.counts_by_state(db, card.key)
        flows = diagram_live.flow_counts(db, card)
        t1 = time.perf_counter()
        svg = diagram_live.live_svg(card, counts, flows, "zh")
        t2 = time.perf_counter()
        runs.append((t2 - t0, t1 - t0, t2 - t1))
    # the best of five renders: what the code costs, not what the other core happened to be
    # doing (a PostgreSQL checkpoint after the benchmark before it); the median is reported too
    total, query, recolour = min(runs)
    median_total = sorted(runs)[2][0]
    # the floor: the same two GROUP BYs as bare SQL through the driver, best of three, in this
    # run (the machine's pace varies threefold from day to day; the ratio does not)
    floors = []
    with sqlite3.connect(path) as conn:
        for _ in range(3):
            t0 = time.perf_counter()
            conn.execute(
                "SELECT state, count(*) FROM wf_instance WHERE process = 'card' GROUP BY state"
            ).fetchall()
            conn.execute(
                "SELECT event, from_state, to_state, count(*) FROM wf_history"
                " WHERE process = 'card' GROUP BY event, from_state, to_state"
            ).fetchall()
            floors.append(time.perf_counter() - t0)
    floor = min(floors)
    # each of the page's queries reads one index alone (a ratio to a floor of the same SQL would
    # not see a lost index; the plan does)
    statements: list[tuple[str, Any]] = []
    sa_event.listen(db, "before_cursor_execute", lambda *a: statements.append((a[2], a[3])))
    queries.counts_by_state(db, card.key)
    diagram_live.flow_counts(db, card)
    with sqlite3.connect(path) as conn:
        plans = [
            " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in statements
        ]
    db.dispose()
    assert len(plans) == 2 and all("COVERING INDEX" in plan for plan in plans), plans
    assert sum(counts.values()) == 1_000_000
    assert flows["flow_start__applied"] == 1_000_000
    assert f"{counts['active']:,}".encode() in svg
    figures = {
        "bench": "live_card_diagram",
        "instances": 1_000_000,
        "history_rows": 1_000_000,
        "seed_s": round(seeded, 2),
        "total_ms": round(total * 1000, 1),
        "median_total_ms": round(median_total * 1000, 1),
        "query_ms": round(query * 1000, 1),
        "recolour_ms": round(recolour * 1000, 2),
        "raw_sql_floor_ms": round(floor * 1000, 1),
        "ratio": round(total / floor, 2),
    }
    print(json.dumps(figures))
    bench_report("live card diagram", json.dumps(figures))
    # what the page adds to the two queries (SQLAlchemy, the mapping to flows, the recolouring)
    # stays small: 149 ms against a 0.5 s bar on a normal day, 702 ms on a day three times slower
    assert total / floor < 1.5, figures
