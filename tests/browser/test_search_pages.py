"""Staff search in a real browser: the box at the top of every page finds a person by ID number,
card number, business key and name; the person page shows their cards, years, tasks and
histories; no URL the browser asks for ever carries an ID number. Screenshots of the results and
of the person page at 1280, 768 and 390 px wide are kept under ``artifacts/screenshots/``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_staff_pages import log_in

from engine import queries
from engine import statements as st
from web.app import domain_of, engine_of
from web.pages import search_queries as sq
from workflows.identity import is_valid_id_number, mask_id_number

pytestmark = pytest.mark.browser

WIDTHS = (1280, 768, 390)
ID_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def _ids_in(url: str) -> list[str]:
    return [found for found in ID_IN_TEXT.findall(url) if is_valid_id_number(found, today=None)]


def _foshan_person_with_a_numbered_card(site: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A demo person insured in Foshan and one of their cards that has a card number."""
    engine = engine_of(site.app)
    i = st.instances
    with engine.db.connect() as conn:
        people = conn.execute(
            select(*sq._COLUMNS).where(i.c.process == "person").order_by(i.c.id)  # noqa: SLF001
        ).all()
        for person in people:
            if person.variables.get("region") != "foshan":
                continue
            keys = sq.keys_of_person(domain_of(site.app).regions, person.business_key)
            for row in sq.by_keys(conn, keys):
                if row["process"] == "card" and row["variables"].get("card_number"):
                    return dict(person._mapping), row
    raise AssertionError("the demo has no Foshan person with a numbered card")


@pytest.fixture
def watched(page: Any) -> Iterator[list[str]]:
    """Every URL the page asks for, checked at the end: none carries a resident ID number."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    yield urls
    leaked = [url for url in urls if _ids_in(url)]
    assert not leaked, [mask_id_number(_ids_in(u)[0]) for u in leaked]


def _search(page: Any, text: str) -> None:
    page.fill("#search-box", text)
    page.click("#search-button")
    page.wait_for_load_state()
    assert re.search(r"/search/results/[A-Za-z0-9_-]+$", page.url), page.url  # redirected


def _shoot(page: Any, screenshots: Path, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width + 1, f"{name} overflows at {width} px: {scroll_width}"
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_clerk_finds_a_person_by_each_key_and_opens_the_person_page(
    page: Any, site: Any, screenshots: Path, watched: list[str]
) -> None:
    person, card = _foshan_person_with_a_numbered_card(site)
    number, name = person["business_key"], person["variables"]["name"]
    log_in(page, site, "su")
    assert page.locator("#search-box").is_visible()

    _search(page, number)
    assert page.locator("#search-kind").get_attribute("data-kind") == "id_number"
    assert page.locator(f'#people-results tr[data-instance-id="{person["id"]}"]').count() == 1
    assert page.locator(f'#card-results tr[data-instance-id="{card["id"]}"]').count() == 1
    assert number not in page.content() and mask_id_number(number) in page.content()
    assert page.locator("#search-box").input_value() == ""
    _shoot(page, screenshots, "search-by-id-number")

    _search(page, card["variables"]["card_number"])
    assert page.locator("#search-kind").get_attribute("data-kind") == "card_number"
    assert page.locator(f'#card-results tr[data-instance-id="{card["id"]}"]').count() == 1

    _search(page, card["business_key"])
    assert page.locator("#search-kind").get_attribute("data-kind") == "business_key"
    assert page.locator(f'#card-results tr[data-instance-id="{card["id"]}"]').count() == 1

    _search(page, name[:1])
    assert page.locator("#search-kind").get_attribute("data-kind") == "name"
    assert page.locator("#people-results tbody tr").count() >= 1
    _search(page, name)
    row = page.locator(f'#people-results tr[data-instance-id="{person["id"]}"]')
    assert row.count() == 1
    _shoot(page, screenshots, "search-by-name")

    row.locator("a.person-link").click()
    page.wait_for_url(re.compile(rf"/people/{person['id']}$"))
    assert page.locator("#person-name").inner_text().startswith(name)
    assert page.locator("#person-id-number").inner_text() == mask_id_number(number)
    assert page.locator(f'#person-card-list tr[data-instance-id="{card["id"]}"]').count() == 1
    assert page.locator("details.history-of").count() >= 2
    assert number not in page.content()
    _shoot(page, screenshots, "person-page")


def test_a_teller_finds_the_card_a_holder_brings_in(
    page: Any, site: Any, screenshots: Path, watched: list[str]
) -> None:
    log_in(page, site, "wang")
    _search(page, site.person)
    assert page.locator("#people-results").count() == 0  # tellers see no personal record
    row = page.locator(f'#card-results tr[data-instance-id="{site.card_id}"]')
    assert row.count() == 1
    still_open = queries.tasks_of(engine_of(site.app).db, site.card_id, "open")  # another test
    for task in still_open:  # may have activated the card already
        assert page.locator(f'#task-results tr[data-task-id="{task["id"]}"]').count() == 1
    _shoot(page, screenshots, "search-teller")
    row.locator("a.record-link").click()
    page.wait_for_url(re.compile(rf"/records/{site.card_id}$"))
    assert mask_id_number(site.person) in page.locator("#record-facts").inner_text()
    assert page.locator("#open-person").count() == 0


def test_back_to_the_results_shows_them_again_without_posting_the_search_again(
    page: Any, site: Any, watched: list[str]
) -> None:
    """Post/redirect/get: Back and reload ask for the results page, never post the form again
    (no "resend the form?" question); the query is in no URL."""
    log_in(page, site, "wang")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _search(page, site.person)
    results = page.url
    row = page.locator(f'#card-results tr[data-instance-id="{site.card_id}"]')
    row.locator("a.record-link").click()
    page.wait_for_url(re.compile(rf"/records/{site.card_id}$"))
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    page.go_back()
    page.wait_for_load_state()
    assert page.url == results
    assert page.locator(f'#card-results tr[data-instance-id="{site.card_id}"]').count() == 1
    page.reload()
    assert page.locator(f'#card-results tr[data-instance-id="{site.card_id}"]').count() == 1
    assert posts == [] and dialogs == []
    assert site.person not in results and mask_id_number(site.person) in page.content()


def test_bad_input_in_the_box_is_answered_on_the_page(page: Any, site: Any) -> None:
    log_in(page, site, "su")
    page.evaluate("document.getElementById('search-box').removeAttribute('maxlength')")
    page.fill("#search-box", "a" * 200)
    page.click("#search-button")
    page.wait_for_load_state()
    assert "查询内容过长" in page.locator("#search-problem").inner_text()
