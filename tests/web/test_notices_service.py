"""Notices of the shipped definitions through the service's doors, and where their delivery shows.

Card ready at the bank (the bank's API event), refund decided (a clerk's task) and year lapsed (the
timer sweep) each write their notice; the API lists a card's, a year's and a person's notices
within the tokens' scopes, the supervisors' instance page has a table of them, and ``shebao
notices deliver`` / ``list`` deliver and show them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support import MakeApp

from engine import queries, scheduler
from engine.clock import SimulatedClock
from engine.outbox import OutboxWorker
from engine.outbox_channels import FileChannel, LogChannel
from engine.outbox_queries import list_notices
from web.api.tokens import create_token
from web.app import engine_of
from web.auth import create_user
from web.cli.main import main
from web.extensions import domain_of
from web.mfa import enroll
from web.notices import worker_for
from workflows.identity import make_id_number, mask_id_number
from workflows.imports import import_people

ALICE = make_id_number("440604", date(1990, 5, 17), 21)
BOB = make_id_number("440604", date(1985, 3, 2), 33)
NOBODY = make_id_number("440604", date(1970, 1, 1), 45)
NOW = datetime(2022, 2, 10, 2, tzinfo=UTC)  # 10:00 in Foshan: 2022's period and refunds open
SCOPES = {
    "app": ["channel"],
    "factory": ["factory"],
    "icbc": ["bank:icbc"],
    "cmb": ["bank:cmb"],
    "tax": ["tax"],
    "board": ["read"],
}


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(clock)


class Api:
    def __init__(self, app: Flask) -> None:
        db = engine_of(app).db
        self.client = app.test_client()
        self.tokens = {name: create_token(db, name, scopes) for name, scopes in SCOPES.items()}

    def call(self, method: str, path: str, who: str | None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.open(f"/api/v1{path}", method=method, json=body, headers=headers)

    def ok(self, method: str, path: str, who: str, body: Any = None) -> Any:
        answer = self.call(method, path, who, body)
        assert answer.status_code in (200, 201), answer.json
        return answer.json


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app)


def ready_card(api: Api) -> int:
    """Alice's card, produced and at her bank (the bank told her through the API)."""
    body = {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"}
    card = int(api.ok("POST", "/cards", "app", body)["card"]["id"])
    api.ok("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api.ok("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    return card


def year(app: Flask, person: str) -> int:
    """The person's Foshan 2022 year, unpaid: imported while its period is open, the import
    opened it (as a clerk's approval of a registration would)."""
    row = {"id_number": person, "name": "陈明", "region": "foshan"}
    assert import_people(engine_of(app), domain_of(app), [(1, row)], actor="t").rejected == []
    [(found, state)] = queries.by_business_key(
        engine_of(app).db, "enrollment", f"{person}:foshan-2022"
    )
    assert state == "registered"
    return found


def refunded(app: Flask, api: Api, person: str) -> int:
    """The person's year, paid, a refund requested and approved by a clerk's task."""
    enrollment = year(app, person)
    api.ok("POST", f"/enrollments/{enrollment}/payments", "app", {"amount": "320.00"})
    request = {"employee_insurance_elsewhere": True, "benefits_used": False}
    api.ok(
        "POST",
        f"/enrollments/{enrollment}/events",
        "app",
        {"event": "request_refund", "data": request},
    )
    engine = engine_of(app)
    [task] = queries.tasks_of(engine.db, enrollment, "open")
    engine.claim_task(task["id"], "mi_foshan")
    engine.complete_task(
        task["id"], actor="mi_foshan", data={"note": "材料齐全"}, outcome="approve_refund"
    )
    return enrollment


def texts(app: Flask, instance_id: int) -> list[tuple[str, str, str]]:
    found = list_notices(engine_of(app), instance_ids=[instance_id])
    return [(n.kind, n.text_zh, n.text_en) for n in found]


# -- the doors --------------------------------------------------------------------------------


def test_the_banks_event_through_the_api_tells_the_holder_the_card_is_ready(
    app: Flask, api: Api
) -> None:
    card = ready_card(api)
    assert texts(app, card) == [
        (
            "card_ready",
            "您的社会保障卡已制作完成，请本人携带申领时使用的身份证件到工商银行网点领卡并激活。",
            "Your social security card is ready: please collect and activate it in person at "
            "ICBC, bringing the ID document you applied with.",
        )
    ]
    [notice] = list_notices(engine_of(app), instance_ids=[card])
    assert (notice.recipient, notice.event, notice.status) == (ALICE, "notify_holder", "pending")


def test_a_clerks_refund_decision_tells_the_insured(app: Flask, api: Api) -> None:
    enrollment = refunded(app, api, ALICE)
    assert texts(app, enrollment) == [
        (
            "refund_approved",
            "您重复缴纳的2022年度城乡居民医保费320.00元已核定退还。",
            "The 320.00 yuan you paid twice for resident medical insurance in 2022 will be "
            "refunded.",
        )
    ]


def test_the_sweep_tells_those_whose_year_lapsed(app: Flask, clock: SimulatedClock) -> None:
    enrollment = year(app, BOB)
    clock.set(datetime(2022, 3, 1, 1, tzinfo=UTC))  # 09:00 on 1 March in Foshan
    scheduler.run_once(engine_of(app))
    assert queries.instance(engine_of(app).db, enrollment)["state"] == "lapsed"  # type: ignore[index]
    assert texts(app, enrollment) == [
        (
            "year_lapsed",
            "您佛山市2022年度城乡居民医保缴费期已于2022年2月28日结束，您未缴费，本年度已断保。",
            "The 2022 payment period of resident medical insurance in Foshan ended on 28 "
            "February 2022 and you have not paid: your cover for 2022 has lapsed.",
        )
    ]
    # The sweep writes them set-based: the recipient comes from the year's variables in SQL.
    [notice] = list_notices(engine_of(app), instance_ids=[enrollment])
    assert (notice.recipient, notice.status, notice.event) == (BOB, "pending", "lapse")


# -- where they show ----------------------------------------------------------------------------


def test_the_api_lists_notices_with_their_delivery_within_the_tokens_scopes(
    app: Flask, api: Api, tmp_path: Path
) -> None:
    card, enrollment = ready_card(api), refunded(app, api, ALICE)
    pending = api.ok("GET", f"/cards/{card}/notices", "icbc")
    [notice] = pending["notices"]
    assert (pending["instance_id"], pending["process"]) == (card, "card")
    assert (notice["kind"], notice["status"], notice["attempts"]) == ("card_ready", "pending", 0)
    assert notice["recipient_masked"] == mask_id_number(ALICE)
    assert notice["delivered_at"] is None and notice["text"]["zh"].startswith("您的社会保障卡")
    assert api.call("GET", f"/cards/{card}/notices", "cmb").status_code == 404  # another bank's
    assert api.call("GET", f"/cards/{card}/notices", "factory").status_code == 403
    assert api.call("GET", f"/cards/{card}/notices", None).status_code == 401
    assert api.call("GET", f"/cards/{enrollment}/notices", "app").status_code == 404
    assert api.call("GET", "/cards/99999/notices", "board").status_code == 404

    OutboxWorker(engine_of(app), FileChannel(tmp_path / "sms.jsonl")).run_once(NOW)
    [delivered] = api.ok("GET", f"/cards/{card}/notices", "board")["notices"]
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 1)
    assert delivered["delivered_at"] is not None and delivered["next_attempt_at"] is None
    [refund] = api.ok("GET", f"/enrollments/{enrollment}/notices", "app")["notices"]
    assert (refund["kind"], refund["event"]) == ("refund_approved", "approve_refund")
    assert api.call("GET", f"/enrollments/{enrollment}/notices", "tax").status_code == 403
    assert api.call("GET", f"/enrollments/{card}/notices", "app").status_code == 404

    mine = api.ok("POST", "/people/notices", "app", {"id_number": ALICE})
    assert mine["id_number_masked"] == mask_id_number(ALICE)
    assert [n["kind"] for n in mine["notices"]] == ["refund_approved", "card_ready"]
    assert api.ok("POST", "/people/notices", "board", {"id_number": NOBODY})["notices"] == []
    assert api.call("POST", "/people/notices", "app", {"id_number": "123"}).status_code == 422
    assert api.call("POST", "/people/notices", "icbc", {"id_number": ALICE}).status_code == 403
    paths = json.dumps(api.ok("GET", "/openapi.json", "app")["paths"])
    for path in ("/cards/{card_id}/notices", "/enrollments/{enrollment_id}/notices"):
        assert path in paths
    assert "/people/notices" in paths


def test_the_instance_page_shows_a_table_of_notices(app: Flask, api: Api) -> None:
    card = ready_card(api)
    engine = engine_of(app)
    create_user(engine.db, "boss", "pw", "supervisor")
    secret = enroll(engine.db, "boss")
    boss = _logged_in(app, "boss", secret)
    page = boss.get(f"/processes/instances/{card}").get_data(as_text=True)
    table = page[page.index('id="instance-notices"') :]
    assert "通知" in table and "card_ready" in table and "待投递" in table
    assert "到工商银行网点领卡并激活" in table and mask_id_number(ALICE) in table
    OutboxWorker(engine, _Failing(), backoff=timedelta(minutes=1)).run_once(NOW)
    english = boss.get(f"/processes/instances/{card}?lang=en").get_data(as_text=True)
    table = english[english.index('id="instance-notices"') :]
    assert "Notices" in table and "at ICBC" in table and "Pending" in table
    assert "ConnectionError: the gateway is down" in table  # the last error, and when next


class _Failing:
    def send(self, notice: Any) -> None:
        raise ConnectionError("the gateway is down")


def _logged_in(app: Flask, username: str, secret: Any) -> FlaskClient:
    import pyotp

    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": "pw"})
    if answer.location == "/login/code":
        code = pyotp.TOTP(str(secret)).at(engine_of(app).clock.now())
        client.post("/login/code", data={"code": code})
    return client


def test_shebao_notices_deliver_and_list(
    app: Flask, api: Api, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = ready_card(api)
    out = tmp_path / "notices.jsonl"
    monkeypatch.setenv("SHEBAO_DATABASE_URL", db_url)
    monkeypatch.setenv("SHEBAO_NOTICE_CHANNEL", f"file:{out}")
    runner = CliRunner()
    listed = runner.invoke(main, ["notices", "list", "--status", "pending"])
    assert listed.exit_code == 0, listed.output
    assert "card_ready" in listed.output and f"card#{card}" in listed.output
    assert ALICE not in listed.output and mask_id_number(ALICE) in listed.output
    assert "outbox: pending 1, delivered 0, failed 0" in listed.output
    done = runner.invoke(main, ["notices", "deliver"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output.strip().splitlines()[-1])["delivered"] == 1
    [line] = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["kind"] == "card_ready" and ALICE not in line
    as_json = runner.invoke(main, ["notices", "list", "--json", "--instance", str(card)])
    [row] = [json.loads(x) for x in as_json.output.strip().splitlines()]
    assert (row["status"], row["attempts"], row["recipient_masked"]) == (
        "delivered",
        1,
        mask_id_number(ALICE),
    )
    bad = runner.invoke(main, ["notices", "deliver", "--channel", "carrier-pigeon"])
    assert bad.exit_code == 2 and "unknown notice channel" in bad.output


class Gateway(BaseHTTPRequestHandler):
    """A partner's endpoint that takes a notice only with its basic-auth credentials."""

    seen: list[tuple[str, str | None]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        given = self.headers.get("Authorization")
        Gateway.seen.append((self.path, given))
        expected = "Basic " + base64.b64encode(b"shebao:s3cret@1").decode()
        self.send_response(200 if given == expected else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_webhook_url_with_credentials_delivers_with_basic_auth_and_never_shows_them(
    app: Flask,
    api: Api,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    card = ready_card(api)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    Gateway.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    where = f"127.0.0.1:{server.server_address[1]}/hook?to=sms"
    monkeypatch.setenv("SHEBAO_DATABASE_URL", db_url)
    runner = CliRunner()

    def deliver(at: str, channel: str) -> Any:  # an hour apart: past the first try's backoff
        return runner.invoke(main, ["notices", "deliver", "--now", at, "--channel", channel])

    try:
        with caplog.at_level(logging.DEBUG):
            wrong = deliver("2022-02-10T03:00:00Z", f"webhook:http://shebao:nope@{where}")
            [row] = list_notices(engine_of(app), instance_ids=[card])
            right = deliver("2022-02-10T04:00:00Z", f"webhook:http://shebao:s3cret%401@{where}")
    finally:
        server.shutdown()
        server.server_close()
    assert wrong.exit_code == 0, wrong.output
    assert json.loads(wrong.output.strip().splitlines()[-1])["retried"] == 1
    port = server.server_address[1]  # the receiver by host, port and path; no query, no secret
    assert row.last_error == f"ChannelError: http://127.0.0.1:{port}/hook answered HTTP 401"
    assert right.exit_code == 0, right.output
    assert json.loads(right.output.strip().splitlines()[-1])["delivered"] == 1
    assert [path for path, _ in Gateway.seen] == ["/hook?to=sms"] * 2
    assert Gateway.seen[1][1] == "Basic " + base64.b64encode(b"shebao:s3cret@1").decode()
    for shown in (wrong.output, right.output, caplog.text, row.last_error or ""):
        assert "s3cret" not in shown and "nope" not in shown


def test_a_replayed_request_writes_no_second_notice(app: Flask, api: Api) -> None:
    body = {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"}
    card = int(api.ok("POST", "/cards", "app", body)["card"]["id"])
    api.ok("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    headers = {"Authorization": f"Bearer {api.tokens['icbc']}", "Idempotency-Key": "bank-msg-1"}
    for _ in range(2):
        answer = api.client.post(
            f"/api/v1/cards/{card}/events", json={"event": "notify_holder"}, headers=headers
        )
        assert answer.status_code == 200, answer.json
    assert [kind for kind, _, _ in texts(app, card)] == ["card_ready"]


def test_the_worker_is_configured_by_the_notice_settings(app: Flask, tmp_path: Path) -> None:
    app.config.update(
        SHEBAO_NOTICE_CHANNEL="log",
        SHEBAO_NOTICE_MAX_ATTEMPTS="7",
        SHEBAO_NOTICE_BACKOFF_SECONDS="30",
        SHEBAO_NOTICE_MAX_BACKOFF_SECONDS="600",
        SHEBAO_NOTICE_LEASE_SECONDS="90",
        SHEBAO_NOTICE_BATCH="20",
    )
    configured = worker_for(app)
    assert (configured.max_attempts, configured.batch) == (7, 20)
    assert (configured.backoff, configured.max_backoff, configured.lease) == (
        timedelta(seconds=30),
        timedelta(seconds=600),
        timedelta(seconds=90),
    )
    assert isinstance(configured.channel, LogChannel)
    assert isinstance(worker_for(app, channel=f"file:{tmp_path}/x").channel, FileChannel)
    app.config.pop("SHEBAO_NOTICE_CHANNEL")
    fallback = worker_for(app, name="w")  # the service's default: a file in the instance folder
    assert configured.name != fallback.name == "w"
    assert fallback.channel.path == Path(app.instance_path) / "notices.jsonl"  # type: ignore[attr-defined]
    app.config["SHEBAO_NOTICE_BATCH"] = "many"
    with pytest.raises(ValueError, match="SHEBAO_NOTICE_BATCH must be a number"):
        worker_for(app)
