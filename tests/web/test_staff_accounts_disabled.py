"""Staff accounts as the operator manages them (QA): ``shebao users list`` shows who has an
account, in which group and scope, with a second factor or not, disabled or not, and when they
last logged in (never a password hash or a secret); ``shebao users disable NAME`` ends the
account's sessions at once and refuses its logins with the answer a wrong password gets;
``users enable NAME`` gives it back. Each is a security event, shown in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from staff_login import client_for

from engine.clock import SimulatedClock
from tests.web.definition_files import definition_service
from web.app import engine_of
from web.auth import create_user, users
from web.cli.main import main
from web.mfa import enroll
from web.security_log import recent
from web.sessions import sessions

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="[^"]*"')
PASSWORD = "pw"  # what ``staff_login.client_for`` types


def service(db_url: str) -> Flask:
    app = definition_service(db_url, None, SimulatedClock(NOW), WTF_CSRF_ENABLED=False)
    db = engine_of(app).db
    create_user(db, "teller", PASSWORD, "bank_teller", "icbc", display_name="王小明")
    create_user(db, "boss", PASSWORD, "supervisor")
    enroll(db, "boss")
    return app


def cli(app: Flask, *args: str, exit_code: int = 0) -> Result:
    result = app.test_cli_runner().invoke(main, ["users", *args])
    assert result.exit_code == exit_code, result.output
    return result


def log_in(app: Flask, password: str = PASSWORD) -> tuple[FlaskClient, int, str]:
    """A new client's login as the teller: the client, the status and the page (its one-time
    CSRF token left out)."""
    client = app.test_client()
    answer = client.post("/login", data={"username": "teller", "password": password})
    return client, answer.status_code, CSRF.sub("", answer.get_data(as_text=True))


def test_users_list_shows_every_account_without_its_secrets(db_url: str) -> None:
    app = service(db_url)
    before = cli(app, "list").output.splitlines()
    assert before[0].split() == "username name group scope 2fa disabled last login".split()
    rows = {line.split()[0]: line.split() for line in before[1:]}
    assert rows["boss"] == ["boss", "boss", "supervisor", "*", "yes", "no", "-"]
    assert rows["teller"] == ["teller", "王小明", "bank_teller", "icbc", "no", "no", "-"]
    log_in(app)
    after = cli(app, "list").output
    assert "2024-03-01 10:00 +08:00" in next(
        x for x in after.splitlines() if x.startswith("teller")
    )
    with engine_of(app).db.connect() as conn:
        hashes = conn.execute(select(users.c.password_hash, users.c.totp_secret)).all()
    for password_hash, secret in hashes:
        assert password_hash not in after and (secret is None or secret not in after)
    engine_of(app).db.dispose()


def test_a_disabled_account_is_logged_out_at_once_and_refused_as_a_wrong_password(
    db_url: str,
) -> None:
    app = service(db_url)
    db = engine_of(app).db
    client, status, _ = log_in(app)
    assert status == 302 and client.get("/inbox/").status_code == 200
    _, wrong_status, wrong_page = log_in(app, "not-the-password")

    done = cli(app, "disable", "teller")
    assert "teller disabled" in done.output and "1 session(s) ended" in done.output
    assert client.get("/inbox/").status_code == 302  # the session it had ends at once
    with db.connect() as conn:
        assert conn.execute(select(sessions.c.revoked_at)).scalars().all() == [NOW]
    _, status, page = log_in(app)
    assert (status, page) == (wrong_status, wrong_page)  # it tells nothing more
    listed = next(x for x in cli(app, "list").output.splitlines() if x.startswith("teller"))
    assert "DISABLED" in listed
    assert "disabled already" in cli(app, "disable", "teller").output
    assert "no user named 'nobody'" in cli(app, "disable", "nobody", exit_code=1).output

    kinds = [(e["kind"], (e["detail"] or {}).get("reason")) for e in recent(db, 20)]
    assert ("account_disabled", None) in kinds
    assert ("session_revoked", "account_disabled") in kinds
    assert ("login_failed", "account_disabled") in kinds
    assert len([k for k, _ in kinds if k == "account_disabled"]) == 1  # not again when disabled

    assert "teller enabled" in cli(app, "enable", "teller").output
    assert log_in(app)[1] == 302  # the same password as before
    assert recent(db, 5, "account_enabled")
    db.dispose()


def test_account_events_are_shown_in_words(db_url: str) -> None:
    app = service(db_url)
    cli(app, "disable", "teller")
    boss = client_for(app, "boss")
    zh = boss.get("/security/events?lang=zh").get_data(as_text=True)
    en = boss.get("/security/events?lang=en").get_data(as_text=True)
    assert "停用工作人员账号" in zh and "Staff account disabled" in en
    engine_of(app).db.dispose()
