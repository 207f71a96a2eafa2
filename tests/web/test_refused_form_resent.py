"""A refused task form sent again as it was (a reload of the page that answered it: the browser
posts the same submission again) is the same attempt: refused again, counted once. Each rendering
of the form carries a one-time submission id; a corrected value, or the form of a new page, is a
new attempt and counts (QA: reloading took the count from 2 to 3)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for
from support import TEAM, MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from engine.errors import WorkflowError
from web.app import engine_of

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = "11010519491231002X"
OTHER = "440524188001010014"
BAD_DIGIT = PERSON[:-1] + "0"  # the check digit is X


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=TEAM)


def awaiting_activation(app: Flask) -> tuple[int, int]:
    """A card waiting for its holder, and the open activation task."""
    card = counter_card(app, PERSON, events=("produce", ("notify_holder", "icbc-branch")))
    [task] = queries.tasks_of(engine_of(app).db, card.instance_id, "open")
    return card.instance_id, task["id"]


def submission_of(page: str) -> str:
    found = re.search(r'<input type="hidden" name="submission" value="([^"]*)"', page)
    assert found, "the task form carries no submission id"
    return found.group(1)


def counted(app: Flask, card: int, task: int) -> tuple[int, int]:
    """The task's refused attempts, and the refusals in its instance's history."""
    engine = engine_of(app)
    [row] = [t for t in queries.tasks_of(engine.db, card) if t["id"] == task]
    history = queries.history(engine.db, card)
    return row["attempts"], sum(1 for h in history if h["event"] == "task_refused")


def test_a_refused_form_posted_again_as_it_was_counts_once(app: Flask) -> None:
    card, task = awaiting_activation(app)
    wang: FlaskClient = client_for(app, "wang")
    first_page = wang.get(f"/inbox/{task}").get_data(as_text=True)
    sent = {"outcome": "activate", "presented_id_number": OTHER}
    form = {**sent, "submission": submission_of(first_page)}

    refused = wang.post(f"/inbox/{task}/complete", data=form)
    assert refused.status_code == 422
    assert counted(app, card, task) == (1, 1)
    reloaded = wang.post(f"/inbox/{task}/complete", data=form)  # the browser's resend
    assert reloaded.status_code == 422
    assert "与申领时使用的证件不一致" in reloaded.get_data(as_text=True)  # refused all the same
    assert counted(app, card, task) == (1, 1)
    page = wang.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="task-attempts" class="late">1<' in page

    # the page that answered the refusal is a new form: a corrected submission from it counts
    answer_page = refused.get_data(as_text=True)
    assert submission_of(answer_page) != form["submission"]
    corrected = {**sent, "presented_id_number": BAD_DIGIT, "submission": submission_of(answer_page)}
    assert wang.post(f"/inbox/{task}/complete", data=corrected).status_code == 422
    assert counted(app, card, task) == (2, 2)
    assert wang.post(f"/inbox/{task}/complete", data=corrected).status_code == 422
    assert counted(app, card, task) == (2, 2)
    # a value changed under the first page's id (back, then corrected) is another attempt too
    changed = {**form, "presented_id_number": "440524188001010022"}
    assert wang.post(f"/inbox/{task}/complete", data=changed).status_code == 422
    assert counted(app, card, task) == (3, 3)
    # the same values typed again on a new page are a new attempt
    fresh = submission_of(wang.get(f"/inbox/{task}").get_data(as_text=True))
    again = wang.post(f"/inbox/{task}/complete", data={**sent, "submission": fresh})
    assert again.status_code == 422
    assert counted(app, card, task) == (4, 4)
    # and the right ID number still completes the task
    done = wang.post(f"/inbox/{task}/complete", data={**sent, "presented_id_number": PERSON})
    assert done.status_code == 302
    assert queries.instance(engine_of(app).db, card)["state"] == "active"  # type: ignore[index]


def test_each_rendering_carries_its_own_id_that_no_page_masks(app: Flask) -> None:
    _, task = awaiting_activation(app)
    wang = client_for(app, "wang")
    ids = {submission_of(wang.get(f"/inbox/{task}").get_data(as_text=True)) for _ in range(20)}
    assert len(ids) == 20
    for sent in ids:  # letters only: never a run of digits a page would mask as an ID number
        assert re.fullmatch(r"[A-Za-z]{20,}", sent), sent


def test_the_engine_counts_a_refusal_once_per_submission_whichever_check_refused(
    app: Flask,
) -> None:
    engine = engine_of(app)
    card, task = awaiting_activation(app)
    data = {"presented_id_number": BAD_DIGIT}

    def refuse(check: bool = False, submission: str | None = None) -> None:
        work = engine.check_task_form if check else engine.complete_task
        with pytest.raises(WorkflowError):
            work(task, actor="wang", data=data, outcome="activate", submission=submission)

    refuse(submission="pagea")
    refuse(submission="pagea")
    refuse(check=True, submission="pagea")  # before a confirmation: the same attempt
    assert counted(app, card, task) == (1, 1)
    refuse(check=True, submission="pageb")
    refuse(submission="pageb")
    assert counted(app, card, task) == (2, 2)
    refuse()  # a door that names no submission (the API): each refusal counts, as before
    refuse()
    assert counted(app, card, task) == (4, 4)
