"""The security event log of the staff side: logins, failures, lockouts, logouts, denials, session
ends, password and second-factor changes; never an ID number; a supervisors' page, newest first."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask
from staff_helpers import (
    PERSON,
    add_staff,
    card_task,
    log_in,
    make_app,
    post_code,
    post_form,
    post_password,
)

from web.extensions import engine_of
from web.login_throttle import MAX_PER_ACCOUNT
from web.security_log import recent


@pytest.fixture
def app(db_url: str) -> Flask:
    app = make_app(db_url)
    add_staff(app, "wang")
    add_staff(app, "chen", scope="boc")
    add_staff(app, "boss", "supervisor")
    return app


def events(app: Flask, kind: str | None = None) -> list[dict[str, object]]:
    return [dict(e) for e in recent(engine_of(app).db, 500, kind)]


def test_logins_failures_lockouts_and_logouts_are_recorded(app: Flask) -> None:
    client = log_in(app, "wang")
    [ok] = events(app, "login_succeeded")
    assert ok["actor"] == "wang" and ok["remote_addr"] == "127.0.0.1"
    assert ok["detail"]["mfa"] is False  # type: ignore[index]
    post_form(client, "/logout")
    [out] = events(app, "logout")
    assert out["actor"] == "wang"

    other = app.test_client()
    for _ in range(MAX_PER_ACCOUNT):
        assert post_password(other, "chen", "guess-guess-guess").status_code == 401
    assert post_password(other, "chen").status_code == 429
    failed = events(app, "login_failed")
    assert len(failed) == MAX_PER_ACCOUNT and all(e["actor"] == "chen" for e in failed)
    assert failed[0]["detail"]["reason"] == "bad_credentials"  # type: ignore[index]
    [locked] = events(app, "login_locked_out")
    assert locked["actor"] == "chen" and locked["detail"]["by"] == "account"  # type: ignore[index]


def test_a_second_factor_login_and_a_wrong_code_are_recorded(app: Flask) -> None:
    client = app.test_client()
    post_password(client, "boss")
    assert post_code(client, "000000").status_code == 401
    [failed] = events(app, "totp_failed")
    assert failed["actor"] == "boss"
    log_in(app, "boss")
    [ok] = events(app, "login_succeeded")
    assert ok["actor"] == "boss" and ok["detail"]["mfa"] is True  # type: ignore[index]


def test_a_denied_page_is_recorded(app: Flask) -> None:
    task = card_task(app, "icbc")
    chen = log_in(app, "chen")
    assert chen.get(f"/inbox/{task}").status_code == 404  # hidden, but recorded
    assert chen.get("/processes/").status_code == 403
    assert chen.get("/security/events").status_code == 403
    denied = events(app, "permission_denied")
    assert [e["detail"]["path"] for e in denied] == [  # type: ignore[index]
        "/security/events",
        "/processes/",
        f"/inbox/{task}",
    ]
    assert all(e["actor"] == "chen" for e in denied)


def test_session_ends_password_and_second_factor_changes_are_recorded(app: Flask) -> None:
    first, second = log_in(app, "wang"), log_in(app, "wang")
    assert post_form(second, "/account/sessions/end-others").status_code == 302
    [revoked] = events(app, "session_revoked")
    assert revoked["actor"] == "wang"
    runner = app.test_cli_runner()
    from web.cli.main import main

    runner.invoke(main, ["users", "password", "wang", "--password", "stone-river-lantern-3"])
    [changed] = events(app, "password_changed")
    assert changed["detail"]["user"] == "wang"  # type: ignore[index]
    runner.invoke(main, ["users", "totp", "wang"])
    [enrolled] = events(app, "totp_enrolled")
    assert enrolled["detail"]["user"] == "wang"  # type: ignore[index]
    del first


def test_an_id_number_typed_as_username_is_not_logged(app: Flask) -> None:
    post_password(app.test_client(), PERSON, "guess-guess-guess")
    [failed] = events(app, "login_failed")
    assert PERSON not in str(failed) and failed["actor"] == "110105********002X"
    with engine_of(app).db.connect() as conn:
        from sqlalchemy import select

        from web.login_throttle import attempts

        assert PERSON not in str(list(conn.execute(select(attempts))))


def test_a_typed_username_cannot_forge_a_line_of_the_log(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """QA: a username with a line break wrote a second, forged security event into the log."""
    forged = "evil\r\x1b[31m\u2028\u2029\nINFO:shebao.security:security_event kind=login_succeeded"
    with caplog.at_level(logging.INFO, logger="shebao.security"):
        post_password(app.test_client(), forged, "guess-guess-guess")
    [line] = [r.getMessage() for r in caplog.records if r.name == "shebao.security"]
    assert line.count("security_event") == 2  # its own, and the quoted words in the username
    start = 'security_event kind=login_failed actor="evil\\r\\u001b[31m\\u2028\\u2029\\nINFO:'
    assert line.startswith(start), line
    assert all(c.isprintable() for c in line), line
    logged = json.loads(line.split("actor=", 1)[1].split(" remote_addr=")[0])
    [failed] = events(app, "login_failed")
    assert logged == failed["actor"] and forged.startswith(logged)  # as typed (cut short)


def test_a_denied_pages_endpoint_is_shown_in_words(app: Flask) -> None:
    task = card_task(app, "icbc")
    chen = log_in(app, "chen")
    assert chen.get(f"/inbox/{task}").status_code == 404
    assert chen.get("/processes/").status_code == 403
    boss = log_in(app, "boss")
    zh = boss.get("/security/events?kind=permission_denied&lang=zh").get_data(as_text=True)
    assert "接口：流程监控页面" in zh and "接口：任务箱" in zh and "收件箱" not in zh
    en = boss.get("/security/events?kind=permission_denied&lang=en").get_data(as_text=True)
    assert "Endpoint: Process pages" in en and "Endpoint: Task inbox" in en
    for raw in ("processes.index", "inbox.detail"):
        assert raw not in zh and raw not in en, raw


def test_supervisors_read_the_latest_events_first(app: Flask) -> None:
    post_password(app.test_client(), "nobody", "guess-guess-guess")
    boss = log_in(app, "boss")
    page = boss.get("/security/events")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert text.index('data-kind="login_succeeded"') < text.index('data-kind="login_failed"')
    assert "nobody" in text
    only = boss.get("/security/events?kind=login_failed").get_data(as_text=True)
    assert 'data-kind="login_succeeded"' not in only and 'data-kind="login_failed"' in only


def test_event_details_are_shown_by_their_labels_in_both_languages(app: Flask) -> None:
    for _ in range(MAX_PER_ACCOUNT):
        post_password(app.test_client(), "chen", "guess-guess-guess")
    post_password(app.test_client(), "chen")  # locked out
    boss = log_in(app, "boss")
    zh = boss.get("/security/events?kind=login_failed&lang=zh").get_data(as_text=True)
    assert "原因：用户名或密码错误" in zh and "用户存在：是" in zh
    en = boss.get("/security/events?kind=login_locked_out&lang=en").get_data(as_text=True)
    assert "Locked by: Too many failures for the account" in en and "Login step: Password" in en
    assert 'Retry after (seconds): <span class="mono" translate="no">' in en  # a number: data
    every = boss.get("/security/events?lang=en").get_data(as_text=True)
    assert "Reason: Wrong user name or password" in every and "Second factor: Yes" in every
    for raw in ("bad_credentials", "known_user", "retry_after", "mfa=", "reason="):
        assert raw not in zh and raw not in every, raw


def test_command_line_imports_are_recorded_without_personal_data(
    app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """QA 7: ``shebao import people`` and ``shebao import deductions`` wrote no security event
    (``POST /imports/people`` does): each now writes one log line and one row, by the command's
    actor, with the counts and no ID number; a dry run is recorded as one."""
    from web.cli.main import main

    people = tmp_path / "people.csv"
    people.write_text(f"id_number,name,region\n{PERSON},陈明,foshan\n", encoding="utf-8")
    deductions = tmp_path / "deductions.csv"
    deductions.write_text(
        f"id_number,policy_year,amount,result,reason\n{PERSON},2022,320.00,成功,\n",
        encoding="utf-8",
    )
    runner = app.test_cli_runner()
    with caplog.at_level(logging.INFO, logger="shebao.security"):
        done = runner.invoke(main, ["import", "people", str(people)])
        assert done.exit_code == 0, done.output
        rehearsed = runner.invoke(main, ["import", "people", str(people), "--dry-run"])
        assert rehearsed.exit_code == 0, rehearsed.output
        args = ["import", "deductions", str(deductions), "--policy", "foshan-2022"]
        refused = runner.invoke(main, args)
        assert refused.exit_code == 1, refused.output  # no foshan-2022 year (it is 2024)
    lines = [r.getMessage() for r in caplog.records if r.name == "shebao.security"]
    assert len(lines) == 3 and all("kind=import" in line for line in lines), lines
    assert all(PERSON not in line and "陈明" not in line for line in lines), lines
    taxed, dry, imported = events(app, "import")
    assert (imported["actor"], dry["actor"], taxed["actor"]) == (
        "import",
        "import",
        "tax-authority",
    )
    assert imported["detail"] == {
        "what": "people",
        "rows": 1,
        "applied": 1,
        "unchanged": 0,
        "rejected": 0,
        "reviews_opened": 0,
    }
    rehearsal = dict(dry["detail"])  # type: ignore[call-overload]
    assert rehearsal["dry_run"] is True and rehearsal["unchanged"] == 1
    assert taxed["detail"] == {
        "what": "deductions",
        "policy": "foshan-2022",
        "rows": 1,
        "applied": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert PERSON not in str(events(app))
    page = log_in(app, "boss").get("/security/events?kind=import&lang=en").get_data(as_text=True)
    assert "Imported: Deduction results" in page and "Policy year: " in page
    assert "Dry run (nothing written): Yes" in page and PERSON not in page
