"""What a follow-up date hides, and how far ahead it may be set (QA round 2, item 1).

A follow-up date hides a task from the inbox's to-do lists until that day; an overdue task stays
in every overdue view (the inbox's "overdue only", a supervisor's, ``/processes/overdue``),
marked "followed up until <day>", so the overdue summary and the lists agree. The date is at most
``MAX_FOLLOW_UP_DAYS`` days ahead: a later one is refused in words, in both languages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import lxml.html
import pytest
from flask import Flask
from staff_login import client_for
from support import counter_card

from engine import queries
from engine import task_team as tt
from engine.clock import SimulatedClock
from web import i18n
from web.app import engine_of
from web.pages import inbox_queries as iq
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
"""The service's time: the ``clock`` fixture's (``conftest.py``)."""

_people = iter(range(1, 10_000))


def new_task(app: Flask) -> int:
    """A card awaiting activation at icbc: its open task's id."""
    engine = engine_of(app)
    card = counter_card(
        app,
        make_id_number("440604", date(1980, 1, 1), next(_people)),
        events=("produce", "notify_holder"),
    )
    return int(queries.tasks_of(engine.db, card.instance_id, "open")[0]["id"])


def _today(app: Flask) -> date:
    return engine_of(app).clock.now().astimezone(i18n.LOCAL_TZ).date()


def _row_of(page: str, task: int, table: str | None = None) -> str | None:
    """The visible text of the task's row (in the table ``table`` when given), None if absent."""
    document = lxml.html.document_fromstring(page)
    scope = f'//table[@id="{table}"]' if table else ""
    for row in document.xpath(f"{scope}//tr"):
        links = row.xpath(".//a/@href")
        if row.get("data-task-id") == str(task) or f"/inbox/{task}" in links:
            return " ".join(row.text_content().split())
    return None


def _late_task_followed_up(app: Flask, clock: SimulatedClock) -> tuple[int, int, date]:
    """Two late tasks of icbc; the first claimed by wang and followed up 5 days ahead."""
    followed, other = new_task(app), new_task(app)
    clock.advance(timedelta(days=40))  # both well past their due date
    day = _today(app) + timedelta(days=5)
    wang = client_for(app, "wang")
    assert wang.post(f"/inbox/{followed}/claim").status_code == 302
    answer = wang.post(f"/inbox/{followed}/follow-up", data={"follow_up": day.isoformat()})
    assert answer.status_code == 303
    return followed, other, day


def test_a_follow_up_hides_a_late_task_from_the_to_do_list_but_not_from_the_overdue_views(
    app: Flask, clock: SimulatedClock
) -> None:
    followed, other, day = _late_task_followed_up(app, clock)
    wang, boss = client_for(app, "wang"), client_for(app, "boss")
    # the default view (and its narrowings, "mine" too) leave it out until the day
    for url in ("/inbox/", "/inbox/?mine=1", "/inbox/?kind=activate_card"):
        page = wang.get(url).get_data(as_text=True)
        assert _row_of(page, followed) is None, url
    assert _row_of(wang.get("/inbox/").get_data(as_text=True), other) is not None
    # every overdue view shows it, marked, in both languages
    for client, url in (
        (wang, "/inbox/?overdue=1"),
        (wang, "/inbox/?overdue=1&mine=1"),
        (boss, "/inbox/?group=bank_teller&overdue=1"),
    ):
        zh = _row_of(client.get(f"{url}&lang=zh").get_data(as_text=True), followed)
        assert zh is not None and f"跟进至 {day.isoformat()}" in zh, url
        en = _row_of(client.get(f"{url}&lang=en").get_data(as_text=True), followed)
        assert en is not None and f"followed up until {day.isoformat()}" in en, url
        assert "followed up" not in (
            _row_of(client.get(f"{url}&lang=en").get_data(as_text=True), other) or "missing"
        )
    page = boss.get("/processes/overdue?lang=en").get_data(as_text=True)
    row = _row_of(page, followed, "overdue-tasks")
    assert row is not None and f"followed up until {day.isoformat()}" in row
    assert _row_of(page, other, "overdue-tasks") is not None
    # the queue summary and the list count the same tasks
    summary = lxml.html.document_fromstring(page).xpath('//table[@id="overdue-queues"]//tr')
    [icbc] = [r for r in summary if r.get("data-scope") == "icbc"]
    assert icbc.xpath("./td")[2].text_content() == "2"
    listed = iq.overdue_tasks(engine_of(app).db, ["bank_teller"], clock.now())
    assert {t["id"] for t in listed} == {followed, other}
    # "following up" still lists it, and after the day it is back in the to-do list
    assert _row_of(wang.get("/inbox/?following=1").get_data(as_text=True), followed) is not None
    clock.advance(timedelta(days=6))
    page = client_for(app, "wang").get("/inbox/?lang=en").get_data(as_text=True)
    row = _row_of(page, followed)
    assert row is not None and "followed up" not in row


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_follow_up_date_is_at_most_90_days_ahead(app: Flask, lang: str) -> None:
    task = new_task(app)
    wang = client_for(app, "wang")
    last = _today(app) + timedelta(days=tt.MAX_FOLLOW_UP_DAYS)
    says = {
        "zh": f"跟进日期最晚为 {last.isoformat()}（今天起 {tt.MAX_FOLLOW_UP_DAYS} 天内）",
        "en": f"The follow-up date can be at most {tt.MAX_FOLLOW_UP_DAYS} days ahead "
        f"(until {last.isoformat()})",
    }[lang]
    for day in ("2099-12-31", "9999-12-31", (last + timedelta(days=1)).isoformat()):
        refused = wang.post(f"/inbox/{task}/follow-up?lang={lang}", data={"follow_up": day})
        assert refused.status_code == 422, day
        assert says in refused.get_data(as_text=True), day
        assert iq.task(engine_of(app).db, task)["follow_up_at"] is None  # type: ignore[index]
    # the form offers only the days it takes
    page = wang.get(f"/inbox/{task}?lang={lang}").get_data(as_text=True)
    [field] = lxml.html.document_fromstring(page).xpath('//input[@name="follow_up"]')
    assert field.get("max") == last.isoformat()
    assert field.get("min") == (_today(app) + timedelta(days=1)).isoformat()
    ok = wang.post(f"/inbox/{task}/follow-up", data={"follow_up": last.isoformat()})
    assert ok.status_code == 303
    assert iq.task(engine_of(app).db, task)["follow_up_at"] is not None  # type: ignore[index]


def test_the_engine_refuses_a_follow_up_beyond_the_limit_whoever_calls_it(app: Flask) -> None:
    task = new_task(app)
    engine = engine_of(app)
    too_late = engine.clock.now() + timedelta(days=tt.MAX_FOLLOW_UP_DAYS, seconds=1)
    with pytest.raises(tt.TeamInputInvalid):
        tt.set_follow_up(engine, task, too_late, "wang")
    assert iq.task(engine.db, task)["follow_up_at"] is None  # type: ignore[index]
    tt.set_follow_up(engine, task, engine.clock.now() + timedelta(days=30), "wang")
    assert iq.task(engine.db, task)["follow_up_at"] is not None  # type: ignore[index]
