"""A refusal's ``allowed``: only the events this token could send the record now, their guards
judged on the record without firing anything (``engine.guards_ahead``). On SQLite and PostgreSQL.

Hui'an's policy years have no duplicate-payment refund (huian.txt says nothing of refunds): a paid
year there never offers ``request_refund``. Foshan 2022 accepts refund requests until 2022-02-28
(foshan.txt:52): offered until then, whatever the request will state, and not after.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from support import MakeApp

from engine.clock import SimulatedClock
from web.cli.main import main

HUIAN = "350521199001010017"
FOSHAN = "440604198003030050"


class Door:
    """The API with tokens made by ``shebao tokens create``, and the ``shebao`` commands."""

    def __init__(self, app: Flask, clock: SimulatedClock, tmp: Path) -> None:
        self.app, self.clock, self.tmp = app, clock, tmp
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}

    def at(self, moment: str) -> None:
        self.clock.set(datetime.fromisoformat(moment))

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        return result.output

    def token(self, name: str, *scopes: str) -> None:
        args = ["tokens", "create", name]
        for scope in scopes:
            args += ["--scope", scope]
        self.tokens[name] = self.cli(*args).strip().splitlines()[-1]

    def api(self, path: str, token: str, body: dict[str, Any], expect: int) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"}
        answer = self.client.post(f"/api/v1{path}", json=body, headers=headers)
        assert answer.status_code == expect, (path, answer.status_code, answer.get_json())
        return answer.get_json()

    def paid_year(self, id_number: str, region: str, policy: str, amount: str) -> int:
        """A person brought in by file, their ``policy`` year (opened) deducted in full."""
        people = self.tmp / f"{region}.csv"
        people.write_text(f"id_number,name,region,household\n{id_number},张三,{region},H-1\n")
        assert "applied: 1" in self.cli("import", "people", str(people))
        found = self.api("/people/enrollments", "counter", {"id_number": id_number}, 200)
        opened = {y["policy"]: y["enrollment_id"] for y in found["paid"] + found["unpaid"]}
        if policy in opened:  # brought in while its period was open: the import opened it
            ident = int(opened[policy])
        else:
            body = {"id_number": id_number, "policy": policy}
            ident = int(self.api("/enrollments", "counter", body, 201)["instance_id"])
        deduct = {"event": "deduct", "data": {"amount": amount}}
        self.api(f"/enrollments/{ident}/events", "tax", deduct, 200)
        return ident

    def allowed(self, year: int, token: str, event: str) -> list[str]:
        """What a refusal of ``event`` (not possible in a paid year) lists as allowed now."""
        # a deduction result for a paid year is refused with the file's words (here: money
        # taken again); malformed data would be the data's 422, whatever the year's state
        data = {"amount": "1.00"} if event == "deduct" else {}
        body = {"event": event, "data": data}
        refused = self.api(f"/enrollments/{year}/events", token, body, 409)
        assert refused["code"] in ("event_not_allowed", "deduction_refused")
        return list(refused["allowed"])


def door(make_app: MakeApp, tmp_path: Path, start: str) -> Door:
    clock = SimulatedClock(datetime.fromisoformat(start))
    made = Door(make_app(clock), clock, tmp_path)
    made.token("counter", "channel")
    made.token("tax", "tax")
    made.token("both", "channel", "tax")
    return made


def test_a_year_without_refunds_in_its_policy_offers_no_refund(
    make_app: MakeApp, tmp_path: Path
) -> None:
    d = door(make_app, tmp_path, "2022-10-10T10:00:00+08:00")  # huian-2023's period is open
    year = d.paid_year(HUIAN, "huian", "huian-2023", "360.00")
    # pay: no token may send it; deduct: not from a paid year. Neither lists the refund
    assert d.allowed(year, "counter", "pay") == []
    assert d.allowed(year, "both", "deduct") == []
    # and indeed the refund is refused, whatever the request states
    request = {
        "event": "request_refund",
        "data": {"employee_insurance_elsewhere": True, "benefits_used": False},
    }
    refused = d.api(f"/enrollments/{year}/events", "counter", request, 409)
    assert "no refund of duplicate payments" in refused["message_en"]


def test_a_refund_is_offered_while_the_policy_accepts_requests(
    make_app: MakeApp, tmp_path: Path
) -> None:
    d = door(make_app, tmp_path, "2021-10-10T10:00:00+08:00")  # foshan-2022's period is open
    year = d.paid_year(FOSHAN, "foshan", "foshan-2022", "320.00")
    d.at("2022-02-28T10:00:00+08:00")
    # still possible: whether it is granted depends on what the request will state
    assert d.allowed(year, "counter", "pay") == ["request_refund"]
    assert d.allowed(year, "both", "deduct") == ["request_refund"]
    assert d.allowed(year, "tax", "deduct") == []  # the tax authority does not request refunds
    d.at("2022-03-01T10:00:00+08:00")  # the window closed at the end of 2022-02-28
    assert d.allowed(year, "counter", "pay") == []
    assert d.allowed(year, "both", "deduct") == []
