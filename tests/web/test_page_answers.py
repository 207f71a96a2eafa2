"""Staff pages' answers to a POST: a completion of a task a colleague holds is refused (409, the
holder named) before any confirmation is asked for; the language links of a page answered to a
POST lead to a page a GET serves."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from urllib.parse import unquote

import pytest
from flask import Flask
from staff_login import client_for
from support import TEAM, MakeApp, complete_confirmed, registration_in_review

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from web.auth import create_user

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = "11010519491231002X"
REJECT = {"outcome": "reject_registration", "reason": "户口簿与本人不符"}


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(SimulatedClock(NOW), staff=TEAM)
    for name in ("mi_a", "mi_b"):
        create_user(engine_of(app).db, name, "pw", "medical_insurance_clerk", "foshan")
    return app


def test_completing_a_task_a_colleague_claimed_is_refused_naming_the_holder(app: Flask) -> None:
    engine = engine_of(app)
    person, task = registration_in_review(app, PERSON)
    assert client_for(app, "mi_a").post(f"/inbox/{task}/claim").status_code == 302
    other = client_for(app, "mi_b")
    for data in (REJECT, {**REJECT, "confirmed": "reject_registration"}, {"outcome": "x"}):
        refused = other.post(f"/inbox/{task}/complete", data=data)
        body = refused.get_data(as_text=True)
        assert refused.status_code == 409, data
        assert 'id="confirm-panel"' not in body
        assert "该任务已不能办理" in body and "mi_a" in body
    english = other.post(f"/inbox/{task}/complete?lang=en", data=REJECT).get_data(as_text=True)
    assert "claimed by mi_a" in english
    assert queries.instance(engine.db, person)["state"] == "registration_review"  # type: ignore[index]
    row = queries.tasks_of(engine.db, person, "open")[0]
    assert (row["assignee"], row["attempts"]) == ("mi_a", 0)


def _language_links(body: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="(/lang/[^"]+)"', body)]


def test_the_language_links_after_a_post_lead_to_a_page_a_get_serves(app: Flask) -> None:
    person, task = registration_in_review(app, PERSON)
    clerk = client_for(app, "mi_a")
    asked = clerk.post(f"/inbox/{task}/complete?lang=zh", data=REJECT)
    assert asked.status_code == 200 and 'id="confirm-panel"' in asked.get_data(as_text=True)
    links = _language_links(asked.get_data(as_text=True))
    assert len(links) == 2
    for link in links:
        back = clerk.get(link)
        assert back.status_code == 302, link
        assert back.location.startswith(f"/inbox/{task}?"), back.location
        assert clerk.get(back.location).status_code == 200
    # a refused form too
    refused = clerk.post(f"/inbox/{task}/complete", data={**REJECT, "reason": " "})
    assert refused.status_code == 422
    for link in _language_links(refused.get_data(as_text=True)):
        assert clerk.get(clerk.get(link).location).status_code == 200


def test_the_language_links_never_carry_an_id_number(app: Flask) -> None:
    clerk = client_for(app, "boss")
    page = clerk.get(f"/inbox/?q={PERSON}")  # an unknown parameter: the error page, its links
    links = _language_links(page.get_data(as_text=True))
    assert page.status_code == 400 and len(links) == 2, page.status_code
    for link in links:
        assert PERSON[-4:] not in unquote(link), link  # neither the number nor its mask


def test_a_stale_tab_completing_ones_own_finished_task_is_told_who_completed_it(
    app: Flask,
) -> None:
    _, task = registration_in_review(app, PERSON)
    clerk = client_for(app, "mi_a")
    assert complete_confirmed(clerk, task, REJECT).status_code == 302
    again = clerk.post(f"/inbox/{task}/complete", data=REJECT)  # the other tab, still open
    body = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "已由 mi_a 办结" in body and "他人" not in body
    english = clerk.post(f"/inbox/{task}/complete?lang=en", data=REJECT).get_data(as_text=True)
    assert "already completed by mi_a" in english and "someone else" not in english


def test_a_choice_that_sends_one_notice_says_so_in_the_singular(app: Flask) -> None:
    _, task = registration_in_review(app, PERSON)
    page = client_for(app, "mi_a").get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "sends 1 notice" in page and "notice(s)" not in page and "sends 1 notices" not in page
    chinese = client_for(app, "mi_a").get(f"/inbox/{task}?lang=zh").get_data(as_text=True)
    assert "发送通知 1 条" in chinese
