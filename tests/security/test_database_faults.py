"""Database faults: an outage, a stalled statement or a locked SQLite file answers 503 with
``Retry-After`` (JSON under /api/, a page elsewhere), never a 500 or a hung request; the engine's
raw connections let the driver's error through and discard a broken connection; the scheduler
skips a run and tries again; clients that retry with their idempotency keys lose nothing and
double nothing across a PostgreSQL stop and start.

The PostgreSQL tests are marked ``postgres``; the one that stops the server is also ``slow`` and
needs to run as root on the host of a ``pg_ctlcluster`` cluster (it skips otherwise).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from engine import statements as st
from engine.db import ConnectionSettings, is_unavailable, make_engine
from engine.raw_connection import open_raw
from engine.runtime import Engine
from engine.scheduler import Scheduler
from engine.tx import Tx
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.config import database_settings, retry_after_seconds
from workflows.identity import make_id_number

REGION = "440604"


def person(n: int) -> str:
    return make_id_number(REGION, date(1960, 1, 1) + timedelta(days=n), n % 1000)


def card_body(n: int) -> dict[str, str]:
    return {"id_number": person(n), "channel": "counter", "bank": "icbc", "region_code": REGION}


def apply(client: FlaskClient, token: str, n: int, key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or f"card-{n}"}
    return client.post("/api/v1/cards", json=card_body(n), headers=headers)


def assert_503(response: Any, retry_after: str = "5", api: bool = True) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"] == retry_after
    if api:
        assert response.is_json
        body = response.get_json()
        assert body["code"] == "database_unavailable"
        assert body["message_zh"] and body["message_en"]
    else:
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "503" in page and "数据库暂时不可用" in page and "database is unavailable" in page


def make_app(url: str, **config: Any) -> Flask:
    return create_app(
        {"SHEBAO_DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False, **config}
    )


def card_count(db: Any) -> tuple[int, int]:
    """(card instances, distinct people holding one)."""
    query = select(func.count(), func.count(st.instances.c.business_key.distinct())).where(
        st.instances.c.process == "card"
    )
    with db.connect() as conn:
        total, people = conn.execute(query).one()
    return int(total), int(people)


# -- the classification ------------------------------------------------------------------------


def sqlite_error(sql: str) -> sqlite3.Error:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(sql)
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError("no error")


def test_outage_errors_are_told_from_errors_in_the_sql() -> None:
    outage = [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.IdleInTransactionSessionTimeout("terminating connection"),
        sqlite3.OperationalError("database is locked"),
        sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed")),
        sa_exc.InterfaceError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ]
    for exc in outage:
        assert is_unavailable(exc), exc
    bugs = [
        sqlite_error("SELECT * FROM no_such_table"),
        psycopg.errors.UndefinedTable("relation does not exist"),
        psycopg.errors.UniqueViolation("duplicate key"),
        sa_exc.OperationalError("SELECT", {}, sqlite_error("SELECT nope FROM sqlite_master")),
        sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        ValueError("not a database error"),
    ]
    for exc in bugs:
        assert not is_unavailable(exc), exc


def test_settings_come_from_the_environment_with_defaults() -> None:
    assert database_settings({}) == ConnectionSettings()
    defaults = ConnectionSettings()
    assert (defaults.connect_timeout_s, defaults.statement_timeout_ms) == (5, 30_000)
    assert (defaults.lock_timeout_ms, defaults.idle_in_transaction_timeout_ms) == (10_000, 60_000)
    given = database_settings(
        {
            "SHEBAO_DB_CONNECT_TIMEOUT": "2",
            "SHEBAO_DB_STATEMENT_TIMEOUT_MS": "1500",
            "SHEBAO_DB_LOCK_TIMEOUT_MS": "0",
            "SHEBAO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": " 9000 ",
        }
    )
    assert given.connect_timeout_s == 2 and given.idle_in_transaction_timeout_ms == 9000
    assert given.server_options() == (
        "-c statement_timeout=1500 -c idle_in_transaction_session_timeout=9000"
    )
    args = given.connect_args()
    assert args["connect_timeout"] == 2 and args["keepalives"] == 1
    assert args["keepalives_idle"] + args["keepalives_interval"] * args["keepalives_count"] == 25
    for bad in ({"SHEBAO_DB_STATEMENT_TIMEOUT_MS": "soon"}, {"SHEBAO_DB_CONNECT_TIMEOUT": "0"}):
        with pytest.raises(ValueError):
            database_settings(bad)
    assert retry_after_seconds({}) == 5 and retry_after_seconds({"SHEBAO_RETRY_AFTER_S": "9"}) == 9


# -- SQLite: the fast suite --------------------------------------------------------------------


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    application = make_app(sqlite_url)
    yield application
    engine_of(application).db.dispose()


@pytest.fixture
def token(app: Flask) -> str:
    return create_token(engine_of(app).db, "counter", ["channel"])


def make_unopenable(app: Flask) -> None:
    """Put a directory where the SQLite file was: no connection can open it any more."""
    db = engine_of(app).db
    path = Path(str(db.url.database))
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()


def test_a_database_that_cannot_be_opened_answers_503_not_500(app: Flask, token: str) -> None:
    client = app.test_client()
    make_unopenable(app)

    assert_503(apply(client, token, 1))
    assert_503(client.get("/api/v1/cards/1", headers={"Authorization": f"Bearer {token}"}))
    page = client.post("/login", data={"username": "clerk", "password": "pw"})
    assert_503(page, api=False)
    assert client.get("/healthz").status_code == 200  # untouched: it reads no database


@pytest.mark.parametrize(
    "fault",
    [
        psycopg.OperationalError("connection to server failed: Connection refused"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        sa_exc.OperationalError("COMMIT", {}, psycopg.OperationalError("server closed")),
        sqlite3.OperationalError("database is locked"),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_form_of_an_outage_answers_503(
    app: Flask, token: str, fault: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise fault

    monkeypatch.setattr(engine_of(app), "transaction", broken)
    assert_503(apply(app.test_client(), token, 1))


def test_an_error_in_the_sql_stays_a_500(
    app: Flask, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*_args: Any, **_kwargs: Any) -> Any:
        raise sqlite_error("SELECT * FROM no_such_table")

    monkeypatch.setattr(engine_of(app), "transaction", bug)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = apply(app.test_client(), token, 1)
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


def test_sqlite_locked_past_the_busy_timeout_answers_503_then_the_retry_applies_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_DB_BUSY_TIMEOUT_MS", "200")
    application = make_app(sqlite_url, SHEBAO_RETRY_AFTER_S="7")
    db = engine_of(application).db
    token = create_token(db, "counter", ["channel"])
    client = application.test_client()
    holder = sqlite3.connect(str(db.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        began = time.monotonic()
        assert_503(apply(client, token, 1), retry_after="7")
        assert time.monotonic() - began < 5
        assert db.pool.checkedout() == 0  # the connection that could not begin went back
    finally:
        holder.rollback()
        holder.close()
    retried = apply(client, token, 1)
    assert retried.status_code == 201, retried.get_json()
    assert apply(client, token, 1).get_json()["card"]["id"] == retried.get_json()["card"]["id"]
    assert card_count(db) == (1, 1)
    db.dispose()


def test_open_raw_returns_a_connection_whose_transaction_cannot_begin(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'x.db'}", ConnectionSettings(busy_timeout_ms=50))
    holder = sqlite3.connect(str(tmp_path / "x.db"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            open_raw(db)
        assert db.pool.checkedout() == 0
    finally:
        holder.rollback()
        holder.close()
    proxied, _driver = open_raw(db)
    proxied.rollback()
    proxied.close()
    db.dispose()


def test_the_scheduler_skips_a_run_during_an_outage_and_tries_again(
    app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine: Engine = engine_of(app)
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "a.yaml").write_text("a: 1\n", encoding="utf-8")
    scheduler = Scheduler(engine, policies_dir=policies)
    moves: list[str] = []

    def move(_engine: Engine, **_kwargs: Any) -> dict[str, int]:
        moves.append("moved")
        if len(moves) == 1:
            raise sa_exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("disk I/O error"))
        return {}

    monkeypatch.setattr("engine.scheduler.move_policy_timers", move)
    (policies / "a.yaml").write_text("a: 22\n", encoding="utf-8")  # a policy change to apply
    real_transaction = engine.transaction

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    with caplog.at_level(logging.WARNING, logger="engine.scheduler"):
        report = scheduler.tick()  # the policy change cannot be applied: the database is down
        assert report.claimed == 0 and scheduler.failed_ticks == 1
        monkeypatch.setattr(engine, "transaction", down)
        scheduler.tick()  # the change is tried again; the sweep finds the database locked
        assert scheduler.failed_ticks == 2 and moves == ["moved", "moved"]
    skipped = [r for r in caplog.records if r.name == "engine.scheduler"]
    assert [r.levelno for r in skipped] == [logging.WARNING, logging.WARNING]
    assert all("database is unavailable" in r.getMessage() for r in skipped)

    monkeypatch.setattr(engine, "transaction", real_transaction)
    report = scheduler.tick()
    assert scheduler.failed_ticks == 0 and scheduler.last is report
    assert moves == ["moved", "moved"]  # applied once it could be; not again

    def bug(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug, not an outage")

    monkeypatch.setattr(engine, "transaction", bug)
    with pytest.raises(RuntimeError):
        scheduler.tick()  # not swallowed: APScheduler logs it with its traceback


# -- PostgreSQL --------------------------------------------------------------------------------


def truncate(url: str) -> None:
    from engine.models import Base
    from web.models import WebBase

    tables = [t.name for m in (Base.metadata, WebBase.metadata) for t in m.sorted_tables]
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture
def pg_url(postgres_migrated: str) -> str:
    truncate(postgres_migrated)
    return postgres_migrated


def pg_app(url: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Flask:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return make_app(url)


@pytest.mark.postgres
def test_postgres_connections_carry_the_configured_timeouts_and_keepalives(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = pg_app(
        pg_url,
        monkeypatch,
        SHEBAO_DB_CONNECT_TIMEOUT="3",
        SHEBAO_DB_STATEMENT_TIMEOUT_MS="4000",
        SHEBAO_DB_LOCK_TIMEOUT_MS="2000",
        SHEBAO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS="6000",
    )
    db = engine_of(application).db
    try:
        with db.connect() as conn:
            shown = [
                conn.execute(text(f"SHOW {name}")).scalar()
                for name in (
                    "statement_timeout",
                    "lock_timeout",
                    "idle_in_transaction_session_timeout",
                )
            ]
            params = conn.connection.driver_connection.info.get_parameters()
        assert shown == ["4s", "2s", "6s"]
        assert params["connect_timeout"] == "3" and params["keepalives"] == "1"
        assert {"keepalives_idle", "keepalives_interval", "keepalives_count"} <= params.keys()
        assert db.pool._pre_ping and db.pool._recycle == 1800  # noqa: SLF001
    finally:
        db.dispose()
    # options given in the URL are kept, the limits appended
    own = make_engine(pg_url + "?options=-c%20application_name%3Dfaults", ConnectionSettings())
    with own.connect() as conn:
        assert conn.execute(text("SHOW application_name")).scalar() == "faults"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "30s"
    own.dispose()


@pytest.mark.postgres
def test_a_statement_past_the_timeout_is_cancelled_and_answers_503(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = pg_app(pg_url, monkeypatch, SHEBAO_DB_STATEMENT_TIMEOUT_MS="500")
    engine: Engine = engine_of(application)

    def stall_raw() -> dict[str, str]:
        engine.transaction(lambda tx: tx.cursor.execute("SELECT pg_sleep(10)"))
        return {"slept": "raw"}

    def stall_core() -> dict[str, str]:
        with engine.db.connect() as conn:
            conn.execute(text("SELECT pg_sleep(10)"))
        return {"slept": "core"}

    application.add_url_rule("/api/v1/_stall/raw", view_func=stall_raw)
    application.add_url_rule("/api/v1/_stall/core", view_func=stall_core)
    client = application.test_client()
    try:
        for path in ("/api/v1/_stall/raw", "/api/v1/_stall/core"):
            began = time.monotonic()
            response = client.get(path)
            took = time.monotonic() - began
            assert_503(response)
            assert 0.4 < took < 3, f"{path} took {took:.2f} s"
        # the engine's raw path lets the driver's own error through
        with pytest.raises(psycopg.errors.QueryCanceled):
            engine.transaction(lambda tx: tx.cursor.execute("SELECT pg_sleep(10)"))
        # a cancelled statement leaves a usable connection: the next request works
        token = create_token(engine.db, "counter", ["channel"])
        assert apply(client, token, 1).status_code == 201
    finally:
        engine.db.dispose()


@pytest.mark.postgres
def test_a_statement_waiting_past_the_lock_timeout_is_cancelled(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = pg_app(pg_url, monkeypatch, SHEBAO_DB_LOCK_TIMEOUT_MS="300")
    engine: Engine = engine_of(application)
    holder = psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False))
    try:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext('faults:key'))")
        began = time.monotonic()
        with pytest.raises(psycopg.errors.LockNotAvailable) as caught:
            engine.transaction(lambda tx: tx.lock("faults:key"))
        assert time.monotonic() - began < 3 and is_unavailable(caught.value)
    finally:
        holder.rollback()
        holder.close()
        engine.db.dispose()


@pytest.mark.postgres
def test_a_connection_lost_mid_transaction_is_discarded_and_its_error_kept(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = pg_app(pg_url, monkeypatch)
    engine: Engine = engine_of(application)
    db = engine.db
    lost: list[int] = []

    def killed_midway(tx: Tx) -> None:
        tx.cursor.execute("SELECT pg_backend_pid()")
        pid = int(tx.cursor.fetchone()[0])
        lost.append(pid)
        tx.cursor.execute(
            "INSERT INTO wf_setting (key, value, updated_at) VALUES ('faults', '{}', now())"
        )
        with db.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.1)
        tx.cursor.execute("SELECT 1")

    try:
        with pytest.raises(psycopg.OperationalError) as caught:
            engine.transaction(killed_midway)
        # the cause (the server ended the session), not the rollback's "the connection is lost"
        assert "connection is lost" not in str(caught.value), caught.value
        assert db.pool.checkedout() == 0
        pids = []
        for _ in range(db.pool.size() + 1):  # every pooled connection is a live one
            proxied, driver = open_raw(db)
            pids.append(int(driver.execute("SELECT pg_backend_pid()").fetchone()[0]))
            proxied.rollback()
            proxied.close()
        assert lost[0] not in pids
        with db.connect() as conn:  # nothing of the lost transaction was committed
            count = conn.execute(text("SELECT count(*) FROM wf_setting WHERE key = 'faults'"))
            assert count.scalar() == 0
    finally:
        db.dispose()


# -- PostgreSQL: stop the database mid-load ----------------------------------------------------


def cluster_of(url: str) -> tuple[str, str]:
    """The ``pg_ctlcluster`` version and name serving ``url``'s port (skips when none can be
    stopped and started from here)."""
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None:
        pytest.skip("stopping PostgreSQL needs root and pg_ctlcluster")
    port = str(make_url(url).port or 5432)
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == port:
            return fields[0], fields[1]
    pytest.skip(f"no local cluster on port {port}")


def wait_until_accepting(url: str, seconds: float = 30) -> None:
    probe = create_engine(url, connect_args={"connect_timeout": 2})
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                with probe.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except sa_exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        probe.dispose()


class Outage:
    """Stops and starts the cluster; ``started`` always leaves it running."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.version, self.name = cluster_of(url)

    def stop(self) -> None:
        subprocess.run(["pg_ctlcluster", self.version, self.name, "stop"], check=True)

    def start(self) -> None:
        status = subprocess.run(
            ["pg_ctlcluster", self.version, self.name, "status"], capture_output=True, check=False
        )
        if status.returncode != 0:
            subprocess.run(
                [
                    "pg_ctlcluster",
                    "--skip-systemctl-redirect",
                    self.version,
                    self.name,
                    "start",
                ],
                check=True,
            )
        wait_until_accepting(self.url)


THREADS = 8
PEOPLE_PER_THREAD = 30
STATEMENT_TIMEOUT_S = 5
CONNECT_TIMEOUT_S = 2
RETRY_AFTER_S = 1


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.serial  # stops the server every worker uses
def test_stopping_postgres_mid_load_answers_503_and_retries_apply_each_request_once(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, bench_report: Callable[[str, str], None]
) -> None:
    outage = Outage(pg_url)
    for name, value in {
        "SHEBAO_DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_S * 1000),
        "SHEBAO_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_S),
    }.items():
        monkeypatch.setenv(name, value)
    application = make_app(pg_url, SHEBAO_RETRY_AFTER_S=str(RETRY_AFTER_S))
    db = engine_of(application).db
    token = create_token(db, "counter", ["channel"])
    people = THREADS * PEOPLE_PER_THREAD

    lock = threading.Lock()
    statuses: dict[int, int] = {}
    durations: list[float] = []
    unavailable: list[Any] = []
    cards: dict[int, int] = {}  # person -> card id of the successful answer
    successes = [0]
    errors: list[BaseException] = []
    deadline = time.monotonic() + 45

    def client(first: int) -> None:
        http = application.test_client()
        try:
            for n in range(first, first + PEOPLE_PER_THREAD):
                while True:
                    began = time.monotonic()
                    response = apply(http, token, n)  # the same key on every attempt
                    took = time.monotonic() - began
                    with lock:
                        durations.append(took)
                        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code != 503:
                        break
                    with lock:
                        unavailable.append(response)
                    if time.monotonic() > deadline:
                        raise AssertionError(f"person {n} never got through")
                    time.sleep(int(response.headers["Retry-After"]))
                assert response.status_code == 201, (response.status_code, response.get_json())
                with lock:
                    cards[n] = int(response.get_json()["card"]["id"])
                    successes[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [
        threading.Thread(target=client, args=(i * PEOPLE_PER_THREAD,), daemon=True)
        for i in range(THREADS)
    ]
    began = time.monotonic()
    stopping_at = stopped_at = starting_at = accepting_at = 0.0
    try:
        for worker in workers:
            worker.start()
        while successes[0] < people // 4 and not errors and time.monotonic() < deadline:
            time.sleep(0.01)
        stopping_at = time.monotonic() - began
        outage.stop()
        stopped_at = time.monotonic() - began
        time.sleep(2.5)  # the clients keep sending while the database is down
        assert unavailable, "no request met the outage"
    finally:
        starting_at = time.monotonic() - began
        outage.start()
        accepting_at = time.monotonic() - began
    for worker in workers:
        worker.join(timeout=max(1.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - began
    try:
        assert not errors, errors[0]
        assert all(not w.is_alive() for w in workers), "a client hangs"
        assert set(statuses) <= {201, 503}, statuses  # never a 500
        for response in unavailable:
            assert_503(response, retry_after=str(RETRY_AFTER_S))
        longest = max(durations)
        assert longest < STATEMENT_TIMEOUT_S, f"a request took {longest:.2f} s"
        # every request succeeded exactly once: one card per person, none lost, none doubled
        assert len(cards) == people and len(set(cards.values())) == people
        assert card_count(db) == (people, people)
    finally:
        db.dispose()
    figures = (
        f"requests={sum(statuses.values())} people={people} threads={THREADS} "
        f"answered_503={statuses.get(503, 0)} longest_request_s={longest:.3f} "
        f"stop_s={stopping_at:.2f}-{stopped_at:.2f} start_s={starting_at:.2f}-{accepting_at:.2f} "
        f"total_s={elapsed:.2f}"
    )
    bench_report("database outage", figures)
    print(figures)
