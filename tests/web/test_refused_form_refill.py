"""A refused form gives the user's own typing back whole in the field they typed it in, ID
numbers too, and masks them everywhere else on the page.

The pages mask anything that looks like a resident ID number on output; a refused form used to
come back with the typed number masked (``440524********0014``) in its field, or left out, so
that sending it again sent the masked text: refused again, or stored masked in free text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask, render_template_string, request
from lxml import html as lxml_html
from staff_login import client_for
from support import TEAM, MakeApp, counter_card, registration_in_review

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from web.auth import create_user
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = "11010519491231002X"
OTHER = "440524188001010014"
HEAD = make_id_number("440604", date(1990, 1, 1), 901)
UNMASKED = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
"""Anything that looks like an ID number written out whole (a typo'd one too)."""


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(SimulatedClock(NOW), staff=TEAM)
    create_user(engine_of(app).db, "mi_foshan", "pw", "medical_insurance_clerk", "foshan")
    return app


def field_and_rest(page: Any, tag: str, name: str) -> tuple[str, str]:
    """The value the page's field ``name`` holds (as a browser reads it) and the page without
    that field."""
    document = lxml_html.document_fromstring(page.get_data(as_text=True))
    [field] = document.xpath(f"//{tag}[@name=$name]", name=name)
    value = field.get("value", "") if tag == "input" else field.text or ""
    field.drop_tree()
    return value, lxml_html.tostring(document, encoding="unicode")


def awaiting_activation(app: Flask) -> tuple[int, int]:
    """A card waiting for its holder at the counter: the card's and the activation task's ids."""
    card = counter_card(app, PERSON, events=("produce", ("notify_holder", "icbc-branch")))
    task = queries.tasks_of(engine_of(app).db, card.instance_id, "open")[0]["id"]
    return card.instance_id, int(task)


def test_a_refused_activation_gives_the_typed_id_number_back_to_be_corrected(app: Flask) -> None:
    card, task = awaiting_activation(app)
    wang = client_for(app, "wang")
    refused = wang.post(
        f"/inbox/{task}/complete", data={"presented_id_number": OTHER, "outcome": "activate"}
    )
    assert refused.status_code == 422
    typed, rest = field_and_rest(refused, "input", "presented_id_number")
    assert typed == OTHER, "the field must hold the number as the teller typed it"
    assert mask_id_number(OTHER) in rest, "the refusal names the number masked"
    assert UNMASKED.findall(rest) == [], "only the teller's own field holds a whole number"

    # a typo (wrong check digit) comes back whole too, to be corrected in place
    typo = PERSON[:-1] + "0"
    again = wang.post(f"/inbox/{task}/complete", data={"presented_id_number": typo})
    assert again.status_code == 422
    typed, rest = field_and_rest(again, "input", "presented_id_number")
    assert typed == typo
    assert UNMASKED.findall(rest) == []

    done = wang.post(f"/inbox/{task}/complete", data={"presented_id_number": PERSON})
    assert done.status_code == 302
    assert queries.instance(engine_of(app).db, card)["state"] == "active"  # type: ignore[index]


def test_free_text_comes_back_as_typed_escaped_and_is_stored_when_sent_again(
    app: Flask,
) -> None:
    engine = engine_of(app)
    person, task = registration_in_review(app, PERSON)
    clerk = client_for(app, "mi_foshan")
    note = f'户主{HEAD}"><script>alert(1)</script>'
    # the document checked is left out: the engine refuses the form by that field's label
    refused = clerk.post(
        f"/inbox/{task}/complete", data={"outcome": "approve_registration", "note": note}
    )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "<script>alert(1)" not in body, "the typed value must be HTML-escaped"
    assert "核验的证件" in body
    typed, rest = field_and_rest(refused, "input", "note")
    assert typed == note
    assert UNMASKED.findall(rest) == []

    done = clerk.post(
        f"/inbox/{task}/complete",
        data={
            "outcome": "approve_registration",
            "note": typed,
            "document_kind": "household_register",
        },
    )
    assert done.status_code == 302
    [approved] = [
        h for h in queries.history(engine.db, person) if h["event"] == "approve_registration"
    ]
    # sent again, the note is the one the clerk typed, kept in the history with the number masked
    assert approved["data"]["note"] == note.replace(HEAD, mask_id_number(HEAD))


def test_a_refused_intervention_gives_the_reason_back_as_typed(app: Flask) -> None:
    card, _ = awaiting_activation(app)
    version = queries.instance(engine_of(app).db, card)["version"]  # type: ignore[index]
    reason = f"持卡人{PERSON}申请注销。" + "说明" * 260  # longer than the 500 characters allowed
    boss = client_for(app, "boss")
    refused = boss.post(
        f"/processes/instances/{card}/cancel", data={"version": version, "reason": reason}
    )
    assert refused.status_code == 400
    typed, rest = field_and_rest(refused, "textarea", "reason")
    assert typed == reason, "the supervisor shortens the reason they typed, not a masked one"
    assert UNMASKED.findall(rest) == []


def test_only_the_value_this_request_sent_in_that_field_is_given_back_whole(app: Flask) -> None:
    @app.post("/typed-echo")
    def typed_echo() -> str:
        return render_template_string(
            '<input name="a" value="{{ v|refill(\'a\') }}"><input name="b" value="{{ v|refill(\'b\') }}">'
            "<p>{{ v }}</p>",
            v=request.form["a"],
        )

    answer = client_for(app, "wang").post("/typed-echo", data={"a": OTHER, "b": PERSON})
    typed, rest = field_and_rest(answer, "input", "a")
    assert typed == OTHER
    assert UNMASKED.findall(rest) == [], "the same value in another field or in text is masked"
    assert rest.count(mask_id_number(OTHER)) == 2
