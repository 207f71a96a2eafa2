"""Accessibility and small screens: every staff page passes axe-core and fits a phone's width.

A supervisor and a bank teller (and nobody, for the login page) open every page of the url_map
(``staff_pages``: one sample of each route, with real ids of the demo) at 1280, 768 and 390 px
wide. The page must not scroll sideways at any width (wide tables scroll inside their own box, or
are stacked cards on a phone); at 1280 and 390 px axe-core (``node_modules/axe-core``, from
package.json; injected by Playwright, no network) must find no ``serious`` or ``critical``
violation. Screenshots at 1280, 768 and 390 px go to artifacts/screenshots/
(``a11y-<who>-<page>-<width>.png``).

The demo has no incident, so the incident pages are also opened with two timer incidents open
(the forms that retry or resolve all shown, each row's buttons, the instance page's list; QA: "the
bulk incident forms had no browser accessibility pass"), resolved afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from staff_pages import PageUrl, page_urls
from support import counter_card
from test_staff_pages import log_in

from engine.incidents import list_incidents, resolve_incident
from engine.scheduler import run_once
from tests.web.failed_notices import overdue_card_timer
from web.app import engine_of
from workflows.identity import make_id_number

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 768, 390)
AXE_WIDTHS = (1280, 390)
FAILING_IMPACTS = ("serious", "critical")
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " + n.failureSummary)
  }));
}"""
OVERFLOW = """() => ({
  scroll: document.documentElement.scrollWidth, width: window.innerWidth,
  wide: [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                 && !e.closest(".scroll, .diagram, .table-wrap"))
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                     + (e.className && e.className.baseVal === undefined ? "." + e.className : ""))
})"""

# On a phone a cell shows its column's name before its value (style.css: ``td::before``): a name
# that wraps onto more lines than the value takes must still sit inside its own cell, not run into
# the next line of the card. The name's height is measured on a hidden copy styled as the label.
LABELS_SPILL = """() => [...document.querySelectorAll("main table td[data-label]")]
  .filter(cell => cell.offsetParent && getComputedStyle(cell, "::before").content !== "none")
  .map(cell => {
    const label = getComputedStyle(cell, "::before");
    const copy = document.createElement("div");
    copy.textContent = cell.getAttribute("data-label");
    for (const name of ["width", "fontSize", "fontWeight", "fontFamily", "lineHeight",
                        "letterSpacing", "overflowWrap", "wordBreak"]) copy.style[name] = label[name];
    copy.style.position = "absolute";
    copy.style.visibility = "hidden";
    document.body.appendChild(copy);
    const needed = copy.getBoundingClientRect().height;
    copy.remove();
    return {label: cell.getAttribute("data-label"), needed, cell: cell.getBoundingClientRect().height};
  })
  .filter(found => found.cell < found.needed)
  .slice(0, 3)"""


def one_per_route(app: Any) -> list[PageUrl]:
    """The first sample of every page route (all of them would take minutes in a browser)."""
    chosen: dict[str, PageUrl] = {}
    for page in page_urls(app):
        chosen.setdefault(page.endpoint, page)
    return list(chosen.values())


@pytest.fixture
def a11y_page(browser: Any) -> Iterator[Any]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run npm install (package.json lists axe-core)")
    # bypass_csp: axe is injected as an inline script, which the pages' CSP rightly refuses
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


def check_page(page: Any, url: str, name: str, shots: Path) -> list[str]:
    """Open ``url`` at each width: a screenshot, no sideways scrolling, axe at ``AXE_WIDTHS``."""
    problems: list[str] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        answer = page.goto(url)
        page.wait_for_load_state()
        if answer is not None and answer.status >= 500:
            problems.append(f"{name} @{width}px: the server answered {answer.status}")
            break
        page.screenshot(path=str(shots / f"a11y-{name}-{width}.png"), full_page=True)
        fit = page.evaluate(OVERFLOW)
        if fit["scroll"] > fit["width"]:
            problems.append(
                f"{name} @{width}px: page {fit['scroll']}px wide in a {fit['width']}px window "
                f"(too wide: {fit['wide']})"
            )
        spilled = page.evaluate(LABELS_SPILL)
        if spilled:
            problems.append(f"{name} @{width}px: column names spill out of their cells {spilled}")
        if width in AXE_WIDTHS:
            page.add_script_tag(path=str(AXE))
            for violation in page.evaluate(RUN_AXE):
                if violation["impact"] in FAILING_IMPACTS:
                    problems.append(
                        f"{name} @{width}px: {violation['impact']} {violation['id']}: "
                        f"{violation['help']} {violation['nodes']}"
                    )
    return problems


def _name(who: str, page: PageUrl) -> str:
    return f"{who}-{re.sub(r'[^a-z0-9]+', '-', page.endpoint.lower())}"


def test_the_login_page_is_accessible_on_every_width(
    a11y_page: Any, site: Any, screenshots: Path
) -> None:
    problems = check_page(a11y_page, f"{site.url}/login", "anonymous-auth-login", screenshots)
    assert a11y_page.locator("html").get_attribute("lang") == "zh-CN"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", ["boss", "wang"])
def test_every_staff_page_is_accessible_and_fits_a_phone(
    a11y_page: Any, site: Any, screenshots: Path, who: str
) -> None:
    log_in(a11y_page, site, who)
    problems: list[str] = []
    for page in one_per_route(site.app):
        if page.endpoint.startswith("auth.login"):
            continue  # logged in, these only redirect
        problems.extend(check_page(a11y_page, site.url + page.url, _name(who, page), screenshots))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_the_english_pages_say_they_are_english(a11y_page: Any, site: Any) -> None:
    log_in(a11y_page, site, "wang")
    a11y_page.goto(f"{site.url}/inbox/?lang=en")
    assert a11y_page.locator("html").get_attribute("lang") == "en"
    a11y_page.goto(f"{site.url}/inbox/?lang=zh")
    assert a11y_page.locator("html").get_attribute("lang") == "zh-CN"


def test_the_checks_fail_on_a_page_that_is_too_wide_or_has_an_unlabelled_field(
    a11y_page: Any, site: Any, screenshots: Path
) -> None:
    """The checks can fail: a page made wider than a phone, a field without a label."""
    log_in(a11y_page, site, "wang")
    a11y_page.set_viewport_size({"width": 390, "height": 900})
    a11y_page.goto(f"{site.url}/inbox/")
    a11y_page.evaluate(
        """() => {
      const wide = document.createElement("div"); wide.style.width = "900px";
      wide.textContent = "wide"; document.querySelector("main").appendChild(wide);
      const field = document.createElement("input"); field.type = "text";
      document.querySelector("main").appendChild(field);
    }"""
    )
    a11y_page.add_script_tag(path=str(AXE))
    found = {v["id"] for v in a11y_page.evaluate(RUN_AXE) if v["impact"] in FAILING_IMPACTS}
    assert "label" in found
    fit = a11y_page.evaluate(OVERFLOW)
    assert fit["scroll"] > fit["width"]


def test_on_a_phone_the_menu_folds_and_opens_from_its_button(a11y_page: Any, site: Any) -> None:
    log_in(a11y_page, site, "boss")
    a11y_page.set_viewport_size({"width": 390, "height": 800})
    a11y_page.goto(f"{site.url}/inbox/")
    toggle = a11y_page.locator("#menu-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not a11y_page.locator("#main-nav").is_visible()
    assert a11y_page.locator("#search-box").is_visible()  # the search box stays
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert a11y_page.locator("#main-nav a[href='/processes/']").is_visible()
    a11y_page.keyboard.press("Escape")
    assert not a11y_page.locator("#main-nav").is_visible()
    a11y_page.set_viewport_size({"width": 1280, "height": 800})
    assert not toggle.is_visible() and a11y_page.locator("#main-nav").is_visible()


def test_the_keyboard_reaches_the_content_first_with_a_visible_focus(
    a11y_page: Any, site: Any
) -> None:
    log_in(a11y_page, site, "wang")
    a11y_page.goto(f"{site.url}/inbox/")
    a11y_page.keyboard.press("Tab")
    focused = a11y_page.evaluate(
        "() => [document.activeElement.className, getComputedStyle(document.activeElement)"
        ".outlineStyle, document.activeElement.getBoundingClientRect().top]"
    )
    assert focused[0] == "skip-link" and focused[1] != "none" and focused[2] >= 0
    a11y_page.keyboard.press("Enter")
    assert a11y_page.evaluate("document.activeElement.id") == "content"


CARDS = """() => [...document.querySelectorAll("main table")].map(table => {
  const row = table.querySelector("tbody tr");
  const cell = row && row.querySelector("td[data-label]");
  return {
    table: (table.closest("[id]") || table).id + " " + table.className,
    row: row ? getComputedStyle(row).display : "no rows",
    label: cell ? cell.getAttribute("data-label") : null,
    shown: cell ? getComputedStyle(cell, "::before").content : null,
  };
})"""


def test_on_a_phone_english_column_names_that_wrap_stay_in_their_cards(
    a11y_page: Any, site: Any, screenshots: Path
) -> None:
    log_in(a11y_page, site, "boss")
    a11y_page.set_viewport_size({"width": 390, "height": 800})
    for where in (f"/processes/instances/{site.card_id}", "/processes/card/states/active"):
        a11y_page.goto(f"{site.url}{where}?lang=en")
        assert a11y_page.locator("html").get_attribute("lang") == "en"
        assert a11y_page.locator("main table td[data-label]").count() > 0, where
        a11y_page.screenshot(path=str(screenshots / f"a11y-labels-en-{where.split('/')[2]}.png"))
        assert a11y_page.evaluate(LABELS_SPILL) == [], where


@pytest.mark.parametrize(
    ("who", "where", "expected"),
    [
        ("wang", "/inbox/", ["task-list"]),
        # the instance page: its history, and the notices the bank's notice of the card sent
        ("boss", "/processes/instances/{card}", ["history", "instance-notices"]),
    ],
)
def test_a_phone_shows_a_table_row_as_a_card_with_the_column_names(
    a11y_page: Any, site: Any, who: str, where: str, expected: list[str]
) -> None:
    log_in(a11y_page, site, who)
    a11y_page.set_viewport_size({"width": 390, "height": 800})
    a11y_page.goto(site.url + where.format(card=site.card_id))
    if who == "wang":
        cell = a11y_page.locator(f'tr[data-task-id="{site.task_id}"] td[data-label]').first
        assert cell.get_attribute("data-label")
    tables = a11y_page.evaluate(CARDS)
    for name in expected:
        assert any(name in t["table"] for t in tables), (name, tables)
    for table in tables:  # every table of the page: its rows are cards, its cells say their column
        assert table["row"] == "block", table
        assert table["label"] and table["shown"] == f'"{table["label"]}"', table


@pytest.fixture
def incident_cards(site: Any) -> Iterator[list[int]]:
    """Two cards, each with a timer incident open; resolved when the test is done."""
    engine = engine_of(site.app)
    cards = []
    for n in range(2):
        number = make_id_number("440604", date(1966, 6, 6) + timedelta(days=n), 77)
        card = counter_card(site.app, number, events=("produce", "notify_holder"))
        cards.append(card.instance_id)
        overdue_card_timer(site.app, card.instance_id, "awaiting_activation", "step_renamed_since")
    assert run_once(engine).failed == 2
    try:
        yield cards
    finally:
        for incident in list_incidents(engine):
            if incident.instance_id in cards:
                resolve_incident(engine, incident.id, "test")


def test_the_incident_pages_with_incidents_are_accessible_and_fit_a_phone(
    a11y_page: Any, site: Any, screenshots: Path, incident_cards: list[int]
) -> None:
    log_in(a11y_page, site, "boss")
    a11y_page.goto(f"{site.url}/processes/incidents")
    for form in ("#incidents-retry-all", "#incidents-resolve-all"):
        assert a11y_page.locator(form).count() == 1, form  # the bulk forms are there to check
    assert a11y_page.locator("#incident-list tbody tr").count() >= 2
    problems: list[str] = []
    for url, name in (
        ("/processes/incidents", "boss-incidents-open"),
        ("/processes/incidents?kind=timer", "boss-incidents-timer"),
        (f"/processes/instances/{incident_cards[0]}", "boss-instance-with-incident"),
    ):
        problems.extend(check_page(a11y_page, site.url + url, name, screenshots))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
