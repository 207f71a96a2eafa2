"""Staff in a real browser: a teller activates a card from the inbox, a supervisor reads the card
diagram's counts, and a teller of another bank cannot see the task."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from support import counter_card

from engine import queries
from web.app import engine_of
from workflows.identity import make_id_number, mask_id_number

pytestmark = pytest.mark.browser


_LAST_STEP: dict[str, int] = {}


def fresh_code(site: Any, username: str) -> str:
    """The user's TOTP code for a step later than any used before: each code is accepted once,
    and one step ahead of the clock is accepted, so a second log-in within 30 seconds takes the
    next step's code (a third moves the site's simulated clock on by a step)."""
    totp = pyotp.TOTP(site.totp[username])
    clock = engine_of(site.app).clock
    while True:
        current = int(clock.now().timestamp()) // totp.interval
        step = max(current, _LAST_STEP.get(username, -1) + 1)
        if step <= current + 1:
            _LAST_STEP[username] = step
            return totp.generate_otp(step)
        clock.advance(timedelta(seconds=totp.interval))


def log_in(page: Any, site: Any, username: str) -> None:
    page.goto(f"{site.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "browser-pw")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    if username in site.totp:  # the second step: a code the service has not seen yet
        page.fill("input[name=code]", fresh_code(site, username))
        page.click("button[type=submit].primary")
        page.wait_for_load_state()


def test_teller_filters_claims_and_activates_a_card(
    page: Any, site: Any, screenshots: Path
) -> None:
    # a card of its own: the site's shared card stays awaiting activation for the other tests,
    # whichever order they run in
    holder = make_id_number("440604", date(1980, 5, 17), 123)
    card = counter_card(site.app, holder, events=("produce", "notify_holder"))
    card_id = card.instance_id
    task_id = int(queries.tasks_of(engine_of(site.app).db, card_id, "open")[0]["id"])
    log_in(page, site, "wang")
    assert page.url.endswith("/inbox/")
    page.select_option("select[name=kind]", "activate_card")
    page.select_option("select[name=region]", "foshan")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"kind=activate_card"))
    rows = page.locator("#task-list tbody tr")
    assert rows.count() > 0
    assert all(
        text == "工商银行"
        for text in page.locator("#task-list tbody td:nth-child(4)").all_inner_texts()
    )
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    assert row.count() == 1 and mask_id_number(holder) in row.inner_text()
    page.screenshot(path=str(screenshots / "inbox.png"), full_page=True)

    row.locator("a.task-link").click()
    page.wait_for_url(re.compile(rf"/inbox/{task_id}$"))
    assert page.locator("svg").count() >= 1
    page.click("#claim")
    assert page.locator("#assignee").inner_text() == "wang"
    page.fill("input[name=presented_id_number]", "440524188001010014")
    page.click("#complete-form button[value=activate]")
    assert "不一致" in page.locator(".flash.error").inner_text()
    # the refusal is on the record: counted, with its reason, and the task is still wang's
    assert page.locator("#task-attempts").inner_text() == "1"
    assert page.locator("#assignee").inner_text() == "wang"
    assert "不一致" in page.locator("#task-refusals").inner_text()
    # given back whole in the field it was typed in, to be corrected; nowhere else on the page
    assert page.locator("input[name=presented_id_number]").input_value() == "440524188001010014"
    assert page.content().count("440524188001010014") == 1
    for width, height in ((1280, 900), (768, 1000), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(screenshots / f"decision-refused-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.fill("input[name=presented_id_number]", holder)
    page.click("#complete-form button[value=activate]")
    page.wait_for_url(re.compile(r"/inbox/$"))
    assert "任务已办结" in page.locator(".flash.success").inner_text()
    assert page.locator(f'tr[data-task-id="{task_id}"]').count() == 0

    page.goto(f"{site.url}/inbox/{task_id}")
    assert page.locator("#task-status").get_attribute("data-status") == "completed"
    assert "正常" in page.locator(".facts .state").inner_text()
    assert queries.instance(engine_of(site.app).db, card_id)["state"] == "active"  # type: ignore[index]


def test_supervisor_reads_the_card_diagrams_counts(page: Any, site: Any, screenshots: Path) -> None:
    log_in(page, site, "boss")
    page.goto(f"{site.url}/processes/card")
    counts = queries.counts_by_state(engine_of(site.app).db, "card")
    for state in ("awaiting_activation", "active", "lost"):
        shown = page.locator(f'#state-counts tr[data-state="{state}"] .count').inner_text()
        assert int(shown.replace(",", "")) == counts.get(state, 0)
    node = page.locator("#live-diagram g#state_active")
    assert f"{counts['active']:,}" in node.text_content()
    page.screenshot(path=str(screenshots / "process-card.png"), full_page=True)
    node.click()
    page.wait_for_url(re.compile(r"/processes/card/states/active"))
    assert page.locator("#instance-list tbody tr").count() == min(counts["active"], 50)
    page.goto(f"{site.url}/processes/card?lang=en")
    assert "Awaiting activation" in page.locator("#state-counts").inner_text()


def test_a_teller_of_another_bank_cannot_see_the_task(page: Any, site: Any) -> None:
    log_in(page, site, "chen")
    assert page.locator(f'tr[data-task-id="{site.task_id}"]').count() == 0
    response = page.goto(f"{site.url}/inbox/{site.task_id}")
    assert response.status == 404  # as for an unknown task: its existence is not revealed
    assert "页面不存在" in page.content()


def test_a_clerk_keeps_one_card_of_a_person_with_several(
    page: Any, site: Any, screenshots: Path
) -> None:
    """The review offers only the person's usable cards; keeping one cancels the others."""
    db = engine_of(site.app).db
    reviews = [
        t for t in queries.open_tasks_of_process(db, "card_review") if t["scope"] == "foshan"
    ]
    assert reviews, "the demo has an extra-card review in Foshan"
    task = reviews[0]
    log_in(page, site, "su")
    page.goto(f"{site.url}/inbox/{task['id']}")
    options = page.locator("select[name=keep_card_id] option[value]:not([value=''])")
    assert options.count() >= 2
    keep = options.first.get_attribute("value")
    page.screenshot(path=str(screenshots / "extra-cards-review.png"), full_page=True)
    page.select_option("select[name=keep_card_id]", keep)
    page.click("#complete-form button[value=resolve]")
    # resolving cancels cards and ends the review: the page asks first, with the choice kept
    panel = page.locator("#confirm-panel")
    assert "不可撤销" in panel.inner_text()
    assert page.locator("select[name=keep_card_id]").input_value() == keep
    page.screenshot(path=str(screenshots / "extra-cards-review-confirm.png"), full_page=True)
    page.click("#confirm-do")
    page.wait_for_url(re.compile(r"/inbox/$"))
    assert "任务已办结" in page.locator(".flash.success").inner_text()
    review = queries.instance(db, task["instance_id"])
    cards = queries.by_business_key(db, "card", review["variables"]["card_key"])  # type: ignore[index]
    usable = engine_of(site.app).definition("card").tagged("usable")
    assert [card for card, state in cards if state in usable] == [int(keep)]


def test_a_supervisor_retries_an_incident_from_its_page(
    page: Any, site: Any, screenshots: Path
) -> None:
    """A timer step that cannot succeed shows on the incidents page and as ⚠ on the diagram;
    Retry puts it back (the row leaves the open list)."""
    from engine.scheduler import run_once
    from tests.web.failed_notices import overdue_card_timer

    overdue_card_timer(site.app, site.card_id, "awaiting_activation", "renamed_event")
    assert run_once(engine_of(site.app)).failed == 1
    log_in(page, site, "boss")
    page.click("nav a[href='/processes/incidents']")
    page.wait_for_url(re.compile(r"/processes/incidents$"))
    row = page.locator("#incident-list tbody tr").filter(has_text="renamed_event")
    assert row.count() == 1 and "does not leave card" in row.inner_text()
    page.screenshot(path=str(screenshots / "incidents.png"), full_page=True)
    page.goto(f"{site.url}/processes/card")
    trouble = page.locator('#state-counts tr[data-state="awaiting_activation"] .incidents')
    assert "⚠" in trouble.inner_text()
    assert "⚠" in page.locator("#live-diagram g#state_awaiting_activation").text_content()
    page.goto(f"{site.url}/processes/incidents")
    page.locator("#incident-list tbody tr").filter(has_text="renamed_event").locator(
        "button.primary"
    ).click()
    page.wait_for_url(re.compile(r"/processes/incidents$"))
    assert "重试" in page.locator(".flash.success").inner_text()
    assert page.locator("#incident-list tbody tr").filter(has_text="renamed_event").count() == 0
