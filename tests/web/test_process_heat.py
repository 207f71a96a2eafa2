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
from staff_login import client_for, token_of
from support import MakeApp, counter_card

from engine import diagram_heat, queries
from engine import diagram_styles as ds
from engine.clock import SimulatedClock
from engine.specs import CANCELLED
from engine.timers import TimerSweep
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
        ("incident", "有待处理的事件单（⚠）"),
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


def test_a_state_page_says_how_long_each_instance_has_waited(app: Flask, boss: FlaskClient) -> None:
    ids = app.config["card_ids"]
    page = boss.get("/processes/card/states/awaiting_activation").get_data(as_text=True)
    waited = dict(re.findall(r'data-instance="(\d+)".*?class="num waited">([^<]*)<', page, re.S))
    assert waited[str(ids["B"])].startswith("32 天") and waited[str(ids["C"])].startswith("27 天")
    assert "停留时长" in page
    english = boss.get("/processes/card/states/awaiting_activation?lang=en").get_data(as_text=True)
    assert "Time in state" in english and "32 days" in english


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
    assert "older=1" in next_url and re.search(r"after=\w+_" + str(ids["D"]) + r"\b", next_url)
    second = boss.get(next_url).get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', second) == [str(ids["E"])]
    assert 'id="next-page"' not in second and 'id="first-page"' in second


def test_a_state_lists_the_longest_waiting_first_a_page_at_a_time(
    app: Flask, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor looks for who has waited longest: by when they entered the state, ties by
    id, and the pages keep that order (a card produced long ago with a higher id comes first)."""
    engine, ids = engine_of(app), app.config["card_ids"]
    late = counter_card(app, make_id_number("440604", datetime(1980, 2, 1).date(), 11))
    ids["F"] = late.instance_id
    clock.set(DAY0 + timedelta(days=43))
    engine.fire(ids["E"], "produce")  # E and F produced at the same moment: E first, by id
    engine.fire(ids["F"], "produce")
    clock.set(DAY0 + timedelta(days=44))
    engine.fire(ids["D"], "produce")  # D, the lowest of the three ids, entered last
    oldest_first = [ids[name] for name in ("A", "E", "F", "D")]
    assert sorted(oldest_first) != oldest_first
    boss = client_for(app, "boss")  # signed in at the new time

    def walk(url: str) -> list[list[int]]:
        pages: list[list[int]] = []
        while url:
            answer = boss.get(url)
            assert answer.status_code == 200, url
            page = answer.get_data(as_text=True)
            pages.append([int(n) for n in re.findall(r'data-instance="(\d+)"', page)])
            found = re.search(r'href="([^"]+)" id="next-page"', page)
            url = html.unescape(found.group(1)) if found else ""
        return pages

    base = "/processes/card/states/produced"
    assert walk(base) == [oldest_first]
    for size in (1, 2, 3):
        monkeypatch.setattr(pq, "PAGE_SIZE", size)
        pages = walk(base)
        assert [n for page in pages for n in page] == oldest_first, size
        assert all(len(page) == size for page in pages[:-1]), size
    monkeypatch.setattr(pq, "PAGE_SIZE", 1)
    assert walk(f"{base}?older=1") == [[ids["A"]], [ids["E"]], [ids["F"]]]  # D: today


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
        "after=5",  # a bare id: the list is no longer in id order
        "after=20240301T020000000000_x",
        "after=20240301T020000000000_99999999999999999999",
        "after=2024-03-01_5",
        "after=20241301T020000000000_5",
        "after=_5",
        "after=n_٦٨",
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


def test_an_inbox_cursor_past_any_id_is_a_bad_parameter_not_a_server_error(
    boss: FlaskClient,
) -> None:
    answer = boss.get("/inbox/?after=20220315T020000000000_99999999999999999999")
    assert answer.status_code == 400  # as any malformed inbox parameter, in words
    assert boss.get("/inbox/").status_code == 200


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
    (at a million instances it reads ``ix_wf_instance_state_entered``, one entry per state)."""
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
                index = "ix_wf_instance_state_entered"
            assert index in plan, plan
        conn.rollback()


def test_a_state_page_is_one_range_of_its_index_from_the_cursor_on(app: Flask) -> None:
    """A page of a state's instances, longest waiting first, starts where the cursor points in
    ``ix_wf_instance_state_entered`` (process, state, state_entered_at, id) and reads on in the
    index's order: nothing sorted, however many instances (or ties) come before the cursor."""
    engine = engine_of(app)
    now = engine.clock.now()
    cursor = pq.EnteredCursor(now - timedelta(days=20), 3)
    with engine.db.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for filters in (pq.StateFilter(), pq.StateFilter(older_days=1)):
            dated = pq.state_page_queries("card", "produced", now, filters, cursor, 51)[0]
            sql = str(dated.compile(conn, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + sql))
            if postgres:  # the partition's copy of the index is named by its columns
                assert "state_entered_at_id_idx" in plan, plan
                assert "ROW(state_entered_at, id) >" in plan.split("Filter:")[0], plan
                assert "Sort" not in plan, plan
            else:
                assert "USING INDEX ix_wf_instance_state_entered" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
        conn.rollback()


def test_age_counts_from_entering_the_state_not_from_a_reminder(
    app: Flask, boss: FlaskClient
) -> None:
    """A reminder (a timer, fired by the sweep) and one sent by hand leave the card where it is:
    the age heat, ``?older=`` and the list's column still count from when it entered the state."""
    engine, ids = engine_of(app), app.config["card_ids"]
    assert TimerSweep(engine).sweep().fired >= 1  # B's reminder, due day 40
    engine.fire(ids["C"], "remind_holder")  # C's, by hand, day 42
    assert queries.history(engine.db, ids["B"])[-1]["event"] == "remind_holder"
    page = boss.get("/processes/card?heat=age").get_data(as_text=True)
    age = re.search(r'data-state="awaiting_activation">.*?class="num age">(.*?)</td>', page, re.S)
    assert age and age.group(1) == "32"  # B, since day 10 (not 0: the reminder of day 42)
    base = "/processes/card/states/awaiting_activation"
    listed = boss.get(f"{base}?older=30").get_data(as_text=True)
    assert re.findall(r'data-instance="(\d+)"', listed) == [str(ids["B"])]
    row = listed[listed.index(f'data-instance="{ids["B"]}"') :]
    assert "<th>进入该状态</th>" in listed and "2024-03-11" in row[: row.index("</tr>")]
    english = boss.get(f"{base}?older=30&lang=en").get_data(as_text=True)
    assert "<th>In this state since</th>" in english


def test_instances_cancelled_by_a_supervisor_are_counted_and_listed(
    app: Flask, boss: FlaskClient
) -> None:
    d = app.config["card_ids"]["D"]
    form_page = boss.get(f"/processes/instances/{d}/cancel").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', form_page)
    assert version
    form = {"csrf_token": token_of(form_page), "version": version.group(1), "reason": "重复申领"}
    assert boss.post(f"/processes/instances/{d}/cancel", data=form).status_code == 303

    page = boss.get("/processes/card").get_data(as_text=True)
    total = re.search(r"实例数 ([\d,]+)", page)
    assert total and total.group(1) == "5"
    table = page[page.index('id="state-counts"') :]
    counts = [int(n.replace(",", "")) for n in re.findall(r'class="num count">([\d,]+)<', table)]
    assert sum(counts) == 5
    cancelled = re.search(rf'data-state="{CANCELLED}">(.*?)</tr>', table, re.S)
    assert cancelled and "已由主管终止" in cancelled.group(1)
    assert 'class="num count">1<' in cancelled.group(1)
    assert 'id="cancelled-note"' in page
    assert "已由主管终止 1" in boss.get("/processes/").get_data(as_text=True)

    listed = boss.get(f"/processes/card/states/{CANCELLED}")
    assert listed.status_code == 200
    assert re.findall(r'data-instance="(\d+)"', listed.get_data(as_text=True)) == [str(d)]
    english = boss.get(f"/processes/card/states/{CANCELLED}?lang=en").get_data(as_text=True)
    assert "Cancelled by a supervisor" in english
