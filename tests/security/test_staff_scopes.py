"""Deny by default: tellers and clerks need a scope; no scope means nothing, never everything."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import insert
from staff_helpers import PASSWORD, add_staff, card_task, log_in, make_app, post_password
from werkzeug.security import generate_password_hash

from web.auth import Staff, can_act_on_task, can_read_task, create_user, in_scope, users
from web.cli.main import main
from web.extensions import engine_of

CLERKS = ["bank_teller", "social_security_clerk", "medical_insurance_clerk"]


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    return make_app(sqlite_url)


def cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("group", CLERKS)
def test_a_clerk_or_teller_without_a_scope_is_refused(app: Flask, group: str) -> None:
    code, output = cli(app, "users", "create", "li", "--group", group)
    assert code != 0 and "needs a scope" in output and "--scope" in output
    with pytest.raises(ValueError, match="needs a scope"):
        create_user(engine_of(app).db, "li", PASSWORD, group)


def test_scopes_must_be_known_and_supervisors_have_none(app: Flask) -> None:
    code, output = cli(app, "users", "create", "li", "--group", "bank_teller", "--scope", "xyz")
    assert code != 0 and "unknown bank" in output
    code, output = cli(
        app, "users", "create", "li", "--group", "medical_insurance_clerk", "--scope", "icbc"
    )
    assert code != 0 and "unknown region" in output
    code, output = cli(app, "users", "create", "li", "--group", "supervisor", "--scope", "foshan")
    assert code != 0 and "no scope" in output
    code, output = cli(app, "users", "create", "li", "--group", "supervisor")
    assert code == 0 and "users totp li" in output
    code, output = cli(
        app, "users", "create", "su", "--group", "social_security_clerk", "--scope", "foshan"
    )
    assert code == 0, output


def test_no_scope_reads_no_task() -> None:
    task = {"candidate_group": "bank_teller", "scope": "icbc"}
    unscoped = Staff(1, "li", "li", "bank_teller", None)
    assert not in_scope(unscoped, task)
    assert not can_read_task(unscoped, task) and not can_act_on_task(unscoped, task)
    assert not in_scope(unscoped, {"candidate_group": "bank_teller", "scope": None})
    boss = Staff(2, "boss", "boss", "supervisor", None, has_totp=True)
    assert can_read_task(boss, task) and not can_act_on_task(boss, task)


def test_an_old_account_without_a_scope_cannot_log_in_until_given_one(app: Flask) -> None:
    """Accounts made before scopes were required: refused with a message naming the command."""
    task = card_task(app)
    with engine_of(app).db.begin() as conn:
        conn.execute(
            insert(users).values(
                username="old",
                display_name="old",
                password_hash=generate_password_hash(PASSWORD),
                group="bank_teller",
                scope=None,
                active=True,
            )
        )
    answer = post_password(app.test_client(), "old")
    assert answer.status_code == 403
    assert "shebao users scope" in answer.get_data(as_text=True)
    code, output = cli(app, "users", "scope", "old", "icbc")
    assert code == 0, output
    client = log_in(app, "old")
    assert f'data-task-id="{task}"' in client.get("/inbox/").get_data(as_text=True)


def test_a_teller_of_another_bank_sees_nothing_of_this_one(app: Flask) -> None:
    task = card_task(app, "icbc")
    add_staff(app, "chen", scope="boc")
    client = log_in(app, "chen")
    assert f'data-task-id="{task}"' not in client.get("/inbox/").get_data(as_text=True)
    assert client.get(f"/inbox/{task}").status_code == 404  # as for an unknown task
