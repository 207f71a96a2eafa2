"""Refusing a reduction declared at registration: the registration review's form offers the
person's declared categories to pick (one box each, in words), from the instance rather than a
list in the definition; the page and the API take the same keys and refuse any not offered in
words, changing nothing. An option source a definition names must exist when it loads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from staff_login import client_for
from staff_pages import visible_text
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from engine.definition import load_definition
from engine.errors import DefinitionError
from web.api.tokens import create_token
from web.app import engine_of
from web.extensions import domain_of
from workflows.domain import build_registry
from workflows.people import Registration, register_person

NOW = datetime(2022, 10, 10, 2, 0, tzinfo=UTC)  # Hui'an's 2023 period is open
DECLARES = "350521195804040211"
STAFF = [("mi_huian", "medical_insurance_clerk", "huian")]
APPROVE = {"outcome": "approve_registration", "document_kind": "household_register"}


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=STAFF)


def _review(app: Flask) -> tuple[int, int]:
    """A registration declaring 低保 and 低收入 (disabled), in review: (person id, task id)."""
    engine = engine_of(app)
    person = register_person(
        engine,
        domain_of(app),
        Registration(
            id_number=DECLARES,
            name="减",
            region="huian",
            reduction_categories=("dibao", "low_income"),
            flags=("disabled",),
        ),
        actor="counter",
    ).instance_id
    [task] = queries.tasks_of(engine.db, person, "open")
    return person, int(task["id"])


def _variables(app: Flask, person: int) -> dict:  # type: ignore[type-arg]
    return queries.instance(engine_of(app).db, person)["variables"]  # type: ignore[index,no-any-return]


def test_the_page_offers_the_declared_categories_to_pick(app: Flask) -> None:
    person, task = _review(app)
    clerk = client_for(app, "mi_huian")
    page = clerk.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="choices-reductions_refused"' in page
    assert 'type="checkbox" name="reductions_refused" value="dibao"' in page
    assert 'type="checkbox" name="reductions_refused" value="low_income"' in page
    assert 'value="tekun"' not in page  # the region has it, but it was not declared
    boxes = page[page.index('id="choices-reductions_refused"') :]
    boxes = boxes[: boxes.index("</fieldset>")]
    assert "低保对象" in boxes and "低收入家庭成员" in boxes
    english = clerk.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "Minimum living allowance recipients" in english

    done = clerk.post(
        f"/inbox/{task}/complete?lang=zh",
        data={**APPROVE, "reductions_refused": ["dibao"], "reductions_refused_reason": "已过期"},
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    variables = _variables(app, person)
    assert variables["reduction_categories"] == ["low_income"]
    assert variables["reductions_refused"]["categories"] == ["dibao"]
    history = clerk.get(f"/people/{person}").get_data(as_text=True)
    text = " ".join(visible_text(history))
    assert "不予认定的减免类别：低保对象" in text


def test_a_category_not_offered_is_refused_in_words_by_every_door(app: Flask) -> None:
    person, task = _review(app)
    clerk = client_for(app, "mi_huian")
    refused = clerk.post(
        f"/inbox/{task}/complete",
        data={**APPROVE, "reductions_refused": ["tekun"], "reductions_refused_reason": "x"},
    )
    body = " ".join(visible_text(refused.get_data(as_text=True)))
    assert refused.status_code == 422 and "不是可选项" in body and "低保对象（dibao）" in body
    assert _variables(app, person)["reduction_categories"] == ["dibao", "low_income"]

    token = create_token(engine_of(app).db, "huian-clerks", ["clerk:huian"])
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    data = {"document_kind": "household_register", "reductions_refused_reason": "证明过期"}
    for bad in (["tekun"], ["dibao", "royalty"], "特困人员"):
        answer = api.post(
            f"/api/v1/tasks/{task}/complete",
            json={"outcome": "approve_registration", "data": {**data, "reductions_refused": bad}},
            headers=headers,
        )
        assert 400 <= answer.status_code < 500, answer.get_json()
        assert "不是可选项" in str(answer.get_json()), answer.get_json()
        assert "not one of the options offered" in str(answer.get_json())
    assert queries.instance(engine_of(app).db, person)["state"] == "registration_review"  # type: ignore[index]

    done = api.post(
        f"/api/v1/tasks/{task}/complete",
        json={
            "outcome": "approve_registration",
            "data": {**data, "reductions_refused": ["low_income", "dibao"]},
        },
        headers=headers,
    )
    assert done.status_code == 200, done.get_json()
    variables = _variables(app, person)
    assert variables["reduction_categories"] == []
    assert variables["reductions_refused"]["categories"] == ["low_income", "dibao"]


def test_an_unknown_option_source_fails_at_load(tmp_path: Path) -> None:
    source = Path("definitions/person.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "person.yaml"
    broken.write_text(
        source.replace("{from: declared_reductions}", "{from: nobody_registered}"),
        encoding="utf-8",
    )
    registry = build_registry(Path("definitions/policies"))
    load_definition(Path("definitions/person.yaml"), registry)  # the source is registered
    with pytest.raises(DefinitionError) as raised:
        load_definition(broken, registry)
    assert raised.value.key.endswith("reductions_refused.options.from")
    assert "nobody_registered" in raised.value.problem
