"""Server-side staff sessions: logout revokes, idle and absolute timeouts on the engine's clock,
a password change ends the other sessions, a new id at every login, cookie flags, the sessions
page."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from staff_helpers import (
    PASSWORD,
    add_staff,
    clock_of,
    is_logged_in,
    log_in,
    make_app,
    post_form,
    post_password,
    sid_of,
    token,
)

from web.cli.main import main
from web.extensions import engine_of
from web.sessions import COOKIE, sessions


@pytest.fixture
def app(db_url: str) -> Flask:
    app = make_app(db_url)
    add_staff(app, "wang")
    return app


def session_rows(app: Flask) -> list[dict[str, object]]:
    with engine_of(app).db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(sessions).order_by(sessions.c.id))]


def test_after_logout_the_old_cookie_leads_to_the_login_page(app: Flask) -> None:
    client = log_in(app, "wang")
    old = sid_of(client)
    assert old and client.get("/inbox/").status_code == 200
    assert post_form(client, "/logout").location == "/login"
    assert sid_of(client) is None  # the browser is told to forget it
    replay = app.test_client()
    replay.set_cookie(COOKIE, old)
    answer = replay.get("/inbox/")
    assert answer.status_code == 302 and answer.location.startswith("/login")
    [row] = session_rows(app)
    assert row["revoked_at"] is not None


def test_the_cookie_holds_a_random_id_whose_hash_only_is_stored(app: Flask) -> None:
    sid = sid_of(log_in(app, "wang"))
    assert sid and len(sid) >= 40
    [row] = session_rows(app)
    assert row["sid_hash"] == hashlib.sha256(sid.encode()).hexdigest()
    assert sid not in str(row)


def test_an_idle_session_ends_after_30_minutes_and_is_touched_once_a_minute(app: Flask) -> None:
    clock = clock_of(app)
    client = log_in(app, "wang")
    [login] = session_rows(app)
    clock.advance(timedelta(seconds=30))
    assert is_logged_in(client)
    assert session_rows(app)[0]["last_seen_at"] == login["last_seen_at"]  # no write yet
    clock.advance(timedelta(minutes=29))
    assert is_logged_in(client)  # 29.5 minutes idle: still in, and now seen
    assert session_rows(app)[0]["last_seen_at"] == clock.now()
    clock.advance(timedelta(minutes=30, seconds=1))
    answer = client.get("/inbox/")
    assert answer.status_code == 302 and answer.location.startswith("/login")
    assert "超时" in client.get(answer.location).get_data(as_text=True)


def test_a_session_ends_12_hours_after_login_however_busy(app: Flask) -> None:
    clock = clock_of(app)
    client = log_in(app, "wang")
    for _ in range(28):  # a request every 25 minutes: never idle
        clock.advance(timedelta(minutes=25))
        assert is_logged_in(client)
    clock.advance(timedelta(minutes=25))  # 12 h 5 min after login
    assert not is_logged_in(client)


def test_pages_know_how_long_their_session_has_left_and_asking_is_no_activity(
    app: Flask,
) -> None:
    clock = clock_of(app)
    client = log_in(app, "wang")
    page = client.get("/inbox/").get_data(as_text=True)
    assert 'data-idle-left="1800"' in page and 'data-session-left="43200"' in page
    assert 'data-warn-before="120"' in page and "session.js" in page
    clock.advance(timedelta(minutes=20))
    status = client.get("/account/session")
    assert status.status_code == 200 and status.headers["Cache-Control"] == "no-store"
    assert status.json is not None
    assert (status.json["live"], status.json["idle_left"]) == (True, 600)
    assert status.json["session_left"] == 12 * 3600 - 20 * 60 and status.json["csrf_token"]
    clock.advance(timedelta(minutes=9))  # the script's questions did not keep it alive
    assert client.get("/account/session").json["idle_left"] == 60  # type: ignore[index]
    clock.advance(timedelta(minutes=1, seconds=1))
    dead = client.get("/account/session")
    assert (dead.status_code, dead.json) == (401, {"live": False})  # not a redirect to a page
    assert not is_logged_in(client)


def test_stay_signed_in_restarts_the_idle_time_but_not_the_end_and_needs_the_csrf_token(
    app: Flask,
) -> None:
    clock = clock_of(app)
    client = log_in(app, "wang")
    csrf = token(client, "/inbox/")
    clock.advance(timedelta(minutes=29))
    assert client.get("/account/session").json["idle_left"] == 60  # type: ignore[index]
    assert client.post("/account/session/keep-alive").status_code == 400  # no token
    kept = client.post("/account/session/keep-alive", headers={"X-CSRFToken": csrf})
    assert kept.status_code == 200 and kept.json is not None
    assert (kept.json["idle_left"], kept.json["session_left"]) == (1800, 12 * 3600 - 29 * 60)
    assert session_rows(app)[0]["last_seen_at"] == clock.now()
    clock.advance(timedelta(minutes=29))
    assert is_logged_in(client)
    clock.advance(timedelta(minutes=31))
    late = client.post("/account/session/keep-alive", headers={"X-CSRFToken": csrf})
    assert late.status_code == 401 and not is_logged_in(client)


def test_the_timeouts_come_from_the_configuration(db_url: str) -> None:
    app = make_app(db_url, SHEBAO_SESSION_IDLE_MINUTES="5", SHEBAO_SESSION_MAX_HOURS="1")
    add_staff(app, "wang")
    clock = clock_of(app)
    client = log_in(app, "wang")
    clock.advance(timedelta(minutes=4))
    assert is_logged_in(client)
    clock.advance(timedelta(minutes=6))
    assert not is_logged_in(client)
    client = log_in(app, "wang")
    for _ in range(14):
        clock.advance(timedelta(minutes=4))
        assert is_logged_in(client)
    clock.advance(timedelta(minutes=4))  # 60 minutes after login
    assert not is_logged_in(client)


def test_changing_the_password_ends_the_other_sessions(app: Flask) -> None:
    office, home = log_in(app, "wang"), log_in(app, "wang")
    before = sid_of(office)
    new = "river-stone-lantern-7"
    answer = post_form(
        office,
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "repeat_password": new},
    )
    assert answer.status_code == 302
    assert not is_logged_in(home)
    assert is_logged_in(office) and sid_of(office) != before  # this browser: a new session
    assert post_password(app.test_client(), "wang", PASSWORD).status_code == 401
    log_in(app, "wang", new)


def test_the_password_command_ends_every_session(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = log_in(app, "wang")
    runner = app.test_cli_runner()
    new = "lantern-river-stone-8"
    result = runner.invoke(main, ["users", "password", "wang", "--password", new])
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert not is_logged_in(client)
    log_in(app, "wang", new)


def test_every_login_gets_a_new_session_id(app: Flask) -> None:
    client = app.test_client()
    client.set_cookie(COOKIE, "chosen-by-an-attacker")  # fixation: a planted id
    log_in(app, "wang", client=client)
    first = sid_of(client)
    assert first and first != "chosen-by-an-attacker"
    log_in(app, "wang", client=client)
    second = sid_of(client)
    assert second and second != first
    stale = app.test_client()
    stale.set_cookie(COOKIE, first)
    assert not is_logged_in(stale)  # logging in again ended the session it replaced
    assert is_logged_in(client)


def _set_cookie_headers(answer: object) -> dict[str, str]:
    headers = answer.headers.getlist("Set-Cookie")  # type: ignore[attr-defined]
    return {h.split("=", 1)[0]: h for h in headers}


@pytest.mark.parametrize("tls", [False, True])
def test_cookie_flags(sqlite_url: str, tls: bool) -> None:
    """HttpOnly and SameSite=Lax always; Secure with SHEBAO_TLS=1 (then over HTTPS, where
    Flask-WTF wants the form's Referer: the Referrer-Policy sends it to this site)."""
    app = make_app(sqlite_url, SHEBAO_TLS="1" if tls else "0")
    add_staff(app, "wang")
    client = app.test_client()
    scheme = "https" if tls else "http"
    client.environ_base["wsgi.url_scheme"] = scheme
    page = client.get("/login")
    form = {"username": "wang", "password": PASSWORD, "csrf_token": token(client)}
    answer = client.post("/login", data=form, headers={"Referer": f"{scheme}://localhost/login"})
    assert answer.status_code == 302
    cookies = {**_set_cookie_headers(page), **_set_cookie_headers(answer)}
    for name in (COOKIE, "session"):
        header = cookies[name]
        assert "HttpOnly" in header and "SameSite=Lax" in header, header
        assert ("Secure" in header) is tls, header
    assert "Expires" not in cookies[COOKIE] and "Max-Age" not in cookies[COOKIE]
    assert not any("remember" in name for name in cookies)
    assert app.config["PREFERRED_URL_SCHEME"] == scheme
    assert client.get("/inbox/").status_code == 200


def test_the_sessions_page_lists_and_ends_sessions(app: Flask) -> None:
    clock = clock_of(app)
    laptop = log_in(app, "wang")
    clock.advance(timedelta(minutes=2))
    phone = log_in(app, "wang")
    third = log_in(app, "wang")
    page = phone.get("/account/sessions")
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    rows = session_rows(app)
    assert text.count("data-session-id=") == 3
    assert "当前会话" in text and "127.0.0.1" in text
    phone_hash = hashlib.sha256(str(sid_of(phone)).encode()).hexdigest()
    current = next(r for r in rows if r["sid_hash"] == phone_hash)
    assert f'data-session-id="{current["id"]}" class="current"' in text

    laptop_row = rows[0]
    ended = post_form(phone, f"/account/sessions/{laptop_row['id']}/end")
    assert ended.status_code == 302
    assert not is_logged_in(laptop) and is_logged_in(phone) and is_logged_in(third)
    # someone else's session, or one that is over, cannot be ended from here
    assert post_form(phone, f"/account/sessions/{laptop_row['id']}/end").status_code == 404

    assert post_form(phone, "/account/sessions/end-others").status_code == 302
    assert not is_logged_in(third) and is_logged_in(phone)


def test_ending_sessions_needs_the_csrf_token(app: Flask) -> None:
    client = log_in(app, "wang")
    assert client.post("/account/sessions/end-others").status_code == 400
    assert token(client, "/account/sessions")


def test_a_deactivated_account_loses_its_sessions(app: Flask) -> None:
    from sqlalchemy import update

    from web.auth import users

    client = log_in(app, "wang")
    with engine_of(app).db.begin() as conn:
        conn.execute(update(users).where(users.c.username == "wang").values(active=False))
    assert not is_logged_in(client)


def test_users_commands_need_an_app(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``shebao users password`` asks twice when no password is given, and refuses a weak one."""
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    app = make_app(sqlite_url)
    add_staff(app, "wang")
    runner = CliRunner()
    weak = runner.invoke(main, ["users", "password", "wang"], input="short\nshort\n")
    assert weak.exit_code != 0 and "at least 12" in weak.output
    strong = "lantern-stone-river-9"
    done = runner.invoke(main, ["users", "password", "wang"], input=f"{strong}\n{strong}\n")
    assert done.exit_code == 0, done.output
    log_in(app, "wang", strong)
