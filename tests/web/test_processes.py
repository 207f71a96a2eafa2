"""The supervisors' process pages: live diagram and counts, instances per state, one instance,
overdue work; nobody else may open them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from staff_login import client_for
from support import MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    app = make_app(
        clock, staff=[("boss", "supervisor", None), ("mi", "medical_insurance_clerk", "foshan")]
    )
    engine = engine_of(app)
    for n in range(7):
        card = counter_card(app, make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11))
        for event in ("produce", "notify_holder")[: 1 + (n % 2)]:
            engine.fire(card.instance_id, event)
    return app


def test_only_supervisors_open_the_process_pages(app: Flask) -> None:
    clerk = client_for(app, "mi")
    for url in ("/processes/", "/processes/card", "/processes/overdue", "/processes/instances/1"):
        assert clerk.get(url).status_code == 403, url
    assert client_for(app, "boss").get("/processes/").status_code == 200


def test_the_card_page_shows_live_counts_per_state_in_table_and_diagram(app: Flask) -> None:
    page = client_for(app, "boss").get("/processes/card").get_data(as_text=True)
    counts = dict(re.findall(r'data-state="(\w+)">.*?class="num count">([\d,]+)<', page, re.S))
    assert counts["produced"] == "4" and counts["awaiting_activation"] == "3"
    assert counts["active"] == "0"
    svg = page[page.index("<svg") :]
    assert 'id="state_awaiting_activation"' in svg and "待激活" in svg
    assert "社会保障卡" in page


def test_the_diagram_speaks_english_after_the_switch(app: Flask) -> None:
    boss = client_for(app, "boss")
    page = boss.get("/processes/card?lang=en").get_data(as_text=True)
    assert "Awaiting activation" in page and "Social security card" in page
    svg = boss.get("/processes/card/diagram.svg")
    assert svg.mimetype == "image/svg+xml" and b"Awaiting activation" in svg.data


def test_a_state_lists_its_instances_a_page_at_a_time(app: Flask) -> None:
    from web.pages import process_queries as pq

    engine = engine_of(app)
    rows, after = pq.instances_in_state(engine.db, "card", "produced", NOW, limit=3)
    assert len(rows) == 3 and after is not None and after.endswith(f"_{rows[-1]['id']}")
    cursor = pq.EnteredCursor.decode(after)
    assert cursor is not None and cursor.id == rows[-1]["id"]
    assert cursor.entered_at == rows[-1]["state_entered_at"]
    rest, done = pq.instances_in_state(engine.db, "card", "produced", NOW, after=cursor, limit=3)
    assert len(rest) == 1 and done is None
    assert {r["id"] for r in rows}.isdisjoint(r["id"] for r in rest)
    page = client_for(app, "boss").get("/processes/card/states/produced").get_data(as_text=True)
    assert page.count("/processes/instances/") == 4
    assert "440604********" in page


def test_an_instance_shows_its_path_history_open_task_and_timers(app: Flask) -> None:
    engine = engine_of(app)
    waiting = next(
        i
        for i in range(1, 8)
        if queries.instance(engine.db, i)["state"] == "awaiting_activation"  # type: ignore[index]
    )
    page = client_for(app, "boss").get(f"/processes/instances/{waiting}").get_data(as_text=True)
    assert "<svg" in page and "步骤" in page  # the path's step numbers
    assert "银行通知领卡" in page and "核验身份并激活" in page
    assert "提醒领卡激活" in page  # the pending reminder timer


def test_an_instances_notices_say_what_they_are_in_words(app: Flask) -> None:
    engine = engine_of(app)
    waiting = next(
        i
        for i in range(1, 8)
        if queries.instance(engine.db, i)["state"] == "awaiting_activation"  # type: ignore[index]
    )
    boss = client_for(app, "boss")
    for lang, words in (("zh", "制卡完成待领取"), ("en", "Card ready to collect")):
        page = boss.get(f"/processes/instances/{waiting}?lang={lang}").get_data(as_text=True)
        notices = page[page.index('id="instance-notices"') :]
        notices = notices[: notices.index("</section>")]
        assert words in notices
        assert not re.search(r">[^<]*card_ready[^<]*<", notices)  # the kind, never as text


def test_every_notice_kind_the_definitions_declare_has_words() -> None:
    from engine.definition import load_definitions
    from web.config import PROJECT_ROOT
    from web.words import WORDS

    kinds = {
        notice.kind
        for definition in load_definitions(PROJECT_ROOT / "definitions").values()
        for event in definition.events.values()
        for notice in event.notices
    }
    assert len(kinds) >= 13
    missing = sorted(k for k in kinds if f"notice_kind_{k}" not in WORDS)
    assert missing == []


def test_overdue_lists_late_tasks_and_timers_that_did_not_fire(
    app: Flask, clock: SimulatedClock
) -> None:
    clock.advance(timedelta(days=40))
    page = client_for(app, "boss").get("/processes/overdue").get_data(as_text=True)
    tasks = page[page.index('id="overdue-tasks"') : page.index('id="missed-timers"')]
    assert tasks.count("/inbox/") == 3
    assert page.count("提醒领卡激活") == 3
