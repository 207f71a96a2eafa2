"""The journeys' harness: the service from an empty database, driven only through its doors.

A ``Journey`` holds one app on a simulated clock (the service's own clock: every rule reads it) and
offers the three doors a user has: the JSON API with bearer tokens, the ``shebao`` commands (Flask's
CLI runner on the same app), and the inbox pages with a real login and CSRF tokens. Tests never
call the engine or the domain in Python; they read results back through the same doors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from support import confirmation_of
from werkzeug.test import TestResponse

from engine.clock import SimulatedClock
from web.app import create_app
from web.cli.main import main

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TASK_ROW = re.compile(r'data-task-id="(\d+)"')


class Staff:
    """A staff member logged in to the pages (a browser session of their own); after a session
    timed out (the journey moved the clock on), they log in again, as a clerk does the next day."""

    def __init__(self, app: Flask, username: str, password: str) -> None:
        self.client: FlaskClient = app.test_client()
        self.username = username
        self.password = password
        self.log_in()

    def log_in(self) -> None:
        page = self.client.get("/login")
        answer = self.client.post(
            "/login",
            data={"username": self.username, "password": self.password, "csrf_token": _token(page)},
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)

    def get(self, path: str) -> TestResponse:
        answer = self.client.get(path)
        if answer.status_code == 302 and answer.location.startswith("/login"):
            self.log_in()
            answer = self.client.get(path)
        return answer

    def page(self, path: str) -> str:
        answer = self.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.get_data(as_text=True)

    def task_ids(self, query: str = "") -> list[int]:
        """The tasks the inbox lists for this user (first page)."""
        return [int(i) for i in _TASK_ROW.findall(self.page(f"/inbox/{query}"))]

    def post(self, path: str, data: dict[str, str] | None = None) -> TestResponse:
        form = dict(data or {})
        form["csrf_token"] = _token(self.get("/inbox/"))
        return self.client.post(path, data=form)

    def complete(self, task_id: int, outcome: str, **form: str) -> TestResponse:
        """Open the task's page and submit its form with ``outcome``, as a clerk clicks it; an
        outcome that ends the instance is asked back for confirmation, which the clerk gives (the
        form again, with ``confirmed``)."""
        page = self.get(f"/inbox/{task_id}")
        data = {**form, "outcome": outcome, "csrf_token": _token(page)}
        answer = self.client.post(f"/inbox/{task_id}/complete", data=data)
        if answer.status_code == 200 and 'id="confirm-panel"' in answer.get_data(as_text=True):
            page = answer.get_data(as_text=True)
            data = {**data, "confirmed": confirmation_of(page), "csrf_token": _token(answer)}
            answer = self.client.post(f"/inbox/{task_id}/complete", data=data)
        return answer


def _token(page: TestResponse) -> str:
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


class Journey:
    """The service, an empty database, a clock at ``start``, and the doors."""

    def __init__(self, database_url: str, start: datetime, tmp: Path) -> None:
        self.clock = SimulatedClock(start)
        self.app = create_app(
            {"SHEBAO_DATABASE_URL": database_url, "TESTING": True}, clock=self.clock
        )
        self.api_client = self.app.test_client()
        self.runner = self.app.test_cli_runner()
        self.tmp = tmp
        self.tokens: dict[str, str] = {}

    # -- time ------------------------------------------------------------------------------

    def at(self, moment: str) -> None:
        """Move the service clock (ISO 8601 with a zone; forwards in every journey)."""
        self.clock.set(datetime.fromisoformat(moment))

    def sweep(self) -> dict[str, Any]:
        """``shebao scheduler --once``: fire what is due now and run the periodic jobs."""
        import json

        result = self.cli("scheduler", "--once")
        return dict(json.loads(result.output.strip().splitlines()[-1]))

    # -- the command line ------------------------------------------------------------------

    def cli(self, *args: str, exit_code: int = 0) -> Result:
        result = self.runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == exit_code, (args, result.exit_code, result.output)
        return result

    def token(self, name: str, *scopes: str) -> str:
        """A token made with ``shebao tokens create`` (printed once)."""
        args = ["tokens", "create", name]
        for scope in scopes:
            args += ["--scope", scope]
        self.tokens[name] = self.cli(*args).output.strip().splitlines()[-1]
        return self.tokens[name]

    def staff(self, username: str, group: str, scope: str | None = None) -> Staff:
        """A staff account made with ``shebao users create``, logged in."""
        password = f"journey-pw-{username}"  # 12 characters at least
        args = ["users", "create", username, "--group", group, "--password", password]
        if scope:
            args += ["--scope", scope]
        self.cli(*args)
        return Staff(self.app, username, password)

    def file(self, name: str, text: str, encoding: str = "utf-8") -> str:
        path = self.tmp / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    # -- the API ---------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        token: str,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        expect: int | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens.get(token, token)}"}
        if key:
            headers["Idempotency-Key"] = key
        answer = self.api_client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert answer.status_code < 500, answer.get_data(as_text=True)
        if expect is not None:
            assert answer.status_code == expect, (path, answer.status_code, answer.get_json())
        return answer.get_json()

    def card_at_activation(
        self, id_number: str, *, channel: str, factory: str, bank: str, bank_code: str = "cmb"
    ) -> tuple[int, int]:
        """A card applied for at the counter (through ``channel``'s token), made by ``factory``
        and its holder told by ``bank``: the card's id and its activation task's."""
        applied = self.api(
            "POST",
            "/cards",
            channel,
            {
                "id_number": id_number,
                "channel": "counter",
                "bank": bank_code,
                "region_code": "440604",
            },
            expect=201,
        )
        card = int(applied["card"]["id"])
        self.api("POST", f"/cards/{card}/events", factory, {"event": "produce"}, expect=200)
        self.api("POST", f"/cards/{card}/events", bank, {"event": "notify_holder"}, expect=200)
        [task] = self.api("GET", "/tasks", bank, expect=200)["tasks"]
        return card, int(task["id"])

    def years(self, id_number: str, token: str = "counter") -> dict[str, dict[str, Any]]:
        """A person's years by policy, every list (缴费情况查询); a year closed on leaving gives
        way to the same policy's year opened after registering again."""
        found = self.api("POST", "/people/enrollments", token, {"id_number": id_number}, expect=200)
        lists = ("closed", "paid", "unpaid", "refunded")
        return {y["policy"]: y for name in lists for y in found.get(name, [])}

    def card(self, card_id: int, token: str = "counter") -> dict[str, Any]:
        return dict(self.api("GET", f"/cards/{card_id}", token, expect=200))

    def cards_of(self, id_number: str, token: str = "counter") -> list[dict[str, Any]]:
        """A person's cards, oldest first."""
        return list(
            self.api("POST", "/people/cards", token, {"id_number": id_number}, expect=200)["cards"]
        )


@pytest.fixture
def journey_factory(db_url: str, tmp_path: Path) -> Iterator[Any]:
    made: list[Journey] = []

    def make(start: str) -> Journey:
        journey = Journey(db_url, datetime.fromisoformat(start), tmp_path)
        made.append(journey)
        return journey

    yield make
    from web.extensions import engine_of

    for journey in made:
        engine_of(journey.app).db.dispose()
