"""What tests share besides fixtures (those are in ``conftest.py``): the staff of page tests, the
type of the ``make_app`` fixture, and how Chromium is launched (browser tests and fixture scripts)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import flask

from engine.outcomes import Transition

Staff = tuple[str, str, str | None]
"""A staff member of a test: username, group, scope (password ``pw``)."""

TEAM: tuple[Staff, ...] = (
    ("wang", "bank_teller", "icbc"),
    ("zhao", "bank_teller", "icbc"),
    ("chen", "bank_teller", "boc"),
    ("boss", "supervisor", None),
)
"""Two tellers of one bank, one of another, and a supervisor: the inbox tests' team."""

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium: Playwright never downloads a browser here."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
"""Chromium's flags here: headless, and none of its own network calls (refused on this machine)."""

MakeApp = Callable[..., flask.Flask]
"""``make_app(clock, staff=(), csrf=False, **config)``: see the fixture in ``conftest.py``."""


def counter_card(
    app: flask.Flask,
    id_number: str,
    *,
    bank: str = "icbc",
    region_code: str = "440604",
    events: Sequence[str | tuple[str, str]] = (),
) -> Transition:
    """A card applied for at the counter (``actor="t"``) and moved through ``events`` (an event's
    name, or ``(event, actor)``): the application's result, ``.instance_id`` its instance."""
    from web.extensions import domain_of, engine_of
    from workflows.cards import apply_for_card

    engine = engine_of(app)
    card = apply_for_card(
        engine,
        domain_of(app).regions,
        id_number=id_number,
        channel="counter",
        bank=bank,
        region_code=region_code,
        actor="t",
    )
    for step in events:
        event, actor = (step, None) if isinstance(step, str) else step
        if actor is None:
            engine.fire(card.instance_id, event)
        else:
            engine.fire(card.instance_id, event, actor=actor)
    return card


def registration_in_review(app: flask.Flask, id_number: str) -> tuple[int, int]:
    """李娜's registration in Foshan (household H-0101) filed at the counter and waiting for a
    medical-insurance clerk's review: her record's instance id and the open review task's id."""
    from engine import queries
    from web.extensions import domain_of, engine_of
    from workflows.people import Registration, register_person

    engine = engine_of(app)
    person = register_person(
        engine,
        domain_of(app),
        Registration(id_number=id_number, name="李娜", region="foshan", household="H-0101"),
        actor="counter",
    ).instance_id
    return person, int(queries.tasks_of(engine.db, person, "open")[0]["id"])


CONFIRMED = re.compile(r'name="confirmed" value="([^"]+)"')
"""The inbox's confirmation token, bound to the outcome and values it confirms."""


def confirmation_of(page: str) -> str:
    """The ``confirmed`` token of a confirmation page (``id="confirm-panel"``)."""
    found = CONFIRMED.search(page)
    assert found, "the page asks for no confirmation"
    return found.group(1)


def complete_confirmed(client: Any, task_id: int, data: dict[str, str]) -> Any:
    """Send a task's form with an outcome that ends the instance, as a clerk does: the page asks
    back for confirmation, and the same form is sent again with its ``confirmed`` token."""
    asked = client.post(f"/inbox/{task_id}/complete", data=data)
    assert asked.status_code == 200, asked.get_data(as_text=True)[:500]
    token = confirmation_of(asked.get_data(as_text=True))
    return client.post(f"/inbox/{task_id}/complete", data={**data, "confirmed": token})
