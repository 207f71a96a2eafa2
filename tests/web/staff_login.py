"""Logging staff in for page tests: the password step, then (supervisors) the second factor; and
clients that, once logged in, send every form with its CSRF token as in service."""

from __future__ import annotations

import re

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from web.app import engine_of
from web.auth import users

PASSWORD = "pw"
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def client_for(app: Flask, username: str) -> FlaskClient:
    """A test client logged in as ``username`` (password ``pw``)."""
    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    if answer.location == "/login/code":
        answer = client.post("/login/code", data={"code": totp_code(app, username)})
    assert answer.status_code == 302
    return client


def totp_code(app: Flask, username: str) -> str:
    """The code of the user's second factor at the engine clock's time (supervisors have one)."""
    with engine_of(app).db.connect() as conn:
        secret = conn.execute(
            select(users.c.totp_secret).where(users.c.username == username)
        ).scalar_one()
    return str(pyotp.TOTP(secret).at(engine_of(app).clock.now()))


def logged_in(app: Flask, username: str) -> FlaskClient:
    """A client of ``username``; from then on every form needs its CSRF token, as in service."""
    client = client_for(app, username)
    app.config["WTF_CSRF_ENABLED"] = True
    return client


def token_of(page: str) -> str:
    """The CSRF token of a page's form."""
    found = CSRF_TOKEN.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)
