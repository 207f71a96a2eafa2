"""The task form in a browser (QA): a confirmation is bound to what it named (the form locked
under it, "go back" to change, the new choice confirmed again); a form sent after the session
ended elsewhere (a logout in another tab) is not sent, its text stays, and goes once logged in
again; a language link asks before leaving typed text."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from card_reviews import extra_card_review
from test_staff_pages import log_in

from engine import queries
from tests.browser.activation_tasks import activation_task, sent_once_logged_in_again
from web.app import engine_of
from workflows.identity import make_id_number

pytestmark = pytest.mark.browser


def test_a_confirmation_is_bound_to_the_card_it_names(page: Any, site: Any) -> None:
    db = engine_of(site.app).db
    holder = make_id_number("440604", date(1979, 4, 2), 711)  # a holder of its own
    _, task, cards = extra_card_review(site.app, holder, "4400007110")
    log_in(page, site, "su")
    page.goto(f"{site.url}/inbox/{task}")
    select = page.locator("select[name=keep_card_id]")
    select.select_option(str(cards["icbc"]))
    page.click("#complete-form button[value=resolve]")
    panel = page.locator("#confirm-panel")
    assert f"#{cards['icbc']} " in page.locator("#confirm-keep_card_id").inner_text()
    # under the confirmation the choice cannot be changed in place: only confirm or go back
    assert select.is_disabled()
    assert page.locator("#complete-form .outcomes").count() == 0
    page.click("#confirm-change")
    panel.wait_for(state="detached")
    assert select.is_enabled()
    assert select.input_value() == str(cards["icbc"])
    select.select_option(str(cards["boc"]))
    page.click("#complete-form button[value=resolve]")
    assert f"#{cards['boc']} " in page.locator("#confirm-keep_card_id").inner_text()
    state = {b: queries.instance(db, c)["state"] for b, c in cards.items()}  # type: ignore[index]
    assert state == {"icbc": "active", "boc": "awaiting_activation"}
    page.click("#confirm-do")
    page.wait_for_url(re.compile(r"/inbox/$"))
    state = {b: queries.instance(db, c)["state"] for b, c in cards.items()}  # type: ignore[index]
    assert state == {"icbc": "cancelled", "boc": "awaiting_activation"}


def test_a_form_is_not_sent_after_a_logout_in_another_tab(browser: Any, site: Any) -> None:
    holder = make_id_number("440604", date(1983, 8, 9), 712)
    card, task = activation_task(site, holder)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        log_in(page, site, "wang")
        page.goto(f"{site.url}/inbox/{task}")
        page.click("#claim")
        page.fill("input[name=presented_id_number]", holder)
        other = context.new_page()
        other.goto(f"{site.url}/inbox/")
        other.click("header form[action$='/logout'] button")
        other.wait_for_load_state()

        page.click("#complete-form button[value=activate]")
        warning = page.locator("#session-warning")
        warning.wait_for(state="visible")
        assert warning.get_attribute("data-phase") == "ended"
        assert page.url.endswith(f"/inbox/{task}")
        assert page.input_value("input[name=presented_id_number]") == holder

        log_in(other, site, "wang")
        other.close()
        sent_once_logged_in_again(page, site, card)
    finally:
        context.close()


def test_a_language_link_asks_before_leaving_typed_text(page: Any, site: Any) -> None:
    holder = make_id_number("440604", date(1984, 1, 3), 713)
    card, task = activation_task(site, holder)
    log_in(page, site, "wang")
    page.goto(f"{site.url}/inbox/{task}")
    page.click("#claim")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.fill("input[name=presented_id_number]", holder)
    page.once("dialog", dismiss)
    page.click(".langs a[data-lang=en]")
    page.wait_for_timeout(300)
    assert asked and "切换语言" in asked[0]
    assert page.url.endswith(f"/inbox/{task}")
    assert page.input_value("input[name=presented_id_number]") == holder

    page.fill("input[name=presented_id_number]", "")  # nothing typed: no question
    page.click(".langs a[data-lang=en]")
    page.wait_for_load_state()
    assert len(asked) == 1 and page.locator("html").get_attribute("lang") == "en"
    page.click(".langs a[data-lang=zh]")  # the site's next tests read Chinese pages
    page.wait_for_load_state()
