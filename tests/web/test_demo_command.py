"""``shebao demo`` and ``shebao clock``: the demo sets the service clock every process reads, pages
show the simulated service date, and ``clock reset`` returns to the system clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from engine.clock import DatabaseClock, OffsetClock, SimulatedClock
from web.app import create_app
from web.cli.main import main
from web.extensions import engine_of
from web.sessions import security_now

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ACCOUNT = re.compile(r"^\s+(\S+)\s+(\S+)\s+(\S+)\s+scope=(\S+)$", re.MULTILINE)
_TASK_ROW = re.compile(r'data-task-id="(\d+)"')
_TOTP_SECRET = re.compile(r"secret: ([A-Z2-7]+)$", re.MULTILINE)
BANNER_ZH = "业务日期 2022-02-15（模拟时钟）"
BANNER_EN = "Service date 2022-02-15 (simulated clock)"


def _app(url: str) -> Flask:
    return create_app({"SHEBAO_DATABASE_URL": url, "TESTING": True})


def _cli(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result


def _login(app: Flask, username: str, password: str, totp: str | None = None) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = _CSRF.search(page)
    assert token, "the login page has no CSRF token"
    answer = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    if totp is not None:  # the second step: the code at the security clock's (real) time
        assert answer.location == "/login/code", answer.get_data(as_text=True)
        token = _CSRF.search(client.get("/login/code").get_data(as_text=True))
        assert token, "the code page has no CSRF token"
        code = pyotp.TOTP(totp).at(security_now(app))
        answer = client.post("/login/code", data={"code": code, "csrf_token": token.group(1)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def _supervisor(app: Flask, name: str) -> tuple[str, str]:
    """``shebao users create`` a supervisor and ``shebao users totp`` its second factor."""
    password = "supervisor-pw-2022"
    _cli(app, "users", "create", name, "--group", "supervisor", "--password", password)
    secret = _TOTP_SECRET.search(_cli(app, "users", "totp", name).output)
    assert secret
    return password, secret.group(1)


def test_demo_sets_the_service_date_pages_show_it_and_reset_removes_it(sqlite_url: str) -> None:
    app = _app(sqlite_url)
    seeded = _cli(app, "demo", "--at", "2022-02-15", "--people", "60", "--yes")
    assert "60 people" in seeded.output and "open tasks bank_teller" in seeded.output
    accounts = {
        name: (password, group, scope)
        for name, password, group, scope in _ACCOUNT.findall(seeded.output)
    }
    assert accounts["supervisor"][1] == "supervisor"
    assert {"ss_foshan", "mi_foshan", "ss_huian", "mi_huian"} <= set(accounts)
    tellers = [name for name, (_, group, _) in accounts.items() if group == "bank_teller"]
    assert tellers

    shown = _cli(app, "clock", "show").output
    assert "2022-02-15T10:0" in shown and "simulated" in shown
    # another process of the service (a second app on the same database) reads the same time
    other = engine_of(_app(sqlite_url)).clock
    assert isinstance(other, DatabaseClock)
    assert other.now().astimezone(UTC).date() == datetime(2022, 2, 15).date()

    secret = _TOTP_SECRET.search(seeded.output)
    assert secret, "the demo prints the supervisor's second factor"
    boss = _login(app, "supervisor", accounts["supervisor"][0], secret.group(1))
    page = boss.get("/inbox/").get_data(as_text=True)
    assert BANNER_ZH in page
    assert BANNER_EN in boss.get("/inbox/?lang=en").get_data(as_text=True)

    # a teller of a demo bank has tasks waiting at the demo date
    teller = _login(app, tellers[0], accounts[tellers[0]][0])
    assert _TASK_ROW.findall(teller.get("/inbox/").get_data(as_text=True))

    reset = _cli(app, "clock", "reset").output
    assert "system clock" in reset
    assert "system clock" in _cli(app, "clock", "show").output
    page = boss.get("/inbox/?lang=zh").get_data(as_text=True)
    assert "业务日期" not in page and "模拟时钟" not in page


def test_clock_set_takes_a_zone_and_users_create_then_log_in(sqlite_url: str) -> None:
    app = _app(sqlite_url)
    refused = app.test_cli_runner().invoke(main, ["clock", "set", "2022-02-15T10:00:00"])
    assert refused.exit_code != 0 and "time zone" in refused.output
    _cli(app, "clock", "set", "2021-12-31T23:59:00+08:00")
    assert "2021-12-31T23:59" in _cli(app, "clock", "show").output
    page = _login(app, "boss", *_supervisor(app, "boss")).get("/inbox/").get_data(as_text=True)
    assert "业务日期 2021-12-31（模拟时钟）" in page


def test_clock_set_back_warns_that_what_fired_stays_fired(sqlite_url: str) -> None:
    """Going back is allowed (a demo built again at an earlier date) but said: deadlines that
    fired stay fired, and the history written is later than the new time (QA: it was silent)."""
    app = _app(sqlite_url)
    forward = _cli(app, "clock", "set", "2035-01-01T00:00:00+08:00")
    assert "warning" not in forward.output
    back = _cli(app, "clock", "set", "2020-01-01T00:00:00+08:00")
    assert "service clock set to 2020-01-01T00:00:00+08:00" in back.output
    assert "往回拨了 5479 天（原为 2035-01-01T00:00" in back.output
    assert "warning: the service clock went back 5479 days" in back.output
    assert "deadlines that fired stay fired" in back.output


def test_an_injected_clock_is_kept_and_a_simulated_one_is_shown(sqlite_url: str) -> None:
    clock = SimulatedClock(datetime(2022, 10, 10, 2, 0, tzinfo=UTC))
    app = create_app({"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True}, clock=clock)
    assert engine_of(app).clock is clock
    page = _login(app, "boss", *_supervisor(app, "boss")).get("/inbox/").get_data(as_text=True)
    assert "业务日期 2022-10-10（模拟时钟）" in page


def test_the_database_clock_caches_its_offset_and_follows_other_processes(sqlite_url: str) -> None:
    db = engine_of(_app(sqlite_url)).db
    system = SimulatedClock(datetime(2026, 5, 1, 0, 0, tzinfo=UTC))
    here = DatabaseClock(db, cache_seconds=60, base=system)
    there = DatabaseClock(db, cache_seconds=0, base=system)
    assert here.now() == system.now() and not here.simulated
    there.set(datetime(2022, 2, 15, 2, 0, tzinfo=UTC))
    assert there.now() == datetime(2022, 2, 15, 2, 0, tzinfo=UTC)
    assert here.now() == system.now()  # read a minute ago: cached
    here.refresh()
    system.advance(timedelta(hours=1))  # simulated time runs at the system clock's speed
    assert here.now() == datetime(2022, 2, 15, 3, 0, tzinfo=UTC) and here.simulated
    there.reset()
    assert there.now() == system.now() and not there.simulated
    assert OffsetClock.reading(datetime(2022, 2, 15, tzinfo=UTC), base=system).now() == datetime(
        2022, 2, 15, tzinfo=UTC
    )
