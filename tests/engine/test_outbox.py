"""The outbox's delivery worker on each database: once each, retries with backoff, incidents, leases
and fencing; and its channels (log, file, webhook, a factory)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_server import serving
from sqlalchemy import select, text

from benchmarks.notice_receiver import Receiver, Tally
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.incidents import list_incidents, retry_incident
from engine.outbox import DeliveryReport, OutboxNotice, OutboxWorker
from engine.outbox_channels import (
    ChannelError,
    FileChannel,
    LogChannel,
    WebhookChannel,
    load_channel,
    mask_recipient,
)
from engine.outbox_queries import count_by_status, list_notices
from engine.registry import Registry
from engine.runtime import Engine
from tests.engine.notice_rows import NOTICES, RECIPIENT, pending_notices

LETTER = """
process: letter
version: 1
label: {zh: 信件, en: Letter}
initial: drafted
states:
  drafted: {label: {zh: 草稿, en: Drafted}}
  sent: {label: {zh: 已寄出, en: Sent}, final: true}
events:
  submit: {label: {zh: 提交, en: Submit}, from: drafted, to: sent}
"""
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PERSON = RECIPIENT  # the person every notice of these tests goes to


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def engine(db_url: str, clock: SimulatedClock) -> Iterator[Engine]:
    registry = Registry()
    definition = parse_definition(yaml.safe_load(LETTER), "letter.yaml", registry)
    eng = Engine(make_engine(db_url), [definition], registry, clock=clock)
    yield eng
    eng.db.dispose()


def add_notices(engine: Engine, n: int) -> list[int]:
    return pending_notices(
        engine.db,
        n,
        process="letter",
        event="submit",
        kind="submitted",
        text=("第 {} 封", "letter {}"),
        created_at=START,
    )


def rows(engine: Engine) -> dict[int, Any]:
    with engine.db.connect() as conn:
        return {row.id: row for row in conn.execute(select(NOTICES).order_by(NOTICES.c.id))}


class Recorder:
    """A channel that records the ids it was given and fails some a number of times."""

    def __init__(self, failures: dict[int, int] | None = None) -> None:
        self.calls: list[int] = []
        self.failures = dict(failures or {})

    def send(self, notice: OutboxNotice) -> None:
        self.calls.append(notice.id)
        left = self.failures.get(notice.id, 0)
        if left:
            self.failures[notice.id] = left - 1
            raise ConnectionError(f"the gateway refused {notice.recipient}")


def worker(engine: Engine, channel: Any, **settings: Any) -> OutboxWorker:
    settings = {"backoff": timedelta(minutes=1), "lease": timedelta(minutes=5), **settings}
    return OutboxWorker(engine, channel, **settings)


# -- delivery ---------------------------------------------------------------------------------


def test_each_pending_notice_is_delivered_once_in_batches(engine: Engine) -> None:
    ids = add_notices(engine, 250)
    channel = Recorder()
    one = worker(engine, channel, name="w-1", batch=100)
    report = one.run_once(START)
    assert report.as_dict() == {
        "claimed": 250,
        "delivered": 250,
        "retried": 0,
        "failed": 0,
        "lost": 0,
        "batches": 3,
    }
    assert channel.calls == ids  # oldest first, each once
    found = rows(engine)
    assert {(r.status, r.attempts, r.locked_by, r.lock_expires_at) for r in found.values()} == {
        ("delivered", 1, "w-1", None)
    }
    assert all(START <= r.delivered_at < START + timedelta(minutes=1) for r in found.values())
    again = one.run_once(START + timedelta(days=1))
    assert not again and again.claimed == 0 and channel.calls == ids
    assert count_by_status(engine) == {"pending": 0, "delivered": 250, "failed": 0}


def test_a_failed_attempt_waits_its_backoff_doubling_then_succeeds(engine: Engine) -> None:
    [notice] = add_notices(engine, 1)
    channel = Recorder({notice: 2})
    one = worker(engine, channel)
    assert one.run_once(START).retried == 1
    row = rows(engine)[notice]
    assert (row.status, row.attempts, row.locked_by) == ("pending", 1, None)
    assert row.lock_expires_at == START + timedelta(minutes=1)
    assert PERSON not in row.last_error and row.last_error.startswith("ConnectionError: the ")
    assert one.run_once(START + timedelta(seconds=59)).claimed == 0  # still backing off
    assert one.run_once(START + timedelta(minutes=1)).retried == 1
    assert rows(engine)[notice].lock_expires_at == START + timedelta(minutes=3)  # 1 + 2
    assert one.run_once(START + timedelta(minutes=2, seconds=59)).claimed == 0
    done = one.run_once(START + timedelta(minutes=3))
    assert (done.delivered, channel.calls) == (1, [notice] * 3)
    row = rows(engine)[notice]
    assert (row.status, row.attempts) == ("delivered", 3)
    [listed] = list_notices(engine)
    assert (listed.status, listed.next_attempt_at) == ("delivered", None)


def test_the_backoff_doubles_up_to_its_cap() -> None:
    capped = OutboxWorker.__new__(OutboxWorker)
    capped.backoff, capped.max_backoff = timedelta(seconds=10), timedelta(seconds=60)
    assert [capped.delay(n).total_seconds() for n in range(6)] == [0, 10, 20, 40, 60, 60]
    assert capped.delay(10_000) == timedelta(seconds=60)


def test_after_its_last_attempt_a_notice_fails_with_an_incident_that_retry_puts_back(
    engine: Engine, clock: SimulatedClock
) -> None:
    [notice, other] = add_notices(engine, 2)
    channel = Recorder({notice: 99})
    one = worker(engine, channel, max_attempts=3, backoff=timedelta(0))
    report = one.run_once(START)
    assert (report.delivered, report.retried, report.failed) == (1, 2, 1)
    row = rows(engine)[notice]
    assert (row.status, row.attempts, row.locked_by, row.lock_expires_at) == (
        "failed",
        3,
        None,
        None,
    )
    [incident] = list_incidents(engine)
    assert (incident.kind, incident.ref_id, incident.step, incident.attempts) == (
        "notice",
        notice,
        "submitted",
        3,
    )
    assert (incident.process, incident.state) == ("letter", "sent")
    assert PERSON not in incident.error
    assert one.run_once(START + timedelta(days=1)).claimed == 0  # failed stays failed
    channel.failures.clear()  # the cause is fixed
    retry_incident(engine, incident.id, "boss")
    row = rows(engine)[notice]
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert one.run_once(START + timedelta(days=1)).delivered == 1
    assert rows(engine)[notice].status == "delivered"
    assert channel.calls.count(other) == 1


# -- leases and fencing -------------------------------------------------------------------------


def test_a_claim_holds_for_its_lease_and_is_taken_over_after_it(engine: Engine) -> None:
    ids = add_notices(engine, 3)
    crashed = worker(engine, Recorder(), name="crashed", lease=timedelta(minutes=5))
    claimed = engine.transaction(lambda tx: crashed._claim(tx, START, START))  # noqa: SLF001
    assert [n.id for n in claimed] == ids  # claimed, then the process died before sending
    assert {(r.locked_by, r.lock_expires_at) for r in rows(engine).values()} == {
        ("crashed", START + timedelta(minutes=5))
    }
    channel = Recorder()
    other = worker(engine, channel, name="other")
    assert other.run_once(START + timedelta(minutes=4)).claimed == 0
    assert other.run_once(START + timedelta(minutes=5)).delivered == 3
    assert channel.calls == ids
    assert {(r.status, r.locked_by) for r in rows(engine).values()} == {("delivered", "other")}


class TakenOver:
    """A channel so slow that the worker's lease runs out while it sends: another worker takes
    the notice over and delivers it first; then this send ends as ``outcome`` says."""

    def __init__(self, engine: Engine, outcome: str) -> None:
        self.engine, self.outcome = engine, outcome
        self.rival = worker(engine, Recorder(), name="rival")

    def send(self, notice: OutboxNotice) -> None:
        assert self.rival.run_once(START + timedelta(minutes=6)).delivered == 1
        if self.outcome == "failure":
            raise TimeoutError("too slow")


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_a_worker_whose_lease_was_taken_over_records_nothing(engine: Engine, outcome: str) -> None:
    [notice] = add_notices(engine, 1)
    slow = worker(engine, TakenOver(engine, outcome), name="slow", max_attempts=1)
    report = slow.run_once(START)  # sends outside any transaction: the rival can claim
    assert (report.claimed, report.delivered, report.failed, report.lost) == (1, 0, 0, 1)
    row = rows(engine)[notice]
    assert (row.status, row.locked_by, row.attempts, row.last_error) == (
        "delivered",
        "rival",
        1,
        None,
    )
    assert list_incidents(engine) == []


def test_claims_skip_notices_another_transaction_holds(engine: Engine, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: nothing to skip")
    ids = add_notices(engine, 4)
    channel = Recorder()
    with engine.db.connect() as held:
        held.execute(text("SELECT id FROM wf_notice WHERE id = :id FOR UPDATE"), {"id": ids[0]})
        assert worker(engine, channel).run_once(START).delivered == 3
        held.rollback()
    assert channel.calls == ids[1:]
    assert worker(engine, channel).run_once(START).delivered == 1


def test_a_long_run_extends_its_leases_by_the_time_it_took(engine: Engine) -> None:
    add_notices(engine, 2)

    class Slow:
        def send(self, notice: OutboxNotice) -> None:
            time.sleep(0.2)

    one = worker(engine, Slow(), batch=1, lease=timedelta(minutes=5))
    one.run_once(START)
    second = max(rows(engine).values(), key=lambda r: r.id)
    assert second.delivered_at >= START + timedelta(seconds=0.4)


@pytest.mark.serial  # a lease of 0.4 s on the wall clock: failed on a loaded machine
def test_a_batch_slower_than_half_its_lease_records_and_extends_before_the_next_send(
    engine: Engine,
) -> None:
    ids = add_notices(engine, 4)
    rival = worker(engine, Recorder(), name="rival")
    seen: list[int] = []
    midway: list[Any] = []

    class Slow:
        def send(self, notice: OutboxNotice) -> None:
            seen.append(notice.id)
            if len(seen) == 3:  # past the first lease: what a rival finds, what is recorded
                midway.append(rival.run_once(START + timedelta(seconds=0.45)).claimed)
                midway.append({rows(engine)[i].status for i in ids[:2]})
            time.sleep(0.15)

    slow = worker(engine, Slow(), name="slow", lease=timedelta(seconds=0.4))
    report = slow.run_once(START)
    assert midway == [0, {"delivered"}]
    assert (report.claimed, report.delivered, report.lost) == (4, 4, 0)
    assert seen == ids


def test_the_report_is_false_when_nothing_was_due() -> None:
    assert not DeliveryReport()
    assert DeliveryReport(claimed=1)


# -- channels -------------------------------------------------------------------------------------


def a_notice(recipient: str | None = PERSON) -> OutboxNotice:
    return OutboxNotice(
        id=7,
        instance_id=3,
        process="card",
        event="notify_holder",
        kind="card_ready",
        recipient=recipient,
        channel="sms",
        text_zh="您的社会保障卡已制作完成",
        text_en="Your card is ready",
        data={"bank": {"zh": "工商银行", "en": "ICBC"}},
        attempts=0,
        created_at=START,
    )


def test_the_log_and_file_channels_mask_the_recipient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="engine.outbox_channels"):
        LogChannel().send(a_notice())
    assert "notice-7 card_ready to 440524********0014: 您的社会保障卡已制作完成" in caplog.text
    path = tmp_path / "out" / "notices.jsonl"
    FileChannel(path).send(a_notice())
    FileChannel(path).send(a_notice(None))
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert (first["id"], first["recipient"], second["recipient"]) == (
        "notice-7",
        "440524********0014",
        None,
    )
    assert first["text"] == {"zh": "您的社会保障卡已制作完成", "en": "Your card is ready"}
    assert PERSON not in path.read_text(encoding="utf-8")
    assert (mask_recipient("12345"), mask_recipient(None)) == ("*****", None)


class Gateway(BaseHTTPRequestHandler):
    """An SMS gateway that answers what the test plans and keeps what it received."""

    plan: list[int] = []
    received: list[tuple[str | None, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Gateway.received.append((self.headers.get("Idempotency-Key"), body))
        status = Gateway.plan.pop(0) if Gateway.plan else 200
        if status == 0:
            time.sleep(1.0)  # no answer within the client's timeout
            status = 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.plan, Gateway.received = [], []
    with serving(Gateway) as address:
        yield f"{address}/sms?token=secret"


def test_the_webhook_posts_json_with_the_idempotency_key(gateway: str) -> None:
    channel = WebhookChannel(gateway, timeout=0.5)
    channel.send(a_notice())
    [(key, body)] = Gateway.received
    assert key == "notice-7"
    assert (body["id"], body["notice_id"], body["recipient"], body["kind"]) == (
        "notice-7",
        7,
        PERSON,  # the receiver needs it: in the body, never in the URL
        "card_ready",
    )
    Gateway.plan = [503, 0]
    with pytest.raises(ChannelError, match=r"answered HTTP 503") as refused:
        channel.send(a_notice())
    # the receiver by host, port and path (several on one host are told apart), never the query
    said = str(refused.value)
    assert "secret" not in said and said.endswith("/sms answered HTTP 503")
    with pytest.raises(ChannelError, match="unreachable"):
        channel.send(a_notice())  # too slow: a failed attempt
    with pytest.raises(ChannelError, match="unreachable"):
        WebhookChannel("http://127.0.0.1:9/", timeout=0.5).send(a_notice())


def test_a_webhook_failure_is_a_retried_attempt(engine: Engine, gateway: str) -> None:
    [notice] = add_notices(engine, 1)
    Gateway.plan = [500]
    one = worker(engine, WebhookChannel(gateway, timeout=2))
    assert one.run_once(START).retried == 1
    receiver = gateway.split("?")[0]  # no query: it may carry a token
    assert rows(engine)[notice].last_error == f"ChannelError: {receiver} answered HTTP 500"
    assert one.run_once(START + timedelta(minutes=1)).delivered == 1
    assert [key for key, _ in Gateway.received] == [f"notice-{notice}"] * 2


def test_a_webhook_error_never_shows_a_token_in_its_path() -> None:
    """Errors name the receiver by its path, but a segment that may be a secret (a Slack-style
    hook's token) is left out, as credentials and the query are."""
    token = "k3Yq8ZpL2vNw7XcR4tBm"
    url = f"http://user:pw@127.0.0.1:9/services/T01/{token}?sig=abc"
    with pytest.raises(ChannelError, match="unreachable") as refused:
        WebhookChannel(url, timeout=0.5).send(a_notice())
    said = str(refused.value)
    assert said.startswith("http://127.0.0.1:9/services/T01/… unreachable")
    for secret in (token, "pw", "sig=abc"):
        assert secret not in said
    assert WebhookChannel("http://127.0.0.1:9/notices/v1").where.endswith(":9/notices/v1")


def test_channels_are_loaded_from_their_spec(tmp_path: Path) -> None:
    assert isinstance(load_channel("log"), LogChannel)
    assert load_channel(f"file:{tmp_path / 'n.jsonl'}").path == tmp_path / "n.jsonl"  # type: ignore[attr-defined]
    hook = load_channel("webhook:https://sms.example.com/in", timeout=3)
    assert isinstance(hook, WebhookChannel) and hook.timeout == 3
    receiver = load_channel(f"python:benchmarks.notice_receiver:steady:{tmp_path / 'r.db'}")
    assert isinstance(receiver, Receiver) and receiver.fail_rate == 0
    receiver.send(a_notice())
    receiver.send(a_notice())
    assert Tally.read(tmp_path / "r.db").duplicates == 1
    for bad in ("sms", "file:", "webhook:ftp://x", "python:no_such_module:f", "python:json:dumps"):
        with pytest.raises(ValueError):
            load_channel(bad)
