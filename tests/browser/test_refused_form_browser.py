"""A teller mistypes one digit of the ID number presented at the counter, is refused, corrects
that digit in the number the page gave back and activates the card, in a real browser."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from support import counter_card
from test_staff_pages import log_in

from engine import queries
from web.app import engine_of
from workflows.identity import make_id_number, mask_id_number

pytestmark = pytest.mark.browser


def test_a_refused_id_number_comes_back_to_be_corrected_and_sent_again(
    page: Any, site: Any
) -> None:
    holder = make_id_number("440604", date(1983, 9, 14), 73)
    card = counter_card(site.app, holder, events=("produce", "notify_holder"))
    task = int(queries.tasks_of(engine_of(site.app).db, card.instance_id, "open")[0]["id"])
    typo = holder[:-2] + ("0" if holder[-2] != "0" else "1") + holder[-1]
    log_in(page, site, "wang")
    page.goto(f"{site.url}/inbox/{task}")
    field = page.locator("input[name=presented_id_number]")
    field.fill(typo)
    page.click("#complete-form button[value=activate]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/inbox/{task}/complete")
    assert field.input_value() == typo, "the refused number comes back as it was typed"
    shown = page.locator("body").inner_text()
    assert typo not in shown and holder not in shown
    assert mask_id_number(holder) in shown  # the holder, in the page's text, masked

    # the teller corrects the one wrong digit, and sends the number again
    field.press("End")
    field.press("ArrowLeft")
    field.press("Backspace")
    field.press_sequentially(holder[-2])
    page.click("#complete-form button[value=activate]")
    page.wait_for_load_state()
    assert page.url.endswith("/inbox/"), page.url
    row = queries.instance(engine_of(site.app).db, card.instance_id)
    assert row is not None and row["state"] == "active"
