"""Decision pages: each task shows why it exists, what each choice does, the person's other
records; a choice that ends the instance is confirmed first; a completion a check refuses is
recorded with its reason and counted, and leaves the task's claimant as it was."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
from flask import Flask
from staff_login import client_for
from staff_pages import visible_text
from support import (
    TEAM,
    MakeApp,
    confirmation_of,
    counter_card,
    registration_in_review,
)

from engine import queries
from engine.clock import SimulatedClock
from engine.runtime import Engine
from web.app import engine_of
from web.auth import create_user
from web.config import PROJECT_ROOT
from web.extensions import domain_of
from workflows.people import Registration, register_person

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
"""The service's time: the ``clock`` fixture's (``conftest.py``)."""
PERSON = "11010519491231002X"
OTHER = "440524188001010014"


def card_awaiting_activation(app: Flask) -> int:
    card = counter_card(app, PERSON, events=("produce", ("notify_holder", "icbc-branch")))
    return card.instance_id


def open_task(engine: Engine, instance_id: int) -> dict:  # type: ignore[type-arg]
    return queries.tasks_of(engine.db, instance_id, "open")[0]


def test_a_refused_activation_is_recorded_counted_and_leaves_the_claimant(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    task = open_task(engine, card)["id"]
    wang = client_for(app, "wang")

    refused = wang.post(
        f"/inbox/{task}/complete", data={"presented_id_number": OTHER, "outcome": "activate"}
    )
    assert refused.status_code == 422
    row = open_task(engine, card)
    assert row["assignee"] is None, "a refused completion must not claim the task"
    assert row["attempts"] == 1
    [record] = [h for h in queries.history(engine.db, card) if h["event"] == "task_refused"]
    assert (record["from_state"], record["to_state"]) == ("awaiting_activation",) * 2
    assert record["actor"] == "wang" and record["task_id"] == task
    assert record["data"]["outcome"] == "activate"
    assert record["data"]["guard"] == "presented_id_matches_application"
    assert "440524********0014" in record["data"]["reason_zh"]  # masked, as the guard says it
    assert OTHER not in str(record["data"])

    # a task someone claimed stays theirs after a refusal, and attempts keep counting
    zhao = client_for(app, "zhao")
    assert zhao.post(f"/inbox/{task}/claim").status_code == 302
    again = zhao.post(f"/inbox/{task}/complete", data={"presented_id_number": OTHER})
    assert again.status_code == 422
    row = open_task(engine, card)
    assert (row["assignee"], row["attempts"]) == ("zhao", 2)
    page = zhao.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="task-attempts" class="late">2<' in page
    assert page.count("与申领时使用的证件不一致") >= 2  # each refusal with its reason
    assert "办理未通过核验" in page  # the history names the refusal in words

    # an empty form is bad input, not a failed check: refused by the field's label, not counted
    before = queries.history(engine.db, card)
    empty = zhao.post(f"/inbox/{task}/complete", data={"outcome": "activate"})
    assert empty.status_code == 422
    assert "出示证件号码：必填" in empty.get_data(as_text=True)
    assert not any("presented_id_number" in t for t in visible_text(empty.get_data(as_text=True)))
    assert queries.history(engine.db, card) == before
    assert open_task(engine, card)["attempts"] == 2
    # an ID number whose check digit is wrong is a verification that failed: recorded, named
    bad_digit = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    wrong = zhao.post(f"/inbox/{task}/complete", data={"presented_id_number": bad_digit})
    assert wrong.status_code == 422
    last = queries.history(engine.db, card)[-1]
    assert last["event"] == "task_refused" and last["data"]["fields"] == ["presented_id_number"]
    assert open_task(engine, card)["attempts"] == 3

    done = zhao.post(f"/inbox/{task}/complete", data={"presented_id_number": PERSON})
    assert done.status_code == 302
    assert queries.instance(engine.db, card)["state"] == "active"  # type: ignore[index]


def test_the_decision_page_says_why_and_what_each_choice_does(app: Flask) -> None:
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    task = open_task(engine, card)["id"]
    page = client_for(app, "wang").get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="task-why"' in page
    assert "银行通知领卡" in page and "icbc-branch" in page  # the event and who sent it
    assert 'data-event="activate"' in page and "流程转入“正常”" in page
    assert "不可撤销" not in page  # activating does not end the card
    english = client_for(app, "wang").get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "What each choice does" in english and "Moves to “Active”" in english


def card_at_account_closing(app: Flask) -> tuple[int, dict]:  # type: ignore[type-arg]
    """A card activated, then lost formally: the card and its open ``close_bank_account`` task."""
    engine = engine_of(app)
    card = card_awaiting_activation(app)
    engine.fire(card, "activate", data={"presented_id_number": PERSON})
    engine.fire(card, "report_loss")
    engine.fire(card, "report_loss_formally", data={"presented_id_number": PERSON})
    task = open_task(engine, card)
    assert task["name"] == "close_bank_account"
    return card, task


def test_closing_a_bank_account_is_confirmed_before_it_happens(app: Flask) -> None:
    engine = engine_of(app)
    card, task = card_at_account_closing(app)
    wang = client_for(app, "wang")
    page = wang.get(f"/inbox/{task['id']}").get_data(as_text=True)
    assert "流程办结，不可撤销" in page and 'data-irreversible="1"' in page

    asked = wang.post(f"/inbox/{task['id']}/complete", data={"outcome": "close_bank_account"})
    assert asked.status_code == 200
    body = asked.get_data(as_text=True)
    assert 'id="confirm-panel"' in body and "此操作不可撤销" in body
    assert queries.instance(engine.db, card)["state"] == "lost"  # type: ignore[index]
    assert open_task(engine, card)["status"] == "open"

    # a form sent without choosing is the task's one outcome, and is confirmed like it
    unsaid = wang.post(f"/inbox/{task['id']}/complete", data={})
    assert unsaid.status_code == 200 and 'id="confirm-panel"' in unsaid.get_data(as_text=True)
    assert queries.instance(engine.db, card)["state"] == "lost"  # type: ignore[index]

    # a confirmation for another outcome does not count
    wrong = wang.post(
        f"/inbox/{task['id']}/complete",
        data={"outcome": "close_bank_account", "confirmed": "activate"},
    )
    assert wrong.status_code == 200 and 'id="confirm-panel"' in wrong.get_data(as_text=True)
    assert queries.instance(engine.db, card)["state"] == "lost"  # type: ignore[index]

    done = wang.post(
        f"/inbox/{task['id']}/complete",
        data={"outcome": "close_bank_account", "confirmed": confirmation_of(body)},
    )
    assert done.status_code == 302
    assert queries.instance(engine.db, card)["state"] == "bank_account_closed"  # type: ignore[index]


def _form_as_sent(page: str, button: str) -> dict[str, str]:
    """What a browser sends when ``button`` (an element id) of ``page``'s form is clicked: its
    inputs' values as the page holds them, and the button's own name and value."""
    tree = lxml.html.document_fromstring(page)
    [clicked] = tree.xpath(f'//button[@id="{button}"]')
    form = next(clicked.iterancestors("form"))
    sent = {i.get("name"): i.get("value", "") for i in form.iter("input") if i.get("name")}
    return {**sent, clicked.get("name"): clicked.get("value")}


def test_the_confirmation_keeps_the_typed_id_number_in_its_field_only(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """An outcome that ends the instance and asks for an ID number (here closing the bank
    account with the holder's ID presented, in a copy of the definitions): the confirmation
    gives the typed number back in its own field, so the teller confirms without typing it
    again, and masks it everywhere else on the page."""
    definitions = tmp_path / "definitions"
    shutil.copytree(PROJECT_ROOT / "definitions", definitions)
    card_file = definitions / "card.yaml"
    text = card_file.read_text(encoding="utf-8")
    closing = "from: [lost, cancelled]\n    to: bank_account_closed\n"
    presented = (
        "    fields:\n      - {name: presented_id_number, label: {zh: 出示证件号码, "
        "en: Presented ID number}, type: id_number}\n"
    )
    assert closing in text
    card_file.write_text(text.replace(closing, closing + presented), encoding="utf-8")
    app = make_app(SimulatedClock(NOW), staff=TEAM, SHEBAO_DEFINITIONS=str(definitions))
    engine = engine_of(app)
    card, task = card_at_account_closing(app)
    wang = client_for(app, "wang")
    form = {"outcome": "close_bank_account", "presented_id_number": PERSON}
    asked = wang.post(f"/inbox/{task['id']}/complete", data=form)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'id="confirm-panel"' in page
    tree = lxml.html.document_fromstring(page)
    [field] = tree.xpath('//input[@name="presented_id_number"]')
    assert field.get("value") == PERSON
    field.drop_tree()
    assert PERSON not in lxml.html.tostring(tree, encoding="unicode")  # only in its field

    done = wang.post(f"/inbox/{task['id']}/complete", data=_form_as_sent(page, "confirm-do"))
    assert done.status_code == 302, done.get_data(as_text=True)
    assert queries.instance(engine.db, card)["state"] == "bank_account_closed"  # type: ignore[index]


def test_an_incomplete_form_is_refused_before_the_confirmation(app: Flask) -> None:
    """Rejecting a registration ends it: the page asks for a confirmation, but not of a form
    missing the outcome's required fields (the reason): that is refused first, the field named
    by its label and the typed values kept; nothing changes."""
    engine = engine_of(app)
    create_user(engine.db, "mi_foshan", "pw", "medical_insurance_clerk", "foshan")
    person, task = registration_in_review(app, PERSON)
    clerk = client_for(app, "mi_foshan")
    reject = {"outcome": "reject_registration", "note": "已电话联系", "reason": "  "}
    refused = clerk.post(f"/inbox/{task}/complete", data=reject)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="confirm-panel"' not in body
    assert "不通过的理由：必填" in " ".join(visible_text(body))  # by its label, not ``reason``
    assert 'value="已电话联系"' in body  # what the clerk typed is kept
    english = clerk.post(f"/inbox/{task}/complete?lang=en", data=reject).get_data(as_text=True)
    assert "Reason: required" in " ".join(visible_text(english))
    assert queries.instance(engine.db, person)["state"] == "registration_review"  # type: ignore[index]
    assert open_task(engine, person)["attempts"] == 0  # not even a refused attempt

    asked = clerk.post(f"/inbox/{task}/complete", data={**reject, "reason": "户口簿与本人不符"})
    assert asked.status_code == 200 and 'id="confirm-panel"' in asked.get_data(as_text=True)


def test_the_page_lists_the_persons_other_records_the_user_may_see(app: Flask) -> None:
    engine = engine_of(app)
    person = register_person(
        engine,
        domain_of(app),
        Registration(
            id_number=PERSON,
            name="李娜",
            region="foshan",
            residence="household_register",
            household="H-0101",
            reduction_categories=(),
        ),
        actor="counter",
    )
    card = card_awaiting_activation(app)
    task = open_task(engine, card)["id"]
    boss = client_for(app, "boss").get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="person-records"' in boss
    assert f"/records/{person.instance_id}" in boss
    assert PERSON not in boss
    # a teller sees no person records: the block stays away
    teller = client_for(app, "wang").get(f"/inbox/{task}").get_data(as_text=True)
    assert f"/records/{person.instance_id}" not in teller
