"""Team work in a real browser: a supervisor ticks tasks in the inbox and assigns them to a teller
in one go, saves the current query as a filter shared with the group, and sets a follow-up date
that hides a task nobody holds from the default view (on a task a teller holds, only the
teller may). Screenshots at 1280, 768 and 390 px wide are kept under
``artifacts/screenshots/``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_search_pages import _shoot
from test_staff_pages import log_in

from engine import queries
from web.app import engine_of
from web.auth import create_user
from web.pages import inbox_queries as iq

pytestmark = pytest.mark.browser


def _free_icbc_tasks(site: Any, count: int) -> list[int]:
    """Unclaimed ICBC tasks on the first page of the supervisor's bank-teller queue."""
    engine = engine_of(site.app)
    page = iq.open_tasks(engine.db, "bank_teller", None, username="boss", now=engine.clock.now())
    found = [
        r["id"]
        for r in page.rows
        if r["scope"] == "icbc" and r["assignee"] is None and r["id"] != site.task_id
    ]
    assert len(found) >= count, "the demo has too few free ICBC tasks on the first page"
    return found[:count]


def test_a_supervisor_bulk_assigns_saves_a_filter_and_sets_a_follow_up(
    page: Any, site: Any, screenshots: Path
) -> None:
    engine = engine_of(site.app)
    create_user(engine.db, "lin", "browser-pw", "bank_teller", "icbc")
    *chosen, free = _free_icbc_tasks(site, 3)
    log_in(page, site, "boss")
    page.goto(f"{site.url}/inbox/?group=bank_teller&lang=en")
    for task in chosen:
        page.check(f'#task-list input[name=task_id][value="{task}"]')
    page.select_option("#bulk-assignee", "lin")
    page.click("#bulk-submit")
    page.wait_for_load_state()
    assert "2 tasks changed; 0 no longer open" in page.content()
    for task in chosen:
        row = page.locator(f'#task-list tr[data-task-id="{task}"]')
        assert "lin" in row.inner_text()
        assert iq.task(engine.db, task)["assignee"] == "lin"  # type: ignore[index]
    _shoot(page, screenshots, "inbox-team-bulk-assigned")

    # save the query (bank tellers by priority) as a filter shared with the supervisors' group
    page.select_option("#sort", "priority")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"sort=priority"))
    page.fill("#save-filter input[name=name]", "Tellers by priority")
    page.check("#save-filter input[name=shared]")
    page.click("#save-filter button[type=submit]")
    page.wait_for_load_state()
    saved = page.locator("#saved-filters li", has_text="Tellers by priority")
    assert saved.count() == 1 and "Shared" in saved.inner_text()
    assert int(saved.locator(".count").inner_text().rstrip("+")) > 0
    _shoot(page, screenshots, "inbox-team-saved-filter")

    # lin holds them now: only lin sets their follow-up dates (README: the team's work)
    page.goto(f"{site.url}/inbox/{chosen[0]}?lang=en")
    assert page.locator("#unassign-form").count() == 1
    assert page.locator("#follow-up-form").count() == 0
    # a follow-up date on a task nobody holds hides it from the default view until then
    task = free
    page.goto(f"{site.url}/inbox/{task}?lang=en")
    page.fill("#follow-up-form input[name=follow_up]", "2024-03-10")
    page.click("#follow-up-form button[type=submit]")
    page.wait_for_load_state()
    assert "2024-03-10" in page.locator("#team-follow-up").inner_text()
    assert "Follow-up date set" in page.locator("#team-history").inner_text()
    _shoot(page, screenshots, "inbox-team-task-detail")
    page.goto(f"{site.url}/inbox/?group=bank_teller")
    assert page.locator(f'#task-list tr[data-task-id="{task}"]').count() == 0
    page.check("#following")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"following=1"))
    assert page.locator(f'#task-list tr[data-task-id="{task}"]').count() == 1
    history = queries.history(engine.db, iq.task(engine.db, task)["instance_id"])  # type: ignore[index]
    assert [h["event"] for h in history if h["task_id"] == task][-1:] == ["task_follow_up"]
