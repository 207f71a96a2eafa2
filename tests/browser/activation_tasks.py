"""A teller's activation task in the browser: the card it is for, and the form held over a
session's end that goes once the teller has logged in again."""

from __future__ import annotations

import re
from typing import Any

from support import counter_card

from engine import queries
from web.app import engine_of


def activation_task(site: Any, holder: str) -> tuple[Any, int]:
    """``holder``'s card applied for at the counter, made and its holder told by ICBC: the card
    and its open activation task's id."""
    card = counter_card(site.app, holder, events=("produce", "notify_holder"))
    task = int(queries.tasks_of(engine_of(site.app).db, card.instance_id, "open")[0]["id"])
    return card, task


def sent_once_logged_in_again(page: Any, site: Any, card: Any) -> None:
    """The teller, logged in again in another tab, goes back to the held form and sends it: the
    warning goes, the task is done and the card is active."""
    page.click("#session-back")
    page.locator("#session-warning").wait_for(state="hidden")
    page.click("#complete-form button[value=activate]")
    page.wait_for_url(re.compile(r"/inbox/$"))
    assert "任务已办结" in page.locator(".flash.success").inner_text()
    row = queries.instance(engine_of(site.app).db, card.instance_id)
    assert row is not None and row["state"] == "active"
