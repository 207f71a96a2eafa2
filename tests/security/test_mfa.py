"""The TOTP second factor: required for supervisors, optional for others; the password step alone
opens no session; codes at the engine clock's time, one step of drift accepted; the demo's
supervisor gets a secret."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from staff_helpers import (
    PASSWORD,
    add_staff,
    clock_of,
    code_now,
    is_logged_in,
    log_in,
    make_app,
    post_code,
    post_password,
    secret_of,
    sid_of,
)

from web.cli.main import main
from web.demo_accounts import account_lines, create_demo_accounts
from web.extensions import domain_of, engine_of
from web.login_throttle import MAX_PER_ACCOUNT
from web.passwords import MIN_LENGTH


@pytest.fixture
def app(db_url: str) -> Flask:
    app = make_app(db_url)
    engine = engine_of(app)
    from web.auth import create_user

    create_user(engine.db, "boss", PASSWORD, "supervisor")
    add_staff(app, "wang")
    return app


def totp_command(app: Flask, name: str, *flags: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(main, ["users", "totp", name, *flags])
    return result.exit_code, result.output


def test_a_supervisor_without_a_second_factor_cannot_log_in(app: Flask) -> None:
    client = app.test_client()
    answer = post_password(client, "boss")
    assert answer.status_code == 403
    text = answer.get_data(as_text=True)
    assert "shebao users totp" in text and "两步验证" in text
    assert sid_of(client) is None and not is_logged_in(client)
    client.get("/login?lang=en")
    english = post_password(client, "boss").get_data(as_text=True)
    assert "needs a second factor" in english and "shebao users totp NAME" in english


def test_the_totp_command_prints_the_secret_and_uri_once(app: Flask) -> None:
    code, output = totp_command(app, "boss")
    assert code == 0, output
    secret = secret_of(app, "boss")
    assert secret and f"secret: {secret}" in output
    uri = pyotp.parse_uri(output.split("uri:")[1].strip())
    assert uri.secret == secret and "shebao-workflow" in output
    again_code, again = totp_command(app, "boss")
    assert again_code != 0 and "--replace" in again and secret not in again
    assert totp_command(app, "nobody")[0] != 0


def test_a_supervisor_logs_in_with_password_then_code(app: Flask) -> None:
    totp_command(app, "boss")
    secret = secret_of(app, "boss")
    assert secret
    client = app.test_client()
    answer = post_password(client, "boss")
    assert answer.status_code == 302 and answer.location == "/login/code"
    assert sid_of(client) is None and not is_logged_in(client)  # no session yet
    assert "6 位验证码" in client.get("/login/code").get_data(as_text=True)

    moment = engine_of(app).clock.now()
    wrong = pyotp.TOTP(secret).at(moment - timedelta(minutes=5))
    refused = post_code(client, wrong)
    assert refused.status_code == 401 and "验证码错误" in refused.get_data(as_text=True)
    assert sid_of(client) is None

    drifted = pyotp.TOTP(secret).at(moment - timedelta(seconds=30))  # one step behind
    done = post_code(client, drifted)
    assert done.status_code == 302 and done.location == "/processes/"
    assert sid_of(client) and is_logged_in(client)
    assert client.get("/processes/").status_code == 200


def test_the_code_step_expires(app: Flask) -> None:
    totp_command(app, "boss")
    client = app.test_client()
    assert post_password(client, "boss").location == "/login/code"
    clock_of(app).advance(timedelta(minutes=6))
    answer = post_code(client, code_now(app, secret_of(app, "boss") or ""))
    assert answer.status_code == 302 and answer.location == "/login"
    assert not is_logged_in(client)


def test_a_code_step_cannot_be_reached_without_the_password(app: Flask) -> None:
    totp_command(app, "boss")
    client = app.test_client()
    answer = client.get("/login/code")
    assert answer.status_code == 302 and answer.location == "/login"


def test_wrong_codes_count_towards_the_lock(app: Flask) -> None:
    totp_command(app, "boss")
    client = app.test_client()
    post_password(client, "boss")
    for _ in range(MAX_PER_ACCOUNT):
        assert post_code(client, "000000").status_code == 401
    locked = post_code(client, code_now(app, secret_of(app, "boss") or ""))
    assert locked.status_code == 429 and "Retry-After" in locked.headers


def test_a_clerk_may_add_a_second_factor(app: Flask) -> None:
    log_in(app, "wang")  # without one: the password is enough
    totp_command(app, "wang")
    client = app.test_client()
    assert post_password(client, "wang").location == "/login/code"
    done = post_code(client, code_now(app, secret_of(app, "wang") or ""))
    assert done.status_code == 302 and done.location == "/inbox/"


def test_replacing_a_secret_ends_the_sessions(app: Flask) -> None:
    totp_command(app, "boss")
    client = log_in(app, "boss")
    old = secret_of(app, "boss")
    code, output = totp_command(app, "boss", "--replace")
    assert code == 0, output
    assert secret_of(app, "boss") != old
    assert not is_logged_in(client)
    log_in(app, "boss")


def test_the_demo_supervisor_gets_a_second_factor(app: Flask) -> None:
    from web.demo_accounts import wipe

    engine = engine_of(app)
    wipe(engine)
    accounts = create_demo_accounts(engine, domain_of(app), ["icbc"])
    boss = next(a for a in accounts if a.group == "supervisor")
    assert boss.totp_secret and boss.totp_secret == secret_of(app, boss.username)
    assert all(a.totp_secret is None for a in accounts if a is not boss)
    assert all(len(a.password) >= MIN_LENGTH for a in accounts)
    lines = "\n".join(account_lines(accounts))
    assert boss.totp_secret in lines and "otpauth://totp/" in lines
    log_in(app, boss.username, boss.password)


def test_a_code_is_good_once(app: Flask) -> None:
    """A code someone saw over a shoulder (or in a proxy log) cannot log in a second time."""
    totp_command(app, "boss")
    secret = secret_of(app, "boss")
    assert secret
    code = pyotp.TOTP(secret).at(engine_of(app).clock.now())
    first = app.test_client()
    assert post_password(first, "boss").location == "/login/code"
    assert post_code(first, code).status_code == 302 and is_logged_in(first)
    second = app.test_client()
    assert post_password(second, "boss").location == "/login/code"
    replayed = post_code(second, code)
    assert replayed.status_code == 401 and not is_logged_in(second)
    # the next step's code works
    clock_of(app).advance(timedelta(seconds=30))
    later = pyotp.TOTP(secret).at(engine_of(app).clock.now())
    assert post_code(second, later).status_code == 302 and is_logged_in(second)
