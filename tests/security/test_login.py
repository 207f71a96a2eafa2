"""Logins: throttled per address and per account (429 with Retry-After), the same answer in
about the same time for an unknown user as for a wrong password, and the password rules."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from staff_helpers import PASSWORD, add_staff, clock_of, log_in, make_app
from werkzeug.test import TestResponse

from web.cli.main import main
from web.login_throttle import MAX_PER_ACCOUNT, MAX_PER_ADDRESS, WINDOW
from web.passwords import MIN_LENGTH, WeakPassword, check_new_password, common_passwords

ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
COLLEAGUE = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def app(db_url: str) -> Flask:
    # CSRF off here: these tests post many forms and are about the login itself
    app = make_app(db_url, WTF_CSRF_ENABLED=False)
    add_staff(app, "wang")
    return app


def attempt(
    client: FlaskClient, username: str, password: str, environ: dict[str, str] | None = None
) -> TestResponse:
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base=environ or {}
    )


def test_one_address_trying_many_usernames_is_throttled(app: Flask) -> None:
    client = app.test_client()
    for n in range(MAX_PER_ADDRESS):
        assert attempt(client, f"user{n}", "guess-guess-guess", ATTACKER).status_code == 401
    refused = attempt(client, "wang", PASSWORD, ATTACKER)
    assert refused.status_code == 429
    retry = int(refused.headers["Retry-After"])
    assert 0 < retry <= WINDOW.total_seconds()
    assert "15 分钟" in refused.get_data(as_text=True)
    # the account itself is not locked: the same user from another address logs in
    assert attempt(app.test_client(), "wang", PASSWORD, COLLEAGUE).status_code == 302
    # once the failures leave the window, the address may try again
    clock_of(app).advance(timedelta(seconds=retry))
    assert attempt(client, "wang", PASSWORD, ATTACKER).status_code == 302


def test_one_account_tried_from_many_addresses_is_throttled(app: Flask) -> None:
    client = app.test_client()
    for n in range(MAX_PER_ACCOUNT):
        address = {"REMOTE_ADDR": f"192.0.2.{n + 1}"}
        assert attempt(client, "wang", "guess-guess-guess", address).status_code == 401
    refused = attempt(client, "wang", PASSWORD, COLLEAGUE)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    clock_of(app).advance(WINDOW)
    assert attempt(client, "wang", PASSWORD, COLLEAGUE).status_code == 302


def test_refused_tries_do_not_extend_the_lock(app: Flask) -> None:
    client = app.test_client()
    for _ in range(MAX_PER_ACCOUNT):
        attempt(client, "wang", "guess-guess-guess")
    clock_of(app).advance(timedelta(minutes=10))
    for _ in range(10):
        assert attempt(client, "wang", "guess-guess-guess").status_code == 429
    clock_of(app).advance(timedelta(minutes=5))
    assert attempt(client, "wang", PASSWORD).status_code == 302


def _normalised(answer: TestResponse, username: str) -> str:
    text = answer.get_data(as_text=True).replace(f'value="{username}"', 'value="NAME"')
    return re.sub(r'name="csrf_token" value="[^"]+"', "", text)


def test_an_unknown_user_gets_the_answer_of_a_wrong_password(app: Flask) -> None:
    client = app.test_client()
    wrong = attempt(client, "wang", "not-the-password")
    unknown = attempt(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert _normalised(wrong, "wang") == _normalised(unknown, "nobody")
    assert "用户名或密码错误" in wrong.get_data(as_text=True)


def _median_seconds(app: Flask, username: str, tries: int) -> float:
    client = app.test_client()
    times = []
    for n in range(tries):
        clock_of(app).advance(WINDOW)  # no try is throttled
        started = time.perf_counter()
        answer = attempt(client, username, f"not-the-password-{n}")
        times.append(time.perf_counter() - started)
        assert answer.status_code == 401
    return statistics.median(times)


def test_an_unknown_user_takes_about_as_long_as_a_wrong_password(app: Flask) -> None:
    """Both check a password hash (a dummy one for the unknown user). Without that, an unknown
    user answers in about a millisecond and a wrong password in tens of them (scrypt)."""
    _median_seconds(app, "wang", 2)  # warm up (the dummy hash is made once)
    _median_seconds(app, "nobody", 2)
    known = _median_seconds(app, "wang", 9)
    unknown = _median_seconds(app, "nobody", 9)
    assert 1 / 3 < unknown / known < 3, (known, unknown)


@pytest.mark.parametrize(
    "password,reason",
    [
        ("short-pw", "too_short"),
        ("x" * (MIN_LENGTH - 1), "too_short"),
        ("password1234", "common"),
        ("Password1234", "common"),  # compared in lowercase
        ("QWERTYUIOP123", "common"),
        ("woaini1314520", "common"),
        ("wang.li.zhang", "username"),
    ],
)
def test_weak_and_common_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_new_password(password, "wang.li.zhang")
    assert refused.value.reason == reason


def test_the_common_list_ships_a_few_hundred_passwords() -> None:
    listed = common_passwords()
    assert len(listed) >= 300
    assert all(p == p.lower() for p in listed)
    check_new_password(PASSWORD, "wang")  # the tests' own password passes


def test_the_users_commands_refuse_weak_passwords(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    base = ["users", "create", "li", "--group", "bank_teller", "--scope", "boc"]
    short = runner.invoke(main, [*base, "--password", "li-2024"])
    assert short.exit_code != 0 and "at least 12" in short.output
    common = runner.invoke(main, [*base, "--password", "Password1234"])
    assert common.exit_code != 0 and "too common" in common.output
    made = runner.invoke(main, base)
    assert made.exit_code == 0, made.output
    chosen = made.output.split("password (shown once): ")[1].strip()
    assert len(chosen) >= MIN_LENGTH
    weak = runner.invoke(main, ["users", "password", "li", "--password", "12345678901234"])
    assert weak.exit_code != 0 and "too common" in weak.output
    log_in(make_app(sqlite_url), "li", chosen)
