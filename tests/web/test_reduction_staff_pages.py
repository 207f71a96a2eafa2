"""Reductions on the staff pages: a registration review's refused category without its reason is
an incomplete form (refused naming the field by its label, not counted), while a decision the
rules refuse still counts; the person page offers the claim form only in a state the definition
lets a claim leave, and says why not otherwise; the history says what a claim declared and why
an automatic refusal happened, and the review's fact of declared categories keeps them all."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from lxml import html as lxml_html
from staff_login import client_for
from staff_pages import visible_text
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from web.extensions import domain_of
from workflows.people import Registration, register_person

NOW = datetime(2022, 10, 10, 2, 0, tzinfo=UTC)  # Hui'an's 2023 period is open
"""The service's time: the ``clock`` fixture's (``conftest.py``)."""
DECLARES = "350521195804040211"  # 64: the low-income category holds for them
TURNS_18 = "350521200410150219"  # born 2004-10-15: under 18 until 2022-10-15
INSURED = "350521197003030127"
STAFF = [("mi_huian", "medical_insurance_clerk", "huian")]
APPROVE = {"outcome": "approve_registration", "document_kind": "household_register"}


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(clock, staff=STAFF)


def _register(app: Flask, number: str, *categories: str) -> tuple[int, int]:
    """A registration in review declaring ``categories``: (person id, its task id)."""
    engine = engine_of(app)
    person = register_person(
        engine,
        domain_of(app),
        Registration(id_number=number, name="减", region="huian", reduction_categories=categories),
        actor="counter",
    ).instance_id
    [task] = queries.tasks_of(engine.db, person, "open")
    return person, int(task["id"])


def _task(app: Flask, person: int, task: int) -> dict:  # type: ignore[type-arg]
    [row] = [t for t in queries.tasks_of(engine_of(app).db, person) if t["id"] == task]
    return row  # type: ignore[no-any-return]


def _text(page: str) -> str:
    return " ".join(visible_text(page))


def _flash(page: str) -> str:
    """The page's flash messages, as read."""
    return " ".join(re.findall(r'<div class="flash [a-z]+" role="alert">([^<]*)</div>', page))


def test_a_refused_category_without_its_reason_is_an_incomplete_form(app: Flask) -> None:
    """Ticked under 不予认定的减免类别 with no reason: 422 naming the reason's field by its label
    in the page's language, the box kept ticked, no refused attempt and no history row."""
    person, task = _register(app, DECLARES, "dibao", "orphan")
    engine = engine_of(app)
    before = queries.history(engine.db, person)
    clerk = client_for(app, "mi_huian")
    for lang, label in (("zh", "不予认定减免的理由"), ("en", "Why the reductions are refused")):
        answer = clerk.post(
            f"/inbox/{task}/complete?lang={lang}",
            data={**APPROVE, "reductions_refused": ["orphan"], "note": "户口簿已核"},
        )
        page = answer.get_data(as_text=True)
        assert answer.status_code == 422, page
        assert label in _flash(page), _flash(page)
        assert 'name="reductions_refused" value="orphan" checked' in page  # kept ticked
    row = _task(app, person, task)
    assert (row["status"], row["attempts"]) == ("open", 0)
    assert queries.history(engine.db, person) == before
    page = clerk.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="task-attempts"' not in page

    done = clerk.post(
        f"/inbox/{task}/complete",
        data={**APPROVE, "reductions_refused": ["orphan"], "reductions_refused_reason": "无证明"},
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert _task(app, person, task)["attempts"] == 0


def test_a_decision_the_rules_refuse_still_counts(app: Flask, clock: SimulatedClock) -> None:
    """Declared low income at 17, approved at 18 without refusing it: the rules refuse, and that
    is a refused attempt on the task, in the history with its reason."""
    person, task = _register(app, TURNS_18, "low_income")
    clock.set(datetime(2022, 10, 20, 2, 0, tzinfo=UTC))
    clerk = client_for(app, "mi_huian")
    answer = clerk.post(f"/inbox/{task}/complete", data=APPROVE)
    assert answer.status_code == 422
    assert "低收入家庭成员减免须符合以下条件之一" in _text(answer.get_data(as_text=True))
    assert _task(app, person, task)["attempts"] == 1
    last = queries.history(engine_of(app).db, person)[-1]
    assert last["event"] == "task_refused"


def test_the_claim_form_is_offered_only_where_a_claim_can_be_made(app: Flask) -> None:
    """Insured: the form. A claim in review, or a registration still in review: no form, and the
    page says why in the page's language; a claim posted anyway is refused as before."""
    engine = engine_of(app)
    waiting, _ = _register(app, DECLARES)
    person, task = _register(app, INSURED)
    document = {"document_kind": "household_register"}
    engine.complete_task(task, actor="mi_huian", data=document, outcome=APPROVE["outcome"])
    clerk = client_for(app, "mi_huian")

    page = clerk.get(f"/people/{person}").get_data(as_text=True)
    assert 'id="reduction-claim-form"' in page and 'id="claim-unavailable"' not in page
    filed = clerk.post(
        f"/people/{person}/reduction-claims", data={"category": "dibao", "evidence": "低保证 1"}
    )
    assert filed.status_code == 303

    for lang, words in (("zh", "减免资格审核"), ("en", "Reduction review")):
        page = clerk.get(f"/people/{person}?lang={lang}").get_data(as_text=True)
        assert 'id="reduction-claim-form"' not in page
        said = _text(page[page.index('id="claim-unavailable"') :].split("</p>")[0] + "</p>")
        assert words in said, said
    refused = clerk.post(
        f"/people/{person}/reduction-claims", data={"category": "tekun", "evidence": "特困证 2"}
    )
    assert refused.status_code == 422 and 'id="reduction-claim-form"' not in refused.get_data(
        as_text=True
    )

    page = clerk.get(f"/people/{waiting}?lang=zh").get_data(as_text=True)
    assert 'id="reduction-claim-form"' not in page
    said = _text(page[page.index('id="claim-unavailable"') :].split("</p>")[0] + "</p>")
    assert "参保登记审核" in said, said


def _history_notes(page: str, event: str) -> list[str]:
    """The 说明 (Details) cells of the history rows of ``event`` (by its words) on ``page``."""
    document = lxml_html.document_fromstring(page)
    notes = []
    for row in document.xpath('//table[contains(@class, "history")]/tbody/tr'):
        cells = [" ".join(c.text_content().split()) for c in row.xpath("./td")]
        if cells[1] == event:
            notes.append(cells[5])
    return notes


def test_the_history_and_facts_say_what_was_declared_and_decided(app: Flask) -> None:
    """The counter's claim row says the category in words and the evidence (an ID number in it
    masked); the automatic refusal after an approval says why; the review's fact of declared
    categories still lists every category declared once one was refused."""
    engine = engine_of(app)
    person, task = _register(app, DECLARES, "dibao", "orphan")
    clerk = client_for(app, "mi_huian")
    done = clerk.post(
        f"/inbox/{task}/complete",
        data={
            **APPROVE,
            "reductions_refused": ["orphan"],
            "reductions_refused_reason": "无孤儿证明",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    page = clerk.get(f"/people/{person}?lang=zh").get_data(as_text=True)
    assert _history_notes(page, "不予认定减免") == ["不予认定的理由：无孤儿证明"]
    english = clerk.get(f"/people/{person}?lang=en").get_data(as_text=True)
    assert _history_notes(english, "Reduction refused") == ["Reason: 无孤儿证明"]

    facts = _text(clerk.get(f"/inbox/{task}?lang=zh").get_data(as_text=True))
    assert "申报的减免类别 低保对象、孤儿（含事实无人抚养儿童）" in facts, facts

    insured, review = _register(app, INSURED)
    document = {"document_kind": "household_register"}
    engine.complete_task(review, actor="mi_huian", data=document, outcome=APPROVE["outcome"])
    filed = clerk.post(
        f"/people/{insured}/reduction-claims?lang=zh",
        data={"category": "dibao", "evidence": f"低保证 QZ-7 持证人 {INSURED}"},
    )
    assert filed.status_code == 303
    page = clerk.get(f"/people/{insured}").get_data(as_text=True)
    [note] = _history_notes(page, "申请减免（资助参保）")
    assert note.startswith("减免类别：低保对象；证明材料（证件名称及编号）：低保证 QZ-7 持证人 "), (
        note
    )
    assert INSURED not in page and "3505" in note  # the number masked, as every page masks it
    english = clerk.get(f"/people/{insured}?lang=en").get_data(as_text=True)
    [note] = _history_notes(english, "Reduction claimed")
    assert note.startswith("Reduction category: Minimum living allowance recipients; "), note
