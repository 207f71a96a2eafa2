"""A medical-insurance clerk files a reduction claim (资助参保) from a person's page in a real
browser: the category picked by its words, the evidence typed; the claim opens the clerk's
review, and no URL the browser asks for carries the ID number. The form, and the boxes of the
declared categories a clerk approving a registration may refuse, pass axe-core at each width."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import test_accessibility
from test_accessibility import check_page
from test_staff_pages import log_in

from engine import queries
from web.app import domain_of, engine_of
from web.auth import create_user
from workflows.identity import make_id_number
from workflows.people import Registration, register_person

pytestmark = pytest.mark.browser
a11y_page = test_accessibility.a11y_page  # the accessibility tests' page (axe-core allowed in)


def test_a_clerk_files_a_claim_from_the_person_page(page: Any, site: Any) -> None:
    engine = engine_of(site.app)
    number = make_id_number("350521", date(1970, 3, 3), 127)
    person = register_person(
        engine, domain_of(site.app), Registration(number, "减免", "huian"), actor="counter"
    ).instance_id
    [task] = queries.tasks_of(engine.db, person, "open")
    engine.complete_task(
        task["id"],
        actor="counter",
        data={"document_kind": "household_register"},
        outcome="approve_registration",
    )
    create_user(engine.db, "mi_huian_claims", "browser-pw", "medical_insurance_clerk", "huian")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    log_in(page, site, "mi_huian_claims")
    page.goto(f"{site.url}/people/{person}")
    page.select_option("#claim-category", label="低保对象")
    page.fill("#claim-evidence", "低保证 QZ2022-0815")
    page.click("#claim-submit")
    page.wait_for_url(re.compile(rf"/people/{person}$"))
    assert "减免申请已提交" in page.locator("body").inner_text()
    [review] = queries.tasks_of(engine.db, person, "open")
    assert review["name"] == "review_reduction"
    assert page.locator(f'#person-tasks [data-task-id="{review["id"]}"]').count() == 1
    assert not [url for url in urls if number in url]


def test_the_claim_form_and_the_refused_categories_boxes_are_accessible(
    a11y_page: Any, site: Any, screenshots: Path
) -> None:
    engine = engine_of(site.app)
    number = make_id_number("350521", date(1958, 4, 4), 211)
    declared = Registration(number, "减免", "huian", reduction_categories=("dibao", "low_income"))
    person = register_person(engine, domain_of(site.app), declared, actor="counter").instance_id
    [task] = queries.tasks_of(engine.db, person, "open")
    create_user(engine.db, "mi_huian_a11y", "browser-pw", "medical_insurance_clerk", "huian")
    log_in(a11y_page, site, "mi_huian_a11y")
    problems = check_page(
        a11y_page, f"{site.url}/inbox/{task['id']}", "reductions-refused-boxes", screenshots
    )
    assert a11y_page.locator("#choices-reductions_refused input[type=checkbox]").count() == 2
    # in review: no form, the page says why
    problems += check_page(a11y_page, f"{site.url}/people/{person}", "claim-closed", screenshots)
    assert a11y_page.locator("#reduction-claim-form").count() == 0
    assert a11y_page.locator("#claim-unavailable").count() == 1
    approve = {"document_kind": "household_register"}
    engine.complete_task(
        task["id"], actor="mi_huian_a11y", data=approve, outcome="approve_registration"
    )
    problems += check_page(a11y_page, f"{site.url}/people/{person}", "claim-form", screenshots)
    assert a11y_page.locator("#reduction-claim-form").count() == 1
    assert not problems, "\n".join(problems)
