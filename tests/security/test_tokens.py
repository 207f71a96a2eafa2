"""API tokens: made with an expiry and a prefix, listed, revoked (CLI and admin API), refused at
once when expired or revoked, last use noted at most once a minute, each step a security event
that never holds the token itself."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select
from support import MakeApp

from engine.clock import SimulatedClock
from web.api import tokens as api_tokens
from web.api.tokens import SCOPE, create_token, tokens
from web.app import engine_of
from web.cli.main import main
from web.security_log import recent
from workflows.identity import make_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
PERSON = make_id_number("350521", date(1980, 3, 3), 15)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), csrf=True)


class Clock:
    """The real time as the token code reads it, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        monkeypatch.setattr(api_tokens, "utcnow", lambda: self.now)

    def forward(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def cli(app: Flask, *args: str, exit_code: int = 0) -> Result:
    result = app.test_cli_runner().invoke(main, list(args))
    assert result.exit_code == exit_code, result.output
    return result


def use(app: Flask, token: str, path: str = "/processes/card/counts", **kwargs: Any) -> Any:
    return app.test_client().open(
        f"/api/v1{path}",
        method=kwargs.pop("method", "GET"),
        headers={"Authorization": f"Bearer {token}"},
        **kwargs,
    )


def row(app: Flask, name: str) -> Any:
    with engine_of(app).db.connect() as conn:
        return conn.execute(select(tokens).where(tokens.c.name == name)).one()


def test_a_token_is_made_with_a_prefix_and_an_expiry_and_printed_once(
    app: Flask, clock: Clock
) -> None:
    made = cli(app, "tokens", "create", "counter-1", "--scope", "channel", "--scope", "read")
    *said, token = made.output.strip().splitlines()
    assert token.startswith("sb_") and len(token) == 46
    assert "prefix " + token[3:11] in said[0] and "expires 2027-12-01" in said[0]
    stored = row(app, "counter-1")
    assert stored.prefix == token[3:11]
    assert stored.expires_at == clock.now + timedelta(days=365)
    assert stored.token_hash != token and token not in json.dumps(stored._asdict(), default=str)
    assert sorted(stored.scopes) == ["channel", "read"]
    assert use(app, token).status_code == 200

    cli(app, "tokens", "create", "factory-1", "--scope", "factory", "--expires-in-days", "7")
    assert row(app, "factory-1").expires_at == clock.now + timedelta(days=7)
    for bad in (["--expires-in-days", "0"], ["--expires-in-days", "3651"], ["--scope", "root"]):
        args = ["tokens", "create", "x-1", "--scope", "read", *bad]
        assert cli(app, *args, exit_code=2).output
    assert (
        "exists already"
        in cli(app, "tokens", "create", "counter-1", "--scope", "read", exit_code=1).output
    )
    assert cli(app, "tokens", "create", "bad name\n", "--scope", "read", exit_code=2).output


def test_tokens_are_listed_without_the_token(app: Flask, clock: Clock) -> None:
    first = create_token(engine_of(app).db, "bank-icbc", ["bank:icbc"])
    create_token(engine_of(app).db, "old", ["read"], expires_in_days=1)
    create_token(engine_of(app).db, "gone", ["tax"])
    cli(app, "tokens", "revoke", "gone")
    use(app, first)
    clock.forward(days=2)
    listed = cli(app, "tokens", "list").output
    lines = listed.strip().splitlines()
    assert lines[0].split() == [
        "name",
        "prefix",
        "scopes",
        "status",
        "created",
        "expires",
        "last",
        "used",
        "revoked",
    ]
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == {"bank-icbc", "old", "gone"}
    assert first[3:11] in by_name["bank-icbc"] and "bank:icbc" in by_name["bank-icbc"]
    assert " valid " in by_name["bank-icbc"] and "2026-12-01 17:00 +08:00" in by_name["bank-icbc"]
    assert " expired " in by_name["old"] and " revoked " in by_name["gone"]
    assert first not in listed and first[3:20] not in listed


def test_a_revoked_token_is_refused_at_once(app: Flask, clock: Clock) -> None:
    token = create_token(engine_of(app).db, "app", ["channel"])
    assert use(app, token).status_code == 200
    assert "revoked" in cli(app, "tokens", "revoke", "app").output
    refused = use(app, token)
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "unauthenticated"
    assert "revoked" in refused.get_json()["message_en"]
    assert "no token named" in cli(app, "tokens", "revoke", "nobody", exit_code=1).output


def test_an_expired_token_is_refused_at_once(app: Flask, clock: Clock) -> None:
    token = create_token(engine_of(app).db, "app", ["channel"], expires_in_days=1)
    clock.forward(hours=23, minutes=59)
    assert use(app, token).status_code == 200
    clock.forward(minutes=1)
    refused = use(app, token)
    assert refused.status_code == 401 and "expired" in refused.get_json()["message_en"]


def test_last_use_is_noted_at_most_once_a_minute(app: Flask, clock: Clock) -> None:
    token = create_token(engine_of(app).db, "app", ["channel"])
    assert row(app, "app").last_used_at is None
    start = clock.now
    use(app, token)
    assert row(app, "app").last_used_at == start
    clock.forward(seconds=59)
    use(app, token)
    assert row(app, "app").last_used_at == start
    clock.forward(seconds=1)
    use(app, token)
    assert row(app, "app").last_used_at == start + timedelta(minutes=1)
    use(app, "sb_unknown")  # a refused token notes nothing
    assert row(app, "app").last_used_at == start + timedelta(minutes=1)


def test_the_admin_api_lists_and_revokes_tokens(app: Flask, clock: Clock) -> None:
    db = engine_of(app).db
    admin = create_token(db, "ops", ["admin"])
    counter = create_token(db, "counter", ["channel"])
    use(app, counter)
    listed = use(app, admin, "/admin/tokens")
    assert listed.status_code == 200
    by_name = {t["name"]: t for t in listed.get_json()["tokens"]}
    assert set(by_name) == {"ops", "counter"}
    assert by_name["counter"] == {
        "name": "counter",
        "prefix": counter[3:11],
        "scopes": ["channel"],
        "status": "valid",
        "created_at": "2026-12-01T09:00:00Z",
        "expires_at": "2027-12-01T09:00:00Z",
        "last_used_at": "2026-12-01T09:00:00Z",
        "revoked_at": None,
    }
    assert counter not in listed.get_data(as_text=True)

    clock.forward(minutes=5)
    revoked = use(app, admin, "/admin/tokens/counter/revoke", method="POST")
    assert revoked.status_code == 200
    assert revoked.get_json()["status"] == "revoked"
    assert revoked.get_json()["revoked_at"] == "2026-12-01T09:05:00Z"
    assert use(app, counter).status_code == 401
    clock.forward(minutes=5)
    again = use(app, admin, "/admin/tokens/counter/revoke", method="POST")
    assert again.status_code == 200 and again.get_json()["revoked_at"] == "2026-12-01T09:05:00Z"
    missing = use(app, admin, "/admin/tokens/nobody/revoke", method="POST")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"

    # only the admin scope; and the admin scope opens nothing else
    reader = create_token(db, "board", ["read"])
    assert use(app, reader, "/admin/tokens").status_code == 403
    assert use(app, reader, "/admin/tokens/ops/revoke", method="POST").status_code == 403
    assert row(app, "ops").revoked_at is None
    assert use(app, admin, "/processes/card/counts").status_code == 403
    assert (
        use(app, admin, "/people/cards", method="POST", json={"id_number": PERSON}).status_code
        == 403
    )


def test_the_admin_scope_is_a_scope_like_the_others() -> None:
    assert SCOPE.match("admin") and not SCOPE.match("admin:x") and not SCOPE.match("superuser")
    assert "admin" in (api_tokens.__doc__ or "") and "admin" in api_tokens.SCOPES_TEXT


def test_the_token_lifecycle_is_in_the_security_log_without_the_token(
    app: Flask, clock: Clock
) -> None:
    db = engine_of(app).db
    made = cli(app, "tokens", "create", "app", "--scope", "channel").output.strip().splitlines()
    token = made[-1]
    admin = create_token(db, "ops", ["admin"], actor="test")
    importer = create_token(db, "importer", ["import"])
    use(app, "sb_" + "z" * 43)  # unknown
    use(app, token, "/tasks")  # 403: the channel has no tasks
    answer = use(
        app,
        importer,
        "/imports/people",
        method="POST",
        json={"rows": [{"id_number": PERSON, "name": "张三", "region": "huian"}]},
    )
    assert answer.status_code == 200, answer.get_json()
    use(app, admin, "/admin/tokens/app/revoke", method="POST")
    use(app, token)  # revoked
    short = cli(app, "tokens", "create", "short", "--scope", "read", "--expires-in-days", "1")
    short_token = short.output.strip().splitlines()[-1]
    short_hash = row(app, "short").token_hash
    clock.forward(days=2)
    use(app, short_token)  # expired

    events = list(reversed(recent(db, kind=None)))
    kinds = [(e["kind"], e["actor"]) for e in events]
    assert ("token_created", "cli") in kinds and ("token_created", "test") in kinds
    assert ("token_refused", None) in kinds
    assert ("permission_denied", "api:app") in kinds
    assert ("import", "api:importer") in kinds
    assert ("token_revoked", "api:ops") in kinds
    assert ("token_refused", "app") in kinds
    created = next(e for e in events if e["kind"] == "token_created" and e["actor"] == "cli")
    assert created["detail"]["token"] == "app" and created["detail"]["prefix"] == token[3:11]
    assert created["detail"]["scopes"] == ["channel"]
    reasons = [e["detail"]["reason"] for e in events if e["kind"] == "token_refused"]
    assert reasons == ["unknown", "revoked", "expired"]
    imported = next(e for e in events if e["kind"] == "import")
    assert imported["detail"] == {
        "what": "people",
        "rows": 1,
        "applied": 1,
        "unchanged": 0,
        "rejected": 0,
        "reviews_opened": 0,
    }
    denied = next(e for e in events if e["kind"] == "permission_denied")
    assert denied["detail"]["endpoint"] == "/api/v1/tasks" and denied["detail"]["method"] == "GET"
    everything = json.dumps(events, default=str, ensure_ascii=False)
    for secret in (token, admin, importer, short_token, token[3:20], PERSON, "张三", short_hash):
        assert secret not in everything
