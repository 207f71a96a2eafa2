"""Helpers of the staff security tests: the app on a simulated clock (CSRF on, as in production),
accounts, and logging in as a browser does (the form's CSRF token, then the TOTP step)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from engine.clock import SimulatedClock
from web.app import create_app
from web.auth import create_user, users
from web.extensions import domain_of, engine_of
from web.mfa import enroll
from web.sessions import COOKIE
from workflows.cards import apply_for_card

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PASSWORD = "tea-kettle-river-42"
PERSON = "11010519491231002X"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(url: str, *, clock: SimulatedClock | None = None, **config: Any) -> Flask:
    settings = {"SHEBAO_DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "security-tests"}
    return create_app({**settings, **config}, clock=clock or SimulatedClock(NOW))


def clock_of(app: Flask) -> SimulatedClock:
    clock = engine_of(app).clock
    assert isinstance(clock, SimulatedClock)
    return clock


def add_staff(
    app: Flask, username: str, group: str = "bank_teller", scope: str | None = "icbc"
) -> str | None:
    """An account with ``PASSWORD``; a supervisor gets a TOTP secret (returned)."""
    db = engine_of(app).db
    create_user(db, username, PASSWORD, group, None if group == "supervisor" else scope)
    return enroll(db, username) if group == "supervisor" else None


def secret_of(app: Flask, username: str) -> str | None:
    with engine_of(app).db.connect() as conn:
        return conn.execute(  # type: ignore[no-any-return]
            select(users.c.totp_secret).where(users.c.username == username)
        ).scalar_one()


def code_now(app: Flask, secret: str) -> str:
    """The TOTP code at the engine clock's time."""
    return pyotp.TOTP(secret).at(engine_of(app).clock.now())


def token(client: FlaskClient, path: str = "/login") -> str:
    found = _CSRF.search(client.get(path).get_data(as_text=True))
    assert found, f"{path} has no CSRF token"
    return found.group(1)


def post_password(
    client: FlaskClient, username: str, password: str = PASSWORD, **environ: Any
) -> TestResponse:
    form = {"username": username, "password": password, "csrf_token": token(client)}
    return client.post("/login", data=form, environ_base=environ)


def post_code(client: FlaskClient, code: str) -> TestResponse:
    return client.post("/login/code", data={"code": code, "csrf_token": token(client)})


def log_in(
    app: Flask, username: str, password: str = PASSWORD, client: FlaskClient | None = None
) -> FlaskClient:
    """A client logged in as ``username`` (through the code step when the account has one)."""
    client = client or app.test_client()
    answer = post_password(client, username, password)
    if answer.status_code == 302 and answer.location == "/login/code":
        secret = secret_of(app, username)
        assert secret
        answer = post_code(client, code_now(app, secret))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert not answer.location.startswith("/login"), answer.location
    return client


def sid_of(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return None if cookie is None else cookie.value


def post_form(client: FlaskClient, path: str, data: dict[str, str] | None = None) -> TestResponse:
    """A form post with the CSRF token of a page the user can open."""
    form = {**(data or {}), "csrf_token": token(client, "/account/sessions")}
    return client.post(path, data=form)


def is_logged_in(client: FlaskClient) -> bool:
    answer = client.get("/account/sessions")
    if answer.status_code == 302:
        assert answer.location.startswith("/login"), answer.location
        return False
    assert answer.status_code == 200
    return True


def card_task(app: Flask, bank: str = "icbc") -> int:
    """A card awaiting activation at ``bank``: its open task's id."""
    from engine import queries

    engine = engine_of(app)
    card = apply_for_card(
        engine,
        domain_of(app).regions,
        id_number=PERSON,
        channel="counter",
        bank=bank,
        region_code="440604",
        actor="t",
    )
    engine.fire(card.instance_id, "produce")
    engine.fire(card.instance_id, "notify_holder")
    return int(queries.tasks_of(engine.db, card.instance_id, "open")[0]["id"])
