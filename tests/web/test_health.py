"""``/healthz`` and ``/readyz``: alive always; ready only with the database reachable, its
migrations current and a scheduler's heartbeat fresh by the wall clock (503 with ``Retry-After``
naming what fails, never a 500); and the scheduler sign on the staff pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert

from engine.clock import SimulatedClock
from engine.heartbeat import Heartbeat
from engine.ops_queries import schedulers
from web import health
from web.app import create_app, engine_of
from web.auth import create_user
from web.migrate import head_revisions, upgrade_database

# The service clock stands years back, as the demo's does: freshness is the wall clock's.
SERVICE_NOW = datetime(2022, 2, 15, 2, tzinfo=UTC)


def make_app(url: str, **config: Any) -> Flask:
    settings = {"SHEBAO_DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False}
    return create_app({**settings, **config}, clock=SimulatedClock(SERVICE_NOW))


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    application = make_app(db_url)
    yield application
    engine_of(application).db.dispose()


def beat_at(app: Flask, name: str, at: datetime) -> None:
    """A scheduler row as ``engine.heartbeat`` writes it, with its last beat at ``at``."""
    row = {"name": name, "host": "host", "pid": 1, "started_at": at, "heartbeat_at": at}
    with engine_of(app).db.begin() as conn:
        conn.execute(insert(schedulers).values(**row))


def ready(app: Flask, **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    response = app.test_client().get("/readyz", **kwargs)
    assert response.is_json, response.get_data(as_text=True)[:300]
    return response.status_code, response.get_json(), response.headers


def test_healthz_answers_without_a_login_or_a_database(tmp_path: Path) -> None:
    application = make_app(f"sqlite:///{tmp_path / 'missing' / 'never.db'}")
    response = application.test_client().get("/healthz", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_with_the_database_current_and_a_fresh_heartbeat(app: Flask) -> None:
    Heartbeat(engine_of(app).db, "host-a:100").beat()
    status, body, headers = ready(app, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert status == 200, body
    assert body["status"] == "ready" and body["failing"] == []
    assert "Retry-After" not in headers
    checks = body["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["migrations"]["ok"] and checks["migrations"]["database"] == max(head_revisions())
    assert checks["scheduler"]["ok"] and 0 <= checks["scheduler"]["age_seconds"] < 60
    assert checks["scheduler"]["stale_after_seconds"] == 120


def test_not_ready_without_any_scheduler_heartbeat(app: Flask) -> None:
    status, body, headers = ready(app)
    assert status == 503 and headers["Retry-After"] == "5"
    assert body["status"] == "not_ready" and body["failing"] == ["scheduler"]
    assert body["checks"]["scheduler"]["error"] == "no scheduler heartbeat"
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]


def test_not_ready_when_the_heartbeat_is_stale(db_url: str) -> None:
    application = make_app(db_url, SHEBAO_RETRY_AFTER_S="9")
    beat_at(application, "host-a:100", datetime.now(UTC) - timedelta(seconds=300))
    status, body, headers = ready(application)
    assert status == 503 and headers["Retry-After"] == "9"
    assert body["failing"] == ["scheduler"]
    assert 300 <= body["checks"]["scheduler"]["age_seconds"] < 360
    # one fresh scheduler among stale ones is enough
    Heartbeat(engine_of(application).db, "host-b:200").beat()
    assert ready(application)[0] == 200
    engine_of(application).db.dispose()


def test_the_staleness_limit_is_a_setting(sqlite_url: str) -> None:
    application = make_app(sqlite_url, SHEBAO_SCHEDULER_STALE_SECONDS="600")
    beat_at(application, "host-a:100", datetime.now(UTC) - timedelta(seconds=300))
    status, body, _headers = ready(application)
    assert status == 200 and body["checks"]["scheduler"]["stale_after_seconds"] == 600
    with pytest.raises(ValueError, match="SHEBAO_SCHEDULER_STALE_SECONDS"):
        make_app(sqlite_url, SHEBAO_SCHEDULER_STALE_SECONDS="soon")


def test_freshness_is_by_the_wall_clock_not_the_service_clock(sqlite_url: str) -> None:
    # a heartbeat written at the service clock's (simulated) time would be years old
    application = make_app(sqlite_url)
    beat_at(application, "host-a:100", SERVICE_NOW)
    assert ready(application)[0] == 503
    Heartbeat(engine_of(application).db, "host-b:200").beat()
    assert ready(application)[0] == 200


def test_not_ready_when_the_migrations_are_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0005")
    application = make_app(url)
    status, body, headers = ready(application)
    assert status == 503 and "Retry-After" in headers
    assert "migrations" in body["failing"]
    migrations = body["checks"]["migrations"]
    assert migrations == {
        "ok": False,
        "database": "0005",
        "head": ",".join(sorted(head_revisions())),
    }
    # without the heartbeat table the scheduler check fails too, and says why without a 500
    assert body["checks"]["scheduler"]["ok"] is False
    upgrade_database(url)
    Heartbeat(engine_of(application).db, "host-a:100").beat()
    assert ready(application)[0] == 200
    engine_of(application).db.dispose()


def test_a_database_never_migrated_is_not_ready(tmp_path: Path) -> None:
    application = make_app(f"sqlite:///{tmp_path / 'empty.db'}")
    status, body, _headers = ready(application)
    assert status == 503
    assert body["checks"]["migrations"]["database"] is None
    assert set(body["failing"]) == {"migrations", "scheduler"}


def test_not_ready_when_the_sqlite_file_cannot_be_opened(sqlite_url: str) -> None:
    application = make_app(sqlite_url)
    Heartbeat(engine_of(application).db, "host-a:100").beat()
    db = engine_of(application).db
    path = Path(str(db.url.database))
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()
    status, body, headers = ready(application)
    assert status == 503 and headers["Retry-After"] == "5"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["error"].startswith("database unavailable")
    assert body["checks"]["scheduler"]["ok"] is None  # not checked


def test_not_ready_when_postgresql_cannot_be_reached() -> None:
    # a closed port on this host: connection refused at once, no server is touched
    application = make_app("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    status, body, headers = ready(application)
    assert status == 503 and headers["Retry-After"] == "5"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "database unavailable (OperationalError)",
    }
    assert "127.0.0.1" not in str(body) and "nobody" not in str(body)  # no driver message
    assert application.test_client().get("/healthz").status_code == 200


def test_an_outage_during_a_check_is_a_failed_check_not_a_500(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import exc as sa_exc

    def down(_db: Any) -> None:
        raise sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(health.ops_queries, "ping", down)
    status, body, _headers = ready(app)
    assert status == 503 and body["failing"] == ["database"]


# -- the sign on the staff pages -----------------------------------------------------------------


@pytest.fixture
def staff_app(sqlite_url: str) -> Iterator[Flask]:
    application = make_app(sqlite_url)
    application.extensions[health.SIGN] = health.HeartbeatCache(ttl=0)  # no caching in tests
    create_user(engine_of(application).db, "teller", "secret-pw-1234", "bank_teller", "icbc")
    yield application
    engine_of(application).db.dispose()


def sign(client: Any, lang: str = "zh") -> str:
    page = client.get(f"/inbox/?lang={lang}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    start = html.find('id="scheduler-status"')
    assert start != -1, "no scheduler sign"
    return html[html.rfind("<span", 0, start) : html.find("</span>", start)]


def test_the_staff_pages_say_whether_the_scheduler_runs(staff_app: Flask) -> None:
    client = staff_app.test_client()
    assert 'id="scheduler-status"' not in client.get("/login").get_data(as_text=True)
    login = client.post("/login", data={"username": "teller", "password": "secret-pw-1234"})
    assert login.status_code == 302
    missing = sign(client)
    assert "down" in missing and "调度器停止" in missing
    assert "Scheduler not running" in sign(client, "en")

    beat_at(staff_app, "old:1", datetime.now(UTC) - timedelta(minutes=10))
    stale = sign(client)
    assert "down" in stale and "调度器停止" in stale and "10 分钟前" in stale
    assert "Scheduler not running (last heartbeat 10 min ago)" in sign(client, "en")

    Heartbeat(engine_of(staff_app).db, "new:2").beat()
    running = sign(client)
    assert 'class="scheduler ok"' in running and "调度器运行中" in running
    assert "Scheduler running (last heartbeat 0 s ago)" in sign(client, "en")


def test_the_sign_reads_the_heartbeat_at_most_once_per_ttl(
    staff_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    real = health.ops_queries.latest_heartbeat

    def counted(db: Any) -> datetime | None:
        reads.append(1)
        return real(db)

    monkeypatch.setattr(health.ops_queries, "latest_heartbeat", counted)
    cache = health.HeartbeatCache(ttl=60)
    db = engine_of(staff_app).db
    for _ in range(5):
        cache.latest(db)
    assert len(reads) == 1
    assert health.HeartbeatCache(ttl=0).latest(db) == (None, False) and len(reads) == 2


def test_a_sign_that_cannot_be_read_is_left_out(
    staff_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = staff_app.test_client()
    client.post("/login", data={"username": "teller", "password": "secret-pw-1234"})

    def broken(_db: Any) -> None:
        raise RuntimeError("no table")

    monkeypatch.setattr(health.ops_queries, "latest_heartbeat", broken)
    page = client.get("/inbox/")
    assert page.status_code == 200 and 'id="scheduler-status"' not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (0, "0 秒", "0 s"),
        (119, "119 秒", "119 s"),
        (600, "10 分钟", "10 min"),
        (3 * 3600, "3 小时", "3 h"),
        (3 * 86400, "3 天", "3 d"),
        (-5, "0 秒", "0 s"),
    ],
)
def test_ages_are_said_in_a_readable_unit(
    staff_app: Flask, seconds: float, zh: str, en: str
) -> None:
    from flask import g

    with staff_app.test_request_context("/"):
        g.lang = "zh"
        assert health.age_words(seconds) == zh
        g.lang = "en"
        assert health.age_words(seconds) == en
