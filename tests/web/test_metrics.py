"""``/metrics``: Prometheus' text format that ``prometheus_client``'s parser reads, counters that
move by exactly the events fired, gauges equal to the database, the HTTP latency by URL rule, the
guard (a bearer token when one is set, loopback clients otherwise), and several worker processes
summed in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, insert, select, text
from support import MakeApp

from engine import ops_queries
from engine import statements as st
from engine.clock import SimulatedClock
from engine.heartbeat import Heartbeat
from engine.ops_queries import LAG_BUCKETS, incidents, notices, schedulers
from engine.scheduler import run_once
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.config import PROJECT_ROOT
from web.migrate import upgrade_database
from workflows.identity import make_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
REGION = "440604"

Families = dict[str, list[Any]]


def person(n: int) -> str:
    return make_id_number(REGION, date(1980, 1, 1) + timedelta(days=n), 21)


def scrape(client: FlaskClient, **kwargs: Any) -> Families:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type.startswith("text/plain; version=0.0.4")
    parsed = text_string_to_metric_families(response.get_data(as_text=True))
    return {family.name: family.samples for family in parsed}


def value(families: Families, sample: str, **labels: str) -> float:
    """The value of the sample named ``sample`` with exactly ``labels`` (0 when absent)."""
    family = sample.removesuffix("_total").removesuffix("_bucket").removesuffix("_count")
    family = family.removesuffix("_sum")
    for found in families.get(family, []):
        if found.name == sample and found.labels == labels:
            return float(found.value)
    return 0.0


def samples(families: Families, sample: str) -> dict[tuple[tuple[str, str], ...], float]:
    family = sample.removesuffix("_total")
    return {
        tuple(sorted(s.labels.items())): float(s.value)
        for s in families.get(family, [])
        if s.name == sample
    }


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(clock)


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    db = engine_of(app).db
    scopes = {"app": "channel", "factory": "factory", "icbc": "bank:icbc"}
    return {name: create_token(db, name, [scope]) for name, scope in scopes.items()}


def post(client: FlaskClient, token: str, path: str, body: dict[str, Any]) -> Any:
    response = client.post(
        f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 201), response.json
    return response.json


def cards_awaiting_activation(client: FlaskClient, tokens: dict[str, str], n: int) -> list[int]:
    """``n`` cards applied for, produced and at the bank: each with a teller's task and timers."""
    ids = []
    for i in range(n):
        body = {"id_number": person(i), "channel": "online", "bank": "icbc", "region_code": REGION}
        card = post(client, tokens["app"], "/cards", body)["card"]["id"]
        post(client, tokens["factory"], f"/cards/{card}/events", {"event": "produce"})
        post(client, tokens["icbc"], f"/cards/{card}/events", {"event": "notify_holder"})
        ids.append(int(card))
    return ids


# -- the database families --------------------------------------------------------------------


def test_transition_counters_move_by_exactly_the_events_fired(
    app: Flask, tokens: dict[str, str]
) -> None:
    client = app.test_client()
    before = scrape(client)
    n = 4
    for i in range(n):
        body = {"id_number": person(i), "channel": "online", "bank": "icbc", "region_code": REGION}
        card = post(client, tokens["app"], "/cards", body)["card"]["id"]
        post(client, tokens["factory"], f"/cards/{card}/events", {"event": "produce"})
    after = scrape(client)

    def moved(event: str) -> float:
        name = "shebao_transitions_total"
        labels = {"process": "card", "event": event}
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("start") == n and moved("produce") == n
    total = sum(samples(after, "shebao_transitions_total").values())
    assert total - sum(samples(before, "shebao_transitions_total").values()) == 2 * n
    with engine_of(app).db.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(st.history)).scalar_one()
    assert total == rows
    assert value(after, "shebao_database_up") == 1


def test_open_task_and_due_timer_gauges_match_the_database(
    app: Flask, tokens: dict[str, str], clock: SimulatedClock
) -> None:
    client = app.test_client()
    engine = engine_of(app)
    before = scrape(client)
    # every declared process and task group reads 0 before there is any work
    assert {dict(k)["process"] for k in samples(before, "shebao_timers_due_unfired")} >= {
        "card",
        "enrollment",
    }
    assert value(before, "shebao_open_tasks", process="card", candidate_group="bank_teller") == 0
    cards_awaiting_activation(client, tokens, 3)

    def from_database() -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        open_q = (
            select(st.tasks.c.process, st.tasks.c.candidate_group, func.count())
            .where(st.tasks.c.status == "open")
            .group_by(st.tasks.c.process, st.tasks.c.candidate_group)
        )
        due_q = (
            select(st.timers.c.process, func.count())
            .where(st.timers.c.status == "pending", st.timers.c.due_at <= clock.now())
            .group_by(st.timers.c.process)
        )
        with engine.db.connect() as conn:
            tasks = {(p, g): int(n) for p, g, n in conn.execute(open_q)}
            due = {p: int(n) for p, n in conn.execute(due_q)}
        return tasks, due

    def gauges(families: Families) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        tasks = {
            (dict(k)["process"], dict(k)["candidate_group"]): int(v)
            for k, v in samples(families, "shebao_open_tasks").items()
            if v
        }
        due = {
            dict(k)["process"]: int(v)
            for k, v in samples(families, "shebao_timers_due_unfired").items()
            if v
        }
        return tasks, due

    now_families = scrape(client)
    assert gauges(now_families) == from_database()
    assert gauges(now_families)[0][("card", "bank_teller")] == 3
    assert gauges(now_families)[1] == {}

    with engine.db.connect() as conn:
        first_due = conn.execute(
            select(func.min(st.timers.c.due_at)).where(st.timers.c.status == "pending")
        ).scalar_one()
    clock.set(first_due + timedelta(seconds=90))  # the service clock decides what is due
    later = scrape(client)
    assert gauges(later) == from_database()
    due_now = gauges(later)[1]["card"]
    assert due_now >= 3

    fired_before = value(later, "shebao_timer_lag_seconds_count")
    run_once(engine)
    fired = scrape(client)
    assert gauges(fired) == from_database()
    assert gauges(fired)[1] == {}
    assert value(fired, "shebao_timer_lag_seconds_count") - fired_before == due_now
    assert value(fired, "shebao_timers_due_unfired", process="card") == 0


def _history_row(instance_id: int, due_at: datetime, lag_s: float) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "process": "card",
        "event": "remind_holder",
        "from_state": "awaiting_activation",
        "to_state": "awaiting_activation",
        "actor": "scheduler",
        "occurred_at": due_at + timedelta(seconds=lag_s),
        "due_at": due_at,
    }


def test_the_timer_lag_histogram_is_bucketed_in_sql(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    [card] = cards_awaiting_activation(client, tokens, 1)
    lags = [0.5, 30, 90, 4000, 100_000, 700_000]
    due = datetime(2022, 3, 1, tzinfo=UTC)
    with engine_of(app).db.begin() as conn:
        conn.execute(insert(st.history), [_history_row(card, due, lag) for lag in lags])
    found = scrape(client)
    for bound in LAG_BUCKETS:
        le = floatToGoString(bound)
        expected = sum(1 for lag in lags if lag <= bound)
        assert value(found, "shebao_timer_lag_seconds_bucket", le=le) == expected, le
    assert value(found, "shebao_timer_lag_seconds_bucket", le="+Inf") == len(lags)
    assert value(found, "shebao_timer_lag_seconds_count") == len(lags)
    assert value(found, "shebao_timer_lag_seconds_sum") == pytest.approx(sum(lags), abs=0.05)


def test_incidents_notices_and_scheduler_heartbeats(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    [card] = cards_awaiting_activation(client, tokens, 1)
    db = engine_of(app).db
    before = scrape(client)  # the card's own notice (ready at the bank) is in the outbox
    now = datetime.now(UTC)
    incident = {
        "ref_id": 1,
        "step": "remind_holder",
        "error": "boom",
        "attempts": 3,
        "created_at": now,
    }
    notice = {"kind": "card_ready", "channel": "log", "text_zh": "z", "text_en": "e"}
    with db.begin() as conn:
        conn.execute(
            insert(incidents),
            [
                {**incident, "kind": "timer", "process": "card", "status": "open"},
                {**incident, "kind": "timer", "process": "card", "status": "open"},
                {**incident, "kind": "notice", "process": None, "status": "open"},
                {**incident, "kind": "timer", "process": "card", "status": "closed"},
            ],
        )
        conn.execute(
            insert(notices),
            [
                {**notice, "instance_id": card, "status": status, "created_at": now}
                for status in ("pending", "pending", "delivered")
            ],
        )
        conn.execute(
            insert(schedulers),
            [
                {
                    "name": "host-a:1",
                    "host": "host-a",
                    "pid": 1,
                    "started_at": now,
                    "heartbeat_at": now - timedelta(seconds=400),
                }
            ],
        )
    Heartbeat(db, "host-b:2").beat()
    found = scrape(client)

    def moved(sample: str, **labels: str) -> float:
        return value(found, sample, **labels) - value(before, sample, **labels)

    assert moved("shebao_incidents_open", process="card", kind="timer") == 2
    assert moved("shebao_incidents_open", process="", kind="notice") == 1
    assert moved("shebao_notices", status="pending") == 2
    assert moved("shebao_notices", status="delivered") == 1
    with db.connect() as conn:
        by_status: dict[str, int] = dict(
            conn.execute(select(notices.c.status, func.count()).group_by(notices.c.status)).all()
        )
    every_status = {"pending": 0, "delivered": 0, "failed": 0, "resolved": 0} | by_status
    assert {k: int(v) for k, v in samples(found, "shebao_notices").items()} == {
        (("status", status),): count for status, count in every_status.items()
    }
    # a scheduler silent for 400 s is stale (past SHEBAO_SCHEDULER_STALE_SECONDS, 120): counted
    # as such, and out of the age series, which an alert reads for the live ones
    ages = samples(found, "shebao_scheduler_heartbeat_age_seconds")
    assert set(ages) == {(("scheduler", "host-b:2"),)}
    assert 0 <= ages[(("scheduler", "host-b:2"),)] < 60
    assert value(found, "shebao_schedulers", state="live") == 1
    assert value(found, "shebao_schedulers", state="stale") == 1


# -- the process's own families ----------------------------------------------------------------


def test_http_latency_is_counted_by_url_rule_never_by_path(
    app: Flask, tokens: dict[str, str]
) -> None:
    client = app.test_client()
    [card] = cards_awaiting_activation(client, tokens, 1)
    rule = "/api/v1/cards/<card_id>"
    labels = {"method": "GET", "route": rule, "status": "200"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = scrape(client)
    for _ in range(3):
        got = client.get(
            f"/api/v1/cards/{card}", headers={"Authorization": f"Bearer {tokens['app']}"}
        )
        assert got.status_code == 200
    assert client.get(f"/api/v1/no/such/{person(7)}").status_code == 404
    after = scrape(client)
    name = "shebao_http_request_duration_seconds_count"
    assert value(after, name, **labels) - value(before, name, **labels) == 3
    text = client.get("/metrics").get_data(as_text=True)
    assert f"/api/v1/cards/{card}" not in text and person(7) not in text
    assert value(after, name, **unmatched) - value(before, name, **unmatched) == 1
    le = value(after, "shebao_http_request_duration_seconds_bucket", le="+Inf", **labels)
    assert le == value(after, name, **labels)


# -- who may read it ---------------------------------------------------------------------------


@pytest.fixture
def lone_app(sqlite_url: str) -> Iterator[Flask]:
    application = create_app({"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True})
    yield application
    engine_of(application).db.dispose()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_loopback_clients_read_the_metrics(lone_app: Flask, address: str) -> None:
    response = lone_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert "shebao_database_up 1.0" in response.get_data(as_text=True)


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "", "nonsense"])
def test_without_a_token_other_clients_are_refused(lone_app: Flask, address: str) -> None:
    response = lone_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 403
    assert "SHEBAO_METRICS_TOKEN" in response.get_data(as_text=True)
    assert "shebao_" not in response.get_data(as_text=True).replace("SHEBAO_METRICS_TOKEN", "")


def test_with_a_token_only_the_bearer_reads_the_metrics(lone_app: Flask) -> None:
    lone_app.config["SHEBAO_METRICS_TOKEN"] = "s3cret-metrics-token"
    client = lone_app.test_client()
    remote = {"REMOTE_ADDR": "10.0.0.5"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        refused = client.get("/metrics", headers=headers, environ_base=remote)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # a token is asked of loopback clients too
    assert client.get("/metrics").status_code == 401
    good = {"Authorization": "Bearer s3cret-metrics-token"}
    assert client.get("/metrics", headers=good, environ_base=remote).status_code == 200
    assert client.get("/metrics", headers=good).status_code == 200


def test_the_token_comes_from_the_environment(sqlite_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("SHEBAO_METRICS_TOKEN", "from-env")
    application = create_app({"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True})
    client = application.test_client()
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer from-env"})
    assert ok.status_code == 200
    engine_of(application).db.dispose()


def test_openmetrics_is_served_on_request(lone_app: Flask) -> None:
    response = lone_app.test_client().get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


# -- faults ------------------------------------------------------------------------------------


def test_a_database_outage_leaves_the_scrape_answering_with_database_up_0(
    lone_app: Flask,
) -> None:
    db = engine_of(lone_app).db
    path = Path(str(db.url.database))
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()  # no connection can open the database any more
    found = scrape(lone_app.test_client())
    assert value(found, "shebao_database_up") == 0
    assert "shebao_transitions" not in found and "shebao_open_tasks" not in found
    assert "shebao_http_request_duration_seconds" in found


def test_a_database_behind_its_migrations_shows_what_it_can(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0005")  # no incidents, notices or heartbeats yet
    application = create_app({"SHEBAO_DATABASE_URL": url, "TESTING": True})
    found = scrape(application.test_client())
    assert value(found, "shebao_database_up") == 1
    assert "shebao_transitions" in found and "shebao_open_tasks" in found
    assert "shebao_incidents_open" not in found and "shebao_notices" not in found
    engine_of(application).db.dispose()


def test_one_family_failing_leaves_the_others_read(
    app: Flask, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL aborts the transaction at a failed statement: the next families must still read
    cards_awaiting_activation(app.test_client(), tokens, 1)

    def broken(conn: Any) -> Any:
        return conn.execute(text("SELECT nothing FROM no_such_table")).all()

    monkeypatch.setattr(ops_queries, "open_incident_counts", broken)
    found = scrape(app.test_client())
    assert "shebao_incidents_open" not in found
    assert value(found, "shebao_database_up") == 1
    assert value(found, "shebao_open_tasks", process="card", candidate_group="bank_teller") == 1
    assert "shebao_notices" in found and "shebao_scheduler_heartbeat_age_seconds" in found


def test_unknown_methods_are_counted_together(lone_app: Flask) -> None:
    client = lone_app.test_client()
    for method in ("BREW", "WHEN"):
        client.open("/healthz", method=method)
    found = scrape(client)
    name = "shebao_http_request_duration_seconds_count"
    assert not any(s.labels.get("method") in ("BREW", "WHEN") for s in found[name[:-6]])
    other = [s for s in found[name[:-6]] if s.name == name and s.labels["method"] == "OTHER"]
    assert sum(s.value for s in other) >= 2 and {s.labels["route"] for s in other} == {"unmatched"}


# -- several processes -------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from web.app import create_app
    app = create_app({"SHEBAO_DATABASE_URL": sys.argv[1], "TESTING": True})
    client = app.test_client()
    if sys.argv[2] == "scrape":
        sys.stdout.write(client.get("/metrics").get_data(as_text=True))
    else:
        for _ in range(int(sys.argv[2])):
            assert client.get("/healthz").status_code == 200
    """
)


@pytest.mark.slow
def test_multiprocess_mode_sums_the_http_latency_of_every_worker(
    sqlite_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}

    def run(argument: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, sqlite_url, argument],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    run("2")
    run("3")
    families = {f.name: f.samples for f in text_string_to_metric_families(run("scrape"))}
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(families, "shebao_http_request_duration_seconds_count", **labels) == 5
    assert value(families, "shebao_database_up") == 1
