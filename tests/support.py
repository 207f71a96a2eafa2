"""What tests share besides fixtures (those are in ``conftest.py``): the staff of page tests and
the type of the ``make_app`` fixture."""

from __future__ import annotations

from collections.abc import Callable

import flask

Staff = tuple[str, str, str | None]
"""A staff member of a test: username, group, scope (password ``pw``)."""

TEAM: tuple[Staff, ...] = (
    ("wang", "bank_teller", "icbc"),
    ("zhao", "bank_teller", "icbc"),
    ("chen", "bank_teller", "boc"),
    ("boss", "supervisor", None),
)
"""Two tellers of one bank, one of another, and a supervisor: the inbox tests' team."""

MakeApp = Callable[..., flask.Flask]
"""``make_app(clock, staff=(), csrf=False, **config)``: see the fixture in ``conftest.py``."""
