"""The history table at a desk's width, and English text in a Latin font (QA, in Chromium).

A task page and an instance page give the history the page's width: its "from" and "to" states
sit on one line each and no event name is broken a character per line (they were, in a half-width
column beside a nearly empty box). An English page sets its text in a Latin font first, so that
curly quotes are not the Chinese font's full-width ones ("Moves to “Insured” ;").
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support import counter_card
from test_staff_pages import log_in

from engine import queries
from web.app import engine_of
from workflows.identity import make_id_number

pytestmark = pytest.mark.browser

LINES_OF_CELLS = """(table) => [...table.querySelectorAll("tbody tr")].map(row => {
  const cells = [...row.children];
  const lines = (cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  };
  return {event: cells[1].textContent.trim(), eventLines: lines(cells[1]),
          from: cells[2].textContent.trim(), fromLines: lines(cells[2]),
          to: cells[3].textContent.trim(), toLines: lines(cells[3])};
})"""
QUOTE_WIDTH = """(cell) => {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf("\u201c");
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + 1);
    const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
    return range.getBoundingClientRect().width / size;
  }
  return null;
}"""


def _refused_card_task(site: Any) -> tuple[int, int, str]:
    """A card awaiting activation whose task holds a refused attempt (a note in the history)."""
    holder = make_id_number("440604", date(1987, 2, 3), 41)
    card = counter_card(site.app, holder, events=("produce", "notify_holder"))
    task = int(queries.tasks_of(engine_of(site.app).db, card.instance_id, "open")[0]["id"])
    typo = holder[:-2] + ("0" if holder[-2] != "0" else "1") + holder[-1]
    return card.instance_id, task, typo


def _assert_history_is_readable(page: Any, where: str) -> None:
    table = page.locator("table.history")
    rows = table.evaluate(LINES_OF_CELLS)
    assert len(rows) >= 4, rows
    for row in rows:
        # 已申领, 待激活, 本人持申领证件激活: never 已/申/领 down the cell
        assert row["fromLines"] == 1 and row["toLines"] == 1, (where, row)
        assert row["eventLines"] < max(len(row["event"]), 2), (where, row)
    main = page.locator("main").bounding_box()
    box = table.bounding_box()
    assert main and box and box["width"] > 0.8 * main["width"], (where, box, main)


def test_history_gets_the_width_on_task_and_instance_pages(
    page: Any, site: Any, screenshots: Path
) -> None:
    instance_id, task, typo = _refused_card_task(site)
    log_in(page, site, "wang")
    page.goto(f"{site.url}/inbox/{task}?lang=zh")
    page.click("#claim")
    page.wait_for_load_state()
    page.fill("input[name=presented_id_number]", typo)
    page.click("#complete-form button[value=activate]")
    page.wait_for_load_state()
    page.goto(f"{site.url}/inbox/{task}?lang=zh")
    assert page.locator("table.history td.note").filter(has_text="证件").count() >= 1
    _assert_history_is_readable(page, "task page")
    page.screenshot(path=str(screenshots / "history-task-1400.png"), full_page=True)

    page.goto(f"{site.url}/logout")
    log_in(page, site, "boss")
    page.goto(f"{site.url}/processes/instances/{instance_id}?lang=zh")
    _assert_history_is_readable(page, "instance page")
    # the open task is a line among the facts, not a box of its own beside the history
    assert page.locator("#open-tasks a").count() == 1
    page.screenshot(path=str(screenshots / "history-instance-1400.png"), full_page=True)


def test_english_pages_set_curly_quotes_in_a_latin_font(page: Any, site: Any) -> None:
    log_in(page, site, "wang")
    widths = {}
    for lang in ("en", "zh"):
        page.goto(f"{site.url}/inbox/{site.task_id}?lang={lang}")
        choice = page.locator("#task-choices dd").first  # Moves to “Active”
        widths[lang] = choice.evaluate(QUOTE_WIDTH)
    # a Latin quote is well under half an em; the Chinese font's is a full em (right in Chinese)
    assert widths["en"] is not None and widths["en"] < 0.5, widths
    assert widths["zh"] is not None and widths["zh"] > 0.8, widths
