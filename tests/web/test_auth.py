"""Logins, the login requirement on every page, rate limiting, CSRF and the language switch."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter

from engine.clock import SimulatedClock
from web.app import create_app, engine_of
from web.auth import authenticate, create_user
from web.cli.main import main
from web.extensions import domain_of
from workflows.cards import apply_for_card

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
# /metrics has a guard of its own instead of a login (tests/web/test_metrics.py)
OPEN = {
    "auth.login",
    "auth.language",
    "static",
    "health.healthz",
    "health.readyz",
    "health.metrics_page",
}


def make_app(url: str, **config: object) -> Flask:
    settings = {"SHEBAO_DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False}
    return create_app({**settings, **config}, clock=SimulatedClock(NOW))


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    app = make_app(sqlite_url)
    create_user(engine_of(app).db, "teller", "secret-pw", "bank_teller", "icbc")
    return app


def login(client: FlaskClient, username: str, password: str = "secret-pw") -> int:
    return client.post("/login", data={"username": username, "password": password}).status_code


def test_every_page_but_login_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN or rule.endpoint.startswith("api."):
            continue
        converters = rule._converters  # noqa: SLF001 - which arguments are integers
        values = {
            a: 1 if isinstance(converters[a], IntegerConverter) else "card" for a in rule.arguments
        }
        url = rule.build(values)[1]
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            response = client.open(url, method=method)
            checked += 1
            if response.status_code == 302:
                assert response.location.startswith("/login"), (method, url, response.location)
            else:
                assert response.status_code == 401, (method, url, response.status_code)
    assert checked >= 10


def test_login_goes_to_the_inbox_and_logout_ends_the_session(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "teller", "password": "secret-pw"})
    assert response.status_code == 302 and response.location == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    client.post("/logout")
    assert client.get("/inbox/").status_code == 302


def test_wrong_password_is_refused_in_the_users_language(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "teller", "password": "nope"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    response = client.post("/login?lang=en", data={"username": "teller", "password": "nope"})
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_five_failures_lock_the_username_even_for_the_right_password(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert login(client, "teller", "wrong") == 401
    response = client.post("/login", data={"username": "teller", "password": "secret-pw"})
    assert response.status_code == 429
    assert "15 分钟" in response.get_data(as_text=True)
    engine = engine_of(app)
    later = SimulatedClock(NOW.replace(hour=3))
    staff = authenticate(engine.db, "teller", "secret-pw", None, later.now())
    assert staff.username == "teller"


def test_passwords_are_stored_hashed(app: Flask) -> None:
    from sqlalchemy import select

    from web.auth import users

    with engine_of(app).db.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert "secret-pw" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_a_form_post_without_the_csrf_token_is_refused(sqlite_url: str) -> None:
    app = make_app(sqlite_url, WTF_CSRF_ENABLED=True)
    engine = engine_of(app)
    create_user(engine.db, "teller", "secret-pw", "bank_teller", "icbc")
    card = apply_for_card(
        engine,
        domain_of(app).regions,
        id_number="11010519491231002X",
        channel="counter",
        bank="icbc",
        region_code="440604",
        actor="counter",
    )
    engine.fire(card.instance_id, "produce")
    engine.fire(card.instance_id, "notify_holder")
    client = app.test_client()
    assert login(client, "teller") == 400  # the login form itself needs its token
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"username": "teller", "password": "secret-pw", "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    refused = client.post("/inbox/1/claim")
    assert refused.status_code == 400
    assert "校验令牌" in refused.get_data(as_text=True)
    detail = client.get("/inbox/1").get_data(as_text=True)
    assert 'id="assignee">未认领' in detail
    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)  # type: ignore[union-attr]
    assert client.post("/inbox/1/claim", data={"csrf_token": token}).status_code == 302
    assert 'id="assignee">teller' in client.get("/inbox/1").get_data(as_text=True)


def test_language_defaults_to_chinese_and_the_switch_is_remembered(app: Flask) -> None:
    client = app.test_client()
    assert "登录" in client.get("/login").get_data(as_text=True)
    assert "Log in" in client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in client.get("/login").get_data(as_text=True)
    login(client, "teller")
    assert "Task inbox" in client.get("/inbox/").get_data(as_text=True)
    back = client.get("/lang/zh?next=/inbox/")
    assert back.status_code == 302 and back.location == "/inbox/?lang=zh"
    client.get(back.location)
    assert "任务箱" in client.get("/inbox/").get_data(as_text=True)


def test_an_answer_without_a_session_sets_no_cookie_but_varies_on_it(app: Flask) -> None:
    """No session cookie is made for nothing (``LazyCookieSessions``), and caches are still told
    that answers depend on the cookie (Flask marks the session read whenever anything looks at
    it, as the login manager does after every request); one is set as soon as the session holds
    something."""
    client = app.test_client()
    for path in ("/healthz", "/api/v1/cards/1", "/static/style.css"):
        answer = client.get(path)
        assert answer.headers.getlist("Set-Cookie") == [], path
        assert answer.headers["Vary"] == "Cookie", path
    # the API answers in both languages: its ?lang= switches nothing and keeps nothing
    assert client.get("/api/v1/cards/1?lang=en").headers.getlist("Set-Cookie") == []
    switched = client.get("/login?lang=en")
    assert any(c.startswith("session=") for c in switched.headers.getlist("Set-Cookie"))
    assert "Log in" in client.get("/login").get_data(as_text=True)


def test_login_does_not_follow_a_next_to_another_site(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/login?next=https://evil.example/", data={"username": "teller", "password": "secret-pw"}
    )
    assert response.location == "/inbox/"


def test_users_create_command_makes_an_account_that_can_log_in(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(
        main, ["users", "create", "li", "--group", "bank_teller", "--scope", "boc"]
    )
    assert result.exit_code == 0, result.output
    password = result.output.split("password (shown once): ")[1].strip()
    app = make_app(sqlite_url)
    staff = authenticate(engine_of(app).db, "li", password, None, NOW)
    assert (staff.group, staff.scope) == ("bank_teller", "boc")
    again = CliRunner().invoke(
        main, ["users", "create", "li", "--group", "bank_teller", "--scope", "boc"]
    )
    assert again.exit_code != 0 and "exists already" in again.output
