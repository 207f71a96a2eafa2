"""Typed text outlives the session's end: the pages warn before an idle session ends, typing keeps
it alive, "stay signed in" restarts its idle time, and after its end a form is not sent into the
login page: the teller logs in again in another tab and sends the text still on the page.

The browser's timers run on Playwright's clock (``page.clock``), the server's idle time on the
site's simulated clock; the test moves both by the same amount.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from test_staff_pages import log_in

from tests.browser.activation_tasks import activation_task, sent_once_logged_in_again
from web.app import engine_of
from web.sessions import sessions
from workflows.identity import make_id_number

pytestmark = pytest.mark.browser


def _last_seen(site: Any) -> list[Any]:
    with engine_of(site.app).db.connect() as conn:
        rows = conn.execute(select(sessions.c.last_seen_at).where(sessions.c.revoked_at.is_(None)))
        return sorted(row.last_seen_at for row in rows)


def _later(page: Any, site: Any, minutes: float) -> None:
    """Both clocks move on: the server's (idle time) and the page's (its timers fire)."""
    engine_of(site.app).clock.advance(timedelta(minutes=minutes))
    page.clock.fast_forward(int(minutes * 60_000))


def _answers(page: Any) -> int:
    """How many answers of the server the page's script has learned the session's ends from."""
    return int(page.locator("#session-warning").get_attribute("data-answers") or 0)


def _wait_until_kept_alive(page: Any, site: Any, answers_before: int) -> None:
    """The server counted a request of the page at the server's present time, and the page has
    learned from the answer (its timers count from it: the clocks may move on)."""
    now = engine_of(site.app).clock.now()
    for _ in range(50):
        if now in _last_seen(site):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"the session was not kept alive at {now}: {_last_seen(site)}")
    page.wait_for_function(
        "n => Number(document.querySelector('#session-warning').dataset.answers) > n",
        arg=answers_before,
    )


@contextmanager
def _slow_server(site: Any) -> Iterator[None]:
    """The server takes a while to send ``session.js`` (a teller may type before it runs) and to
    answer a keep-alive once it has counted it (the page learns of it later than the server)."""
    views = site.app.view_functions
    send_static, keep_alive = views["static"], views["account.keep_alive"]

    def script_slowly(**arguments: Any) -> Any:
        if arguments.get("filename") == "session.js":
            time.sleep(0.8)
        return send_static(**arguments)

    def answer_slowly() -> Any:
        answer = keep_alive()
        time.sleep(0.5)
        return answer

    views["static"], views["account.keep_alive"] = script_slowly, answer_slowly
    try:
        yield
    finally:
        views["static"], views["account.keep_alive"] = send_static, keep_alive


def test_the_session_warning_keeps_typed_text(browser: Any, site: Any) -> None:
    holder = make_id_number("440604", date(1986, 2, 11), 57)
    card, task_id = activation_task(site, holder)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    with _slow_server(site):
        _keep_typed_text(context, site, card, task_id, holder)


def _keep_typed_text(context: Any, site: Any, card: Any, task_id: int, holder: str) -> None:
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.clock.install()
        log_in(page, site, "wang")
        page.goto(f"{site.url}/inbox/{task_id}")
        page.click("#claim")
        warning = page.locator("#session-warning")
        assert warning.is_hidden()

        # typing is activity, also before the page's script has run (it comes slowly here): near
        # the idle end the page keeps the session alive by itself
        page.fill("input[name=presented_id_number]", holder)
        page.wait_for_load_state("domcontentloaded")  # the script has run: its timers are set
        answers = _answers(page)
        _later(page, site, 28.5)
        _wait_until_kept_alive(page, site, answers)
        assert warning.is_hidden()

        # no typing: the warning counts down; "stay signed in" restarts the idle time
        _later(page, site, 28.5)
        warning.wait_for(state="visible")
        assert warning.get_attribute("data-phase") == "idle"
        assert "无操作的登录将在" in warning.inner_text()
        assert re.search(r"\b1:[0-3][0-9]\b", page.locator(".countdown").inner_text())
        answers = _answers(page)
        page.click("#session-stay")
        warning.wait_for(state="hidden")
        _wait_until_kept_alive(page, site, answers)

        # the session ends: the form is not sent, the text stays, a new login lets it go
        _later(page, site, 31)
        warning.wait_for(state="visible")
        page.wait_for_function(
            "() => document.querySelector('#session-warning').dataset.phase === 'ended'"
        )
        assert "已填写的内容仍在本页" in warning.inner_text()
        page.click("#complete-form button[value=activate]")
        assert page.url.endswith(f"/inbox/{task_id}")
        assert page.input_value("input[name=presented_id_number]") == holder
        page.click("#session-back")  # not logged in yet: it says so
        page.wait_for_function(
            "() => document.querySelector('#session-message').textContent.includes('仍未登录')"
        )
        other_tab = context.new_page()
        log_in(other_tab, site, "wang")
        other_tab.close()
        sent_once_logged_in_again(page, site, card)
    finally:
        context.close()
