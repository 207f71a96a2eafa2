"""The supervisors' pages on a read replica (``SHEBAO_READ_DATABASE_URL``): the diagrams' figures,
a state's instances and the overdue work come from the replica, an instance from the primary; the
replica's connections refuse writes; a replica that is down leaves the node ready and the other
pages working.

On SQLite the "replica" is a snapshot of the primary taken with SQLite's backup API, refreshed
when the test says so: what a streaming replica a few seconds behind looks like to the pages."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from staff_login import client_for
from support import MakeApp, counter_card

from engine.clock import SimulatedClock
from engine.db import make_engine
from web.app import create_app, engine_of
from web.auth import create_user
from web.mfa import enroll
from web.replica import VARIABLE, read_db
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def snapshot(primary_url: str, replica: Path) -> None:
    """The replica catches up: a consistent copy of the primary as it is now."""
    source = sqlite3.connect(str(make_url(primary_url).database))
    target = sqlite3.connect(str(replica))
    with target:
        source.backup(target)
    source.close()
    target.close()


def counts(page: str) -> dict[str, int]:
    found = re.findall(r'data-state="(\w+)">.*?class="num count">([\d,]+)<', page, re.S)
    return {state: int(n.replace(",", "")) for state, n in found}


CARDS = "shebao.test_cards"


@pytest.fixture
def primary(sqlite_url: str) -> Iterator[Flask]:
    """The service on the primary alone: a supervisor and three produced cards (their instance
    ids in ``app.config[CARDS]``)."""
    app = create_app(
        {"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True, "WTF_CSRF_ENABLED": False},
        SimulatedClock(NOW),
    )
    create_user(engine_of(app).db, "boss", "pw", "supervisor", None)
    enroll(engine_of(app).db, "boss")
    app.config[CARDS] = [
        counter_card(
            app, make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11), events=["produce"]
        ).instance_id
        for n in range(3)
    ]
    yield app
    engine_of(app).db.dispose()


def with_replica(primary: Flask, replica: Path) -> Flask:
    """The service on ``primary``'s database with a replica at ``replica``, a snapshot of the
    primary taken now."""
    url = primary.config["SHEBAO_DATABASE_URL"]
    replica.parent.mkdir()
    snapshot(url, replica)
    config = {
        "SHEBAO_DATABASE_URL": url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        VARIABLE: f"sqlite:///{replica}",
    }
    return create_app(config, SimulatedClock(NOW))


def test_the_diagram_figures_come_from_the_replica_and_an_instance_from_the_primary(
    primary: Flask, tmp_path: Path
) -> None:
    replica = tmp_path / "replica" / "shebao.db"
    app = with_replica(primary, replica)
    engine = engine_of(app)
    waiting = primary.config[CARDS][0]
    engine.fire(waiting, "notify_holder")  # on the primary, after the snapshot
    boss = client_for(app, "boss")

    behind = counts(boss.get("/processes/card").get_data(as_text=True))
    assert behind["produced"] == 3 and behind["awaiting_activation"] == 0
    state_page = boss.get("/processes/card/states/awaiting_activation").get_data(as_text=True)
    assert "/processes/instances/" not in state_page
    instance = boss.get(f"/processes/instances/{waiting}").get_data(as_text=True)
    assert "待激活" in instance  # the supervisor sees the card where it is now

    snapshot(primary.config["SHEBAO_DATABASE_URL"], replica)  # the replica catches up
    caught_up = counts(boss.get("/processes/card").get_data(as_text=True))
    assert caught_up["produced"] == 2 and caught_up["awaiting_activation"] == 1
    state_page = boss.get("/processes/card/states/awaiting_activation").get_data(as_text=True)
    assert state_page.count("/processes/instances/") == 1
    engine.db.dispose()
    read_db(app).dispose()


def test_the_pages_read_the_primary_without_a_replica(primary: Flask) -> None:
    assert read_db(primary) is engine_of(primary).db
    body = client_for(primary, "boss").get("/readyz").get_json()
    assert "read_database" not in body["checks"]


def test_a_replica_that_is_down_leaves_the_node_ready_and_its_pages_answer_503(
    primary: Flask, tmp_path: Path
) -> None:
    replica = tmp_path / "replica" / "shebao.db"
    app = with_replica(primary, replica)
    from engine.heartbeat import Heartbeat

    Heartbeat(engine_of(app).db, "host-a:1").beat()
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["read_database"] == {"ok": True, "lag_seconds": None, "required": False}

    shutil.rmtree(replica.parent)  # the replica's host is gone
    read_db(app).dispose()
    answer = app.test_client().get("/readyz")
    body = answer.get_json()
    assert answer.status_code == 200 and body["status"] == "ready" and body["failing"] == []
    assert body["checks"]["read_database"]["ok"] is False
    assert body["checks"]["read_database"]["required"] is False
    assert str(tmp_path) not in answer.get_data(as_text=True)

    boss = client_for(app, "boss")
    down = boss.get("/processes/card")
    assert down.status_code == 503 and down.headers["Retry-After"]
    card = primary.config[CARDS][1]
    assert boss.get(f"/processes/instances/{card}").status_code == 200
    assert boss.get("/inbox/").status_code in (200, 403)
    engine_of(app).db.dispose()


@pytest.mark.parametrize(
    ("value", "words"),
    [("not a url", "is not a database URL"), ("sqlite:////nowhere/at/all.db", "no SQLite")],
)
def test_a_wrong_replica_setting_stops_the_start_naming_the_setting(
    sqlite_url: str, value: str, words: str
) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        create_app({"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True, VARIABLE: value})
    assert VARIABLE in str(caught.value) and value not in str(caught.value)


def test_the_replica_connections_refuse_writes(db_url: str) -> None:
    reads = make_engine(db_url, read_only=True)
    with reads.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM wf_instance")).scalar() == 0
        with pytest.raises(Exception, match="read-only|readonly|query_only"):
            conn.execute(text("DELETE FROM wf_instance"))
    reads.dispose()


def test_every_supervisor_page_renders_on_a_read_only_replica(
    make_app: MakeApp, db_url: str
) -> None:
    """The replica here is the primary itself, reached read-only: a page that wrote through the
    replica's connections would fail."""
    app = make_app(SimulatedClock(NOW), staff=[("boss", "supervisor", None)], **{VARIABLE: db_url})
    assert read_db(app) is not engine_of(app).db
    counter_card(app, make_id_number("440604", datetime(1980, 1, 1).date(), 11), events=["produce"])
    boss = client_for(app, "boss")
    for url in (
        "/processes/",
        "/processes/card",
        "/processes/card?heat=overdue&since=30d",
        "/processes/card?heat=age",
        "/processes/card/diagram.svg",
        "/processes/card/states/produced",
        "/processes/card/states/produced?overdue=1",
        "/processes/overdue",
    ):
        assert boss.get(url).status_code == 200, url
    assert counts(boss.get("/processes/card").get_data(as_text=True))["produced"] == 1
    reported = app.test_client().get("/readyz").get_json()["checks"]["read_database"]
    # a primary reached read-only is not in recovery: no replay lag to report
    assert reported == {"ok": True, "lag_seconds": None, "required": False}
    read_db(app).dispose()


STANDBY_URL = os.environ.get("SHEBAO_TEST_POSTGRES_STANDBY_URL")


@pytest.mark.postgres
@pytest.mark.serial  # the standby has the main test database, not a worker's
@pytest.mark.skipif(
    not STANDBY_URL,
    reason="SHEBAO_TEST_POSTGRES_STANDBY_URL names no hot standby of SHEBAO_TEST_POSTGRES_URL's "
    "server (making one needs a replication entry in pg_hba.conf: run by hand)",
)
def test_on_a_real_hot_standby_the_pages_catch_up_and_the_lag_is_reported(
    make_app: MakeApp, db_url: str
) -> None:
    """A streaming replica of the test server (``pg_basebackup -R``, same database name): the
    pages read it, and what the primary committed shows there once replayed."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the standby replicates the PostgreSQL test server")
    app = make_app(
        SimulatedClock(NOW), staff=[("boss", "supervisor", None)], **{VARIABLE: STANDBY_URL}
    )
    for n in range(3):
        born = datetime(1980, 1, 1 + n).date()
        counter_card(app, make_id_number("440604", born, 11), events=["produce"])
    boss = client_for(app, "boss")
    deadline = time.monotonic() + 30
    while counts(boss.get("/processes/card").get_data(as_text=True))["produced"] != 3:
        assert time.monotonic() < deadline, "the standby did not replay the primary's commits"
        time.sleep(0.1)
    with read_db(app).connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
    reported = app.test_client().get("/readyz").get_json()["checks"]["read_database"]
    assert reported["ok"] is True and reported["required"] is False
    assert isinstance(reported["lag_seconds"], float) and reported["lag_seconds"] >= 0
    read_db(app).dispose()
