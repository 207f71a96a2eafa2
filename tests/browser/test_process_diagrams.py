"""A supervisor reads the live card diagram in a real browser: switches what colours the states,
zooms and pans the SVG (buttons, wheel, drag), and clicks a state to open its instance list; all
under the page's Content-Security-Policy, with screenshots at three widths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_staff_pages import log_in

pytestmark = pytest.mark.browser


def view_box(page: Any) -> list[float]:
    text = page.locator("#live-diagram svg").get_attribute("viewBox")
    return [float(n) for n in text.split()]


def test_heat_modes_zoom_pan_and_a_click_on_a_state(
    page: Any, site: Any, screenshots: Path
) -> None:
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, site, "boss")
    page.goto(f"{site.url}/processes/card")
    assert page.locator("#heat-modes a.current").get_attribute("data-heat") == "count"
    assert page.locator("#heat-legend").get_attribute("data-heat") == "count"

    page.click("#heat-modes a[data-heat=overdue]")
    page.wait_for_url(re.compile(r"heat=overdue"))
    assert page.locator("#heat-legend").get_attribute("data-heat") == "overdue"
    assert "逾期" in page.locator("#heat-legend").inner_text()
    page.click("#heat-modes a[data-heat=age]")
    page.wait_for_url(re.compile(r"heat=age"))
    assert "停留" in page.locator("#heat-legend").inner_text()
    assert "最久" in page.locator("#live-diagram g#state_awaiting_activation").text_content()
    page.click("#flow-range a[data-since='30d']")
    page.wait_for_url(re.compile(r"since=30d"))
    assert "heat=age" in page.url

    home = view_box(page)
    page.click("button[data-zoom=in]")
    zoomed = view_box(page)
    assert zoomed[2] < home[2] * 0.85 and zoomed[3] < home[3] * 0.85
    page.click("button[data-zoom=out]")
    page.click("button[data-zoom=out]")
    assert view_box(page)[2] > zoomed[2]
    page.click("button[data-zoom=reset]")
    assert view_box(page) == pytest.approx(home, abs=0.05)

    box = page.locator("#live-diagram svg").bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "w => parseFloat(document.querySelector('#live-diagram svg')"
        ".getAttribute('viewBox').split(' ')[2]) < w",
        arg=home[2] - 1,
    )
    before_drag = view_box(page)
    page.mouse.move(middle[0] + 5, middle[1] + 5)
    page.mouse.down()
    page.mouse.move(middle[0] + 80, middle[1] + 40, steps=8)
    page.mouse.up()
    dragged = view_box(page)
    assert dragged[0] < before_drag[0] and dragged[1] < before_drag[1]  # the picture moved right
    assert dragged[2] == pytest.approx(before_drag[2])
    assert "/states/" not in page.url  # the drag opened nothing
    page.click("button[data-zoom=reset]")

    for width, height in ((1280, 900), (768, 1000), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{site.url}/processes/card?heat=overdue")
        page.screenshot(path=str(screenshots / f"process-diagram-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{site.url}/processes/card")
    page.locator("#live-diagram g#state_awaiting_activation").click()
    page.wait_for_url(re.compile(r"/processes/card/states/awaiting_activation"))
    assert page.locator("#instance-list tbody tr").count() > 0
    page.check("input[name=overdue]")
    page.click("#state-filters button[type=submit]")
    page.wait_for_url(re.compile(r"overdue=1"))
    assert page.locator("input[name=overdue]").is_checked()
    page.screenshot(path=str(screenshots / "process-state-list.png"), full_page=True)
    assert not blocked, blocked
