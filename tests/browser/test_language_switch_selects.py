"""The language link asks before leaving a form only when something in it was changed: a
drop-down left on the choice the page came with (its first option, none marked ``selected``) is
nothing typed, one the user moved is. Seen on a registration review (the document checked) and
on the supervisor's inbox (the colleague to assign a selection to)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from support import registration_in_review
from test_staff_pages import log_in

from web.app import engine_of
from web.auth import create_user
from workflows.identity import make_id_number

pytestmark = pytest.mark.browser


def questions_of(page: Any) -> list[str]:
    """The questions the page asks from now on (each one answered "cancel": the page stays)."""
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return asked


def switch_language(page: Any, lang: str) -> None:
    page.click(f".langs a[data-lang={lang}]")
    page.wait_for_timeout(300)
    page.wait_for_load_state()


def check_select(page: Any, url: str, select: str) -> None:
    """On the untouched page the link switches at once; with ``select`` moved to its second
    option it asks first and, answered "cancel", leaves the page and the choice as they were."""
    page.goto(url)
    asked = questions_of(page)
    assert page.locator(select).count() == 1
    switch_language(page, "en")
    assert asked == [] and page.locator("html").get_attribute("lang") == "en"

    second = page.locator(f"{select} option").nth(1).get_attribute("value")
    page.select_option(select, second)
    switch_language(page, "zh")
    assert len(asked) == 1 and "switch the language" in asked[0].lower(), asked
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.input_value(select) == second

    page.goto(url)  # the site's next tests read Chinese pages
    switch_language(page, "zh")
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_a_task_form_with_a_drop_down_asks_only_once_it_was_changed(page: Any, site: Any) -> None:
    _, task = registration_in_review(site.app, make_id_number("440604", date(1986, 6, 6), 517))
    create_user(
        engine_of(site.app).db, "mi_foshan_lang", "browser-pw", "medical_insurance_clerk", "foshan"
    )
    log_in(page, site, "mi_foshan_lang")
    page.goto(f"{site.url}/inbox/{task}")
    page.click("#claim")
    page.wait_for_load_state()
    check_select(page, f"{site.url}/inbox/{task}", "select[name=document_kind]")


def test_the_supervisors_inbox_asks_only_once_the_assignee_was_changed(
    page: Any, site: Any
) -> None:
    log_in(page, site, "boss")
    check_select(page, f"{site.url}/inbox/", "#bulk-assignee")
