"""The supervisor's bulk form in a real browser: tick tasks, choose "Set the priority" with a
value, or "Unclaim", and apply; the inbox says how many changed and its rows show it. The tasks
are left as they were found (the site is shared by the browser tests)."""

from __future__ import annotations

from typing import Any

import pytest
from test_inbox_team_pages import _free_icbc_tasks
from test_staff_pages import log_in

from engine import task_team as tt
from web.app import engine_of
from web.pages import inbox_queries as iq

pytestmark = pytest.mark.browser


def _apply(page: Any, site: Any, tasks: list[int], action: str, priority: str = "") -> None:
    page.goto(f"{site.url}/inbox/?group=bank_teller&lang=en")
    for task in tasks:
        page.check(f'#task-list input[name=task_id][value="{task}"]')
    page.select_option("#bulk-action", action)
    if priority:
        page.fill("#bulk-priority", priority)
    page.click("#bulk-submit")
    page.wait_for_load_state()
    assert f"{len(tasks)} tasks changed; 0 no longer open" in page.content()


def test_a_supervisor_sets_the_priority_of_ticked_tasks_and_unclaims_them(
    page: Any, site: Any
) -> None:
    engine = engine_of(site.app)
    chosen = _free_icbc_tasks(site, 2)
    was = {t: iq.task(engine.db, t)["priority"] for t in chosen}  # type: ignore[index]
    log_in(page, site, "boss")
    try:
        _apply(page, site, chosen, "priority", "77")
        for task in chosen:
            row = page.locator(f'#task-list tr[data-task-id="{task}"]')
            assert row.locator(".priority").inner_text() == "77"
        for task in chosen:
            engine.claim_task(task, "wang")
        _apply(page, site, chosen, "unassign")
        for task in chosen:
            assert "wang" not in page.locator(f'#task-list tr[data-task-id="{task}"]').inner_text()
            assert iq.task(engine.db, task)["assignee"] is None  # type: ignore[index]
    finally:  # as found: free, at their priority
        for task, priority in was.items():
            if iq.task(engine.db, task)["assignee"]:  # type: ignore[index]
                tt.unassign(engine, task, "boss")
            tt.set_priority(engine, task, int(priority), "boss")
