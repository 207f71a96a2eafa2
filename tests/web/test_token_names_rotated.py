"""A bank's token is rotated under its name (QA): after ``shebao tokens revoke qa-bank``,
``tokens create qa-bank`` makes a new one, refused only while a live token has that name; a token
that expired unrevoked gives its name up too (revoked then, an event says why). The old rows stay:
``tokens list`` shows each with its prefix and status, the admin API revokes the live one, and the
security events name the prefix of the token they are about."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from engine.clock import SimulatedClock
from tests.web.definition_files import definition_service
from web.api import tokens as api_tokens
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main
from web.security_log import recent

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The real time as the token code reads it, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = NOW
        monkeypatch.setattr(api_tokens, "utcnow", lambda: self.now)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = definition_service(db_url, None, SimulatedClock(NOW))
    yield app
    engine_of(app).db.dispose()


def cli(app: Flask, *args: str, exit_code: int = 0) -> Result:
    result = app.test_cli_runner().invoke(main, ["tokens", *args])
    assert result.exit_code == exit_code, result.output
    return result


def made(app: Flask, name: str, *extra: str) -> str:
    """``tokens create NAME --scope bank:icbc``: the token (its last line)."""
    return cli(app, "create", name, "--scope", "bank:icbc", *extra).output.strip().splitlines()[-1]


def status(app: Flask, token: str) -> int:
    answer = app.test_client().get(
        "/api/v1/processes/card/counts", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


def listed(app: Flask, name: str) -> list[list[str]]:
    lines = cli(app, "list").output.strip().splitlines()[1:]
    return [line.split() for line in lines if line.split()[0] == name]


def events(app: Flask, kind: str) -> list[dict[str, Any]]:
    return [dict(e["detail"] or {}) for e in reversed(recent(engine_of(app).db, 50, kind))]


def test_a_revoked_tokens_name_is_given_to_a_new_token(app: Flask) -> None:
    old = made(app, "qa-bank")
    refused = cli(app, "create", "qa-bank", "--scope", "bank:icbc", exit_code=1)
    assert "a token named 'qa-bank' exists already" in refused.output
    assert "shebao tokens revoke qa-bank" in refused.output
    cli(app, "revoke", "qa-bank")
    new = made(app, "qa-bank")
    assert new != old
    assert (status(app, old), status(app, new)) == (401, 200)
    rows = listed(app, "qa-bank")
    assert [(row[1], row[3]) for row in rows] == [(old[3:11], "revoked"), (new[3:11], "valid")]
    assert new not in str(rows) and old not in str(rows)
    refused = cli(app, "create", "qa-bank", "--scope", "read", exit_code=1)
    assert "exists already" in refused.output

    admin = create_token(engine_of(app).db, "ops", ["admin"])
    answer = app.test_client().post(
        "/api/v1/admin/tokens/qa-bank/revoke", headers={"Authorization": f"Bearer {admin}"}
    )
    assert answer.status_code == 200, answer.get_json()
    assert (answer.get_json()["prefix"], answer.get_json()["status"]) == (new[3:11], "revoked")
    assert status(app, new) == 401
    revoked = [e for e in events(app, "token_revoked") if e["token"] == "qa-bank"]
    assert [e["prefix"] for e in revoked] == [old[3:11], new[3:11]]
    created = [e["prefix"] for e in events(app, "token_created") if e["token"] == "qa-bank"]
    assert created == [old[3:11], new[3:11]]
    refusals = [e for e in events(app, "token_refused") if e.get("token") == "qa-bank"]
    assert refusals and refusals[0]["prefix"] == old[3:11]


def test_an_expired_tokens_name_is_given_to_a_new_token(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    old = made(app, "qa-bank", "--expires-in-days", "1")
    clock.now += timedelta(days=2)
    new = made(app, "qa-bank")
    assert (status(app, old), status(app, new)) == (401, 200)
    rows = listed(app, "qa-bank")
    assert [(row[1], row[3]) for row in rows] == [(old[3:11], "revoked"), (new[3:11], "valid")]
    [revoked] = events(app, "token_revoked")
    assert revoked == {"token": "qa-bank", "prefix": old[3:11], "reason": "name_reused"}
