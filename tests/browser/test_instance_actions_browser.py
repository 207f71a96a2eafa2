"""A supervisor moves an instance in a real browser: choose the state on the instance page, read
the confirmation (what closes, what opens), give a reason, confirm; the history shows it.
Screenshots of the confirmation and the instance page at 1280, 768 and 390 px."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_staff_pages import log_in

from engine import queries
from web.app import domain_of, engine_of
from workflows.cards import apply_for_card
from workflows.identity import make_id_number

pytestmark = pytest.mark.browser
WIDTHS = (1280, 768, 390)


def a_produced_card(site: Any) -> int:
    """A card of its own (the shared site's known card stays as the other tests expect it)."""
    engine = engine_of(site.app)
    card = apply_for_card(
        engine,
        domain_of(site.app).regions,
        id_number=make_id_number("440604", date(1977, 7, 7), 31),
        channel="counter",
        bank="icbc",
        region_code="440604",
        actor="t",
    )
    engine.fire(card.instance_id, "produce")
    return card.instance_id


def shoot(page: Any, screenshots: Path, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_supervisor_moves_a_card_through_the_confirmation(
    page: Any, site: Any, screenshots: Path
) -> None:
    card_id = a_produced_card(site)
    log_in(page, site, "boss")
    page.goto(f"{site.url}/processes/instances/{card_id}")
    page.select_option("#move-target", "awaiting_activation")
    page.click("#move-start")
    page.wait_for_selector("#action-confirm")
    what = page.inner_text("#action-what")
    assert "已制卡" in what and "待激活" in what
    assert "核验身份并激活" in page.inner_text("#action-opens")
    shoot(page, screenshots, "instance-move-confirm")

    page.click("#action-do")  # no reason: the browser keeps the form (required field)
    assert page.url.endswith("/move?to=awaiting_activation")
    page.fill("#action-reason", "银行通知漏发，人工补推")
    page.click("#action-do")
    page.wait_for_url(f"{site.url}/processes/instances/{card_id}")
    assert "流程实例已移动" in page.inner_text(".flash.success")
    audit = page.inner_text("#instance-interventions")
    assert "主管移动流程" in audit and "银行通知漏发，人工补推" in audit
    row = queries.instance(engine_of(site.app).db, card_id)
    assert row is not None and row["state"] == "awaiting_activation"
    shoot(page, screenshots, "instance-after-move")

    page.goto(f"{site.url}/processes/instances/{card_id}?lang=en")
    audit = page.inner_text("#instance-interventions")
    assert "Moved by a supervisor" in audit and "Awaiting activation" in audit
    page.goto(f"{site.url}/processes/instances/{card_id}/cancel?lang=en")
    assert "Cancelling cannot be undone" in page.inner_text("#action-what")
    shoot(page, screenshots, "instance-cancel-confirm-en")
    page.goto(f"{site.url}/processes/instances/{card_id}?lang=zh")  # back to Chinese
