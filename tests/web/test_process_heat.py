"""The process diagrams' heat (count, overdue, age), its legend, flow counts over a time range,
and the state page's filters and pages, on a known set of cards and a simulated clock.

Five cards at known moments; the service clock then stands 42 days after the first:
A produced at day 0; B awaiting activation since day 10 (task due day 40, reminder due day 40:
both late); C awaiting activation since day 15 (due day 45: not late); D applied on day 15;
E applied on day 41. Runs on SQLite and (marker postgres) on PostgreSQL.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for
from support import MakeApp, counter_card

from engine import diagram_heat
from engine import diagram_styles as ds
from engine.clock import SimulatedClock
from web.app import engine_of
from web.pages import process_queries as pq
from workflows.identity import make_id_number

DAY0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
CARDS = {  # name: (day it was applied, events fired that day)
    "A": (0, ("produce",)),
    "B": (10, ("produce", "notify_holder")),
    "C": (15, ("produce", "notify_holder")),
    "D": (15, ()),
    "E": (41, ()),
}


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(DAY0)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    app = make_app(clock, staff=[("boss", "supervisor", None)])
    engine = engine_of(app)
    app.config["card_ids"] = ids = {}
    for n, (name, (day, events)) in enumerate(CARDS.items()):
        clock.set(DAY0 + timedelta(days=day))
        card = counter_card(app, make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11))
        for event in events:
            engine.fire(card.instance_id, event)
        ids[name] = card.instance_id
    clock.set(DAY0 + timedelta(days=42))
    yield app
    engine.db.dispose()


@pytest.fixture
def boss(app: Flask) -> FlaskClient:
    return client_for(app, "boss")


def svg_of(page: str) -> ET.Element:
    start = page.index("<svg", page.index('id="live-diagram"'))  # after the legend's swatches
    return ET.fromstring(page[start : page.index("</svg>", start) + 6])


def node(svg: ET.Element, element_id: str) -> ET.Element:
    found = next((g for g in svg.iter(f"{SVG}g") if g.get("id") == element_id), None)
    assert found is not None, element_id
    return found


def fill(svg: ET.Element, state: str) -> str | None:
    shape = node(svg, f"state_{state}").find(f"{SVG}path")
    return None if shape is None else shape.get("fill")


def texts(svg: ET.Element, element_id: str) -> list[str]:
    return [t.text or "" for t in node(svg, element_id).iter(f"{SVG}text")]


def band(name: str) -> str:
    return next(row[2] for row in ds.LOAD_COLOURS if row[1] == name)


def test_each_heat_computes_its_figures_per_state(app: Flask) -> None:
    engine = engine_of(app)
    card, now = engine.definition("card"), engine.clock.now()
    count = diagram_heat.heat_of(engine.db, card, "count", now)
    assert count.counts == {"produced": 1, "awaiting_activation": 2, "applied": 2}
    assert count.values == {"produced": 1, "awaiting_activation": 2, "applied": 2}
    overdue = diagram_heat.heat_of(engine.db, card, "overdue", now)
    assert overdue.overdue_tasks == {"awaiting_activation": 1}  # B's, due day 40
    assert overdue.overdue_timers == {"awaiting_activation": 1}  # B's reminder, day 40
    assert overdue.values == {"awaiting_activation": 2}
    age = diagram_heat.heat_of(engine.db, card, "age", now)
    days = {state: round(seconds / 86400, 3) for state, seconds in age.values.items()}
    assert days == {"produced": 42, "awaiting_activation": 32, "applied": 27}


def test_the_page_colours_states_by_the_chosen_heat(boss: FlaskClient) -> None:
    by_count = svg_of(boss.get("/processes/card").get_data(as_text=True))
    assert fill(by_count, "awaiting_activation") == band("peak")  # 2 of 2
    assert fill(by_count, "applied") == band("peak")
    assert fill(by_count, "produced") == band("high")  # 1 of 2
    assert fill(by_count, "active") == band("idle")

    page = boss.get("/processes/card?heat=overdue").get_data(as_text=True)
    by_overdue = svg_of(page)
    assert fill(by_overdue, "awaiting_activation") == band("peak")
    assert fill(by_overdue, "applied") == fill(by_overdue, "produced") == band("idle")
    assert "逾期 2" in texts(by_overdue, "state_awaiting_activation")
    late = re.search(
        r'data-state="awaiting_activation">.*?class="num overdue">(.*?)</td>', page, re.S
    )
    assert late and ">2</a>" in late.group(1) and "overdue=1" in late.group(1)

    page = boss.get("/processes/card?heat=age&lang=en").get_data(as_text=True)
    by_age = svg_of(page)
    assert fill(by_age, "produced") == band("high")  # 42 days: 30-90
    assert fill(by_age, "awaiting_activation") == band("high")  # 32 days
    assert fill(by_age, "applied") == band("medium")  # 27 days: 7-30
    assert fill(by_age, "active") == band("idle")  # nobody there
    assert "oldest 42 d" in texts(by_age, "state_produced")
    ages = dict(re.findall(r'data-state="(\w+)">.*?class="num age">([\d,]*)<', page, re.S))
    assert ages["produced"] == "42" and ages["applied"] == "27" and ages["active"] == ""
    current = re.search(r'<a [^>]*data-heat="(\w+)" class="current"', page)
    assert current and current.group(1) == "age"


def test_the_legend_says_what_each_colour_means_in_both_languages(boss: FlaskClient) -> None:
    def legend(url: str) -> list[tuple[str, str]]:
        page = boss.get(url).get_data(as_text=True)
        box = page[page.index('id="heat-legend"') : page.index('class="zoom-controls"')]
        found = re.findall(r'data-band="(\w+)">.*?</svg>\s*([^<]+?)\s*</span>', box, re.S)
        return [(band, html.unescape(text)) for band, text in found]

    assert legend("/processes/card") == [
        ("idle", "0"),
        ("high", "1"),
        ("peak", "2"),
        ("incident", "有未处理的故障（⚠）"),
    ]
    page = boss.get("/processes/card").get_data(as_text=True)
    assert "颜色表示该状态的实例数" in page
    assert legend("/processes/card?heat=age&lang=en") == [
        ("idle", "no instances"),
        ("low", "< 7 d"),
        ("medium", "7–30 d"),
        ("high", "30–90 d"),
        ("peak", "≥ 90 d"),
        ("incident", "Open incidents (⚠)"),
    ]
    page = boss.get("/processes/card?heat=overdue&lang=en").get_data(as_text=True)
    assert "Colour shows overdue open tasks and missed timers" in page
    assert diagram_heat.legend("count", {"a": 100}, "zh")[1].text == "1–10"


def test_flow_counts_follow_the_time_range(boss: FlaskClient) -> None:
    def starts(url: str) -> list[str]:
        return texts(svg_of(boss.get(url).get_data(as_text=True)), "flow_start__applied")

    assert "5" in starts("/processes/card")  # every card's start
    assert "5" in starts("/processes/card?since=all")
    assert "1" in starts("/processes/card?since=7d")  # E, day 41
    assert "3" in starts("/processes/card?since=30d")  # C, D (day 15 is 27 days ago) and E
    svg = svg_of(boss.get("/processes/card?since=7d").get_data(as_text=True))
    assert "0" in texts(svg, "flow_produce__applied")


@pytest.mark.parametrize(
    "query",
    ["heat=hot", "heat=COUNT", "since=7", "since=0d", "since=-7d", "since=week", "since=99999d"],
)
def test_bad_heat_or_since_is_a_400_and_nothing_else(boss: FlaskClient, query: str) -> None:
    for url in (f"/processes/card?{query}", f"/processes/card/diagram.svg?{query}"):
        answer = boss.get(url)
        assert answer.status_code == 400, url
        assert "<svg" not in answer.get_data(as_text=True)


def test_every_state_of_the_live_diagram_links_to_its_instances(boss: FlaskClient) -> None:
    page = boss.get("/processes/card").get_data(as_text=True)
    svg = svg_of(page)
    links = {a.get("href"): [g.get("id") for g in a.iter(f"{SVG}g")] for a in svg.iter(f"{SVG}a")}
    assert links["/processes/card/states/produced"] == ["state_produced"]
    assert len(links) == len(engine_of(boss.application).definition("card").states)


def test_a_state_page_filters_overdue_and_old_instances(app: Flask, boss: FlaskClient) -> None:
    ids = app.config["card_ids"]

    def listed(url: str) -> list[int]:
        answer = boss.get(url)
        assert answer.status_code == 200, url
        return [int(n) for n in re.findall(r'data-instance="(\d+)"', answer.get_data(as_text=True))]

    base = "/processes/card/states/awaiting_activation"
    assert listed(base) == [ids["B"], ids["C"]]
    assert listed(f"{base}?overdue=1") == [ids["B"]]
    assert listed(f"{base}?older=30") == [ids["B"]]  # 32 days; C has waited 27
    assert listed(f"{base}?older=40") == []
    assert listed("/processes/card/states/produced?older=40") == [ids["A"]]
    assert listed("/processes/card/states/applied?overdue=1") == []
    page = boss.get(f"{base}?overdue=1").get_data(as_text=True)
    assert 'name="overdue" value="1" checked' in page


def test_a_state_page_goes_a_page_at_a_time_keeping_its_filter(
    app: Flask, boss: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = app.config["card_ids"]
    monkeypatch.setattr(pq, "PAGE_SIZE", 1)
    first = boss.get("/processes/card/states/applied?older=1").get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', first) == [str(ids["D"])]
    assert 'id="first-page"' not in first
    found = re.search(r'href="([^"]+)" id="next-page"', first)
    assert found and found.group(1)
    next_url = found.group(1).replace("&amp;", "&")
    assert "older=1" in next_url and f"after={ids['D']}" in next_url
    second = boss.get(next_url).get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', second) == [str(ids["E"])]
    assert 'id="next-page"' not in second and 'id="first-page"' in second


@pytest.mark.parametrize(
    "query",
    [
        "overdue=yes",
        "older=-1",
        "older=abc",
        "older=0",
        "older=²",
        "after=x",
        "after=99999999999999999999",
        "after=٦٨",
    ],
)
def test_bad_state_filters_are_a_400_on_the_services_own_page(
    boss: FlaskClient, query: str
) -> None:
    answer = boss.get(f"/processes/card/states/produced?{query}")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "data-instance" not in page
    assert "请求的参数无效" in page and 'class="card error-page"' in page  # not Werkzeug's page
    english = boss.get(f"/processes/card/states/produced?{query}&lang=en").get_data(as_text=True)
    assert "parameters are not valid" in english


@pytest.mark.parametrize(
    "path",
    [
        "/processes/instances/9223372036854775808",
        "/processes/instances/99999999999999999999/cancel",
        "/inbox/99999999999999999999",
        "/people/99999999999999999999",
        "/records/99999999999999999999",
        "/inbox/abc",
    ],
)
def test_ids_no_table_can_hold_are_a_404_page(boss: FlaskClient, path: str) -> None:
    answer = boss.get(path)
    assert answer.status_code == 404
    assert "页面不存在" in answer.get_data(as_text=True)


def test_an_inbox_cursor_past_any_id_is_the_first_page(boss: FlaskClient) -> None:
    answer = boss.get("/inbox/?after=20220315T020000000000_99999999999999999999")
    assert answer.status_code == 200


def test_numbers_never_outgrow_the_width_the_layout_reserved() -> None:
    assert ds.compact(1_234) == "1,234"
    assert ds.compact(9_999_999) == "9,999,999"
    assert ds.compact(12_345_678) == "12.3M"
    assert ds.compact(2_000_000_000) == "2G"
    for n in (0, 7, 10**6, 10**7, 10**9, 10**12, 10**15):
        assert len(ds.compact(n)) <= len(ds.COUNT_SLOT), n
    line = diagram_heat.heat_text("overdue", 10**8, "en") + " ⚠" + ds.compact(10**8, 5)
    assert len(line) <= len(ds.HEAT_SLOT)


def test_the_heat_queries_read_their_indexes(app: Flask) -> None:
    """Each heat query has the shape its index answers (SQLite's planner, or PostgreSQL's with
    sequential scans priced out: the tables here are too small for it to bother otherwise). On
    PostgreSQL the age probes are left out: with five rows it takes any index of the partition
    (at a million instances it reads ``ix_wf_instance_state_age``, one entry per state)."""
    engine = engine_of(app)
    card, now = engine.definition("card"), engine.clock.now()
    _, oldest = diagram_heat.oldest_query(card)
    expected = {
        "ix_wf_task_open_due": diagram_heat.overdue_tasks_query("card", now),
        "ix_wf_timer_pending_due": diagram_heat.overdue_timers_query("card", now),
        "state_age": oldest,
    }
    with engine.db.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for index, query in expected.items():
            assert query is not None
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + sql))
            if index == "state_age":
                if postgres:
                    continue
                index = "ix_wf_instance_state_age"
            assert index in plan, plan
        conn.rollback()
