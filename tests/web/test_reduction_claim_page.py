"""A reduction claim filed from the person page at the counter: the region's categories offered
in words, filed through the operation the API uses (the clerk's review opens), refused in the
same words with nothing changed, only by the clerks who may, and never with an ID number in a
URL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for
from staff_pages import visible_text
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from web.extensions import domain_of
from workflows.people import Registration, register_person

NOW = datetime(2022, 10, 10, 2, 0, tzinfo=UTC)  # Hui'an's 2023 period is open
INSURED = "350521197003030127"
IN_REVIEW = "350521195804040211"
STAFF = [
    ("mi_huian", "medical_insurance_clerk", "huian"),
    ("ss_huian", "social_security_clerk", "huian"),
    ("mi_foshan", "medical_insurance_clerk", "foshan"),
    ("boss", "supervisor", None),
]


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=STAFF)


def _registered(app: Flask, number: str, *, approve: bool = True) -> int:
    engine = engine_of(app)
    person = register_person(
        engine,
        domain_of(app),
        Registration(id_number=number, name="减免", region="huian"),
        actor="counter",
    ).instance_id
    if approve:
        [task] = queries.tasks_of(engine.db, person, "open")
        engine.complete_task(
            task["id"],
            actor="mi_huian",
            data={"document_kind": "household_register"},
            outcome="approve_registration",
        )
    return person


def _state(app: Flask, person: int) -> str:
    return str(queries.instance(engine_of(app).db, person)["state"])  # type: ignore[index]


def _claim(client: FlaskClient, person: int, lang: str = "zh", **data: str) -> tuple[int, str]:
    answer = client.post(f"/people/{person}/reduction-claims?lang={lang}", data=data)
    return answer.status_code, answer.get_data(as_text=True)


def test_a_clerk_files_a_claim_from_the_person_page(app: Flask) -> None:
    person = _registered(app, INSURED)
    clerk = client_for(app, "mi_huian")
    page = clerk.get(f"/people/{person}").get_data(as_text=True)
    assert 'id="reduction-claim-form"' in page
    assert "低保对象" in page and "特困人员" in page  # the region's categories, in words
    english = clerk.get(f"/people/{person}?lang=en").get_data(as_text=True)
    assert "Minimum living allowance recipients" in english
    assert INSURED not in page  # the form posts to the record's id; the number stays server-side

    code, body = _claim(clerk, person, category="dibao", evidence="低保证 QZ2022-0815")
    assert code == 303 or code == 302, body
    assert _state(app, person) == "reduction_review"
    [task] = queries.tasks_of(engine_of(app).db, person, "open")
    assert task["name"] == "review_reduction"
    after = clerk.get(f"/people/{person}").get_data(as_text=True)
    assert "减免申请已提交" in after


def test_a_refused_claim_is_answered_in_words_and_changes_nothing(app: Flask) -> None:
    person = _registered(app, INSURED)
    waiting = _registered(app, IN_REVIEW, approve=False)
    clerk = client_for(app, "mi_huian")
    engine = engine_of(app)

    code, body = _claim(clerk, person, category="royalty", evidence="证明 1")
    assert code == 422 and "参保地没有减免类别" in " ".join(visible_text(body))
    assert 'value="证明 1"' in body  # what the clerk typed is kept
    code, body = _claim(clerk, person, "en", category="royalty", evidence="x")
    assert code == 422 and "the region has no reduction category" in body
    code, body = _claim(clerk, person, category="dibao", evidence=" ")
    assert code == 422 and "须写明证明材料" in body
    assert _state(app, person) == "insured" and not queries.tasks_of(engine.db, person, "open")

    code, body = _claim(clerk, waiting, category="dibao", evidence="低保证 1")
    assert code == 422 and INSURED not in body and IN_REVIEW not in body
    assert _state(app, waiting) == "registration_review"

    assert _claim(clerk, person, category="dibao", evidence="低保证 1")[0] in (302, 303)
    code, body = _claim(clerk, person, category="tekun", evidence="特困证 2")
    assert code == 422 and "审核" in " ".join(visible_text(body))  # a claim in review first
    assert len(queries.tasks_of(engine.db, person, "open")) == 1


def test_only_the_regions_medical_insurance_clerks_may_file(app: Flask) -> None:
    person = _registered(app, INSURED)
    for user, status in (("ss_huian", 403), ("boss", 403), ("mi_foshan", 404)):
        client = client_for(app, user)
        page = client.get(f"/people/{person}")
        assert 'id="reduction-claim-form"' not in page.get_data(as_text=True)
        code, _ = _claim(client, person, category="dibao", evidence="低保证 1")
        assert code == status, user
    assert _state(app, person) == "insured"


def test_the_claim_form_needs_the_csrf_token(app: Flask) -> None:
    person = _registered(app, INSURED)
    clerk = client_for(app, "mi_huian")
    assert 'name="csrf_token"' in clerk.get(f"/people/{person}").get_data(as_text=True)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert _claim(clerk, person, category="dibao", evidence="低保证 1")[0] == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _state(app, person) == "insured"
