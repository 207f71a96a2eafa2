"""Whether the service is healthy, for load balancers, orchestrators and the staff pages.

- ``/healthz``: the process is alive and answers (reads nothing; always 200).
- ``/readyz``: 200 when every check holds, else 503 with ``Retry-After`` and the failing checks
  named in ``failing``. The checks: ``database`` (``SELECT 1`` under a short timeout; an outage is
  a failed check, never a 500), ``migrations`` (the database's ``alembic_version`` is the head of
  ``migrations/``) and ``scheduler`` (some scheduler wrote its heartbeat in ``wf_scheduler``
  within ``SHEBAO_SCHEDULER_STALE_SECONDS``, 120 by default, of the wall clock: the service clock
  may stand at a simulated business date). When the database is down the other two are not
  checked (``ok: null``). With a read replica configured (``web.replica``), ``read_database``
  says whether it answers and, on a standby, its replay lag; it is ``required: false``: the node
  stays ready without it, and ``failing`` does not name it. ``policies`` says whether the last
  reload of the policy files read them (``required: false``: a broken file leaves the last good
  policies in force; its error names the file, the key and the fault).
- ``/metrics``: Prometheus' text format (``web.metrics``), for a bearer token or a loopback client.

The bodies carry no personal data, which is why ``/healthz`` and ``/readyz`` are open to anyone
(``web.auth.OPEN_ENDPOINTS``). The staff pages show whether the scheduler is alive
(``scheduler_status`` in templates), from the latest heartbeat, read at most once per
``SIGN_CACHE_SECONDS`` per process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import Engine as SqlEngine

from engine import ops_queries
from engine.db import is_unavailable
from web import i18n, metrics, replica
from web.config import retry_after_seconds, stale_after
from web.extensions import domain_of, engine_of
from web.migrate import database_revisions, head_revisions

bp = Blueprint("health", __name__)

SIGN_CACHE_SECONDS = 5.0
HEADS = "shebao.migration_heads"
SIGN = "shebao.scheduler_sign"


def wall_now() -> datetime:
    """The real time (heartbeats are written by it), never the service clock."""
    return datetime.now(UTC)


# -- the checks ----------------------------------------------------------------------------------


def _fault(exc: Exception) -> str:
    """What went wrong, without the driver's message (it may name hosts and users)."""
    kind = type(exc).__name__
    return f"database unavailable ({kind})" if is_unavailable(exc) else f"failed ({kind})"


def check_database(db: SqlEngine) -> dict[str, Any]:
    try:
        ops_queries.ping(db)
    except Exception as exc:
        return {"ok": False, "error": _fault(exc)}
    return {"ok": True}


def check_migrations(db: SqlEngine, heads: frozenset[str]) -> dict[str, Any]:
    try:
        found = database_revisions(db)
    except Exception as exc:
        return {"ok": False, "error": _fault(exc)}
    return {
        "ok": found == heads,
        "database": ",".join(sorted(found)) or None,
        "head": ",".join(sorted(heads)),
    }


def check_scheduler(db: SqlEngine, stale_seconds: float, now: datetime) -> dict[str, Any]:
    try:
        latest = ops_queries.latest_heartbeat(db)
    except Exception as exc:
        return {"ok": False, "error": _fault(exc), "stale_after_seconds": stale_seconds}
    if latest is None:
        return {
            "ok": False,
            "error": "no scheduler heartbeat",
            "stale_after_seconds": stale_seconds,
        }
    age = (now - latest).total_seconds()
    return {
        "ok": age <= stale_seconds,
        "last_heartbeat": latest.isoformat(),
        "age_seconds": round(age, 3),
        "stale_after_seconds": stale_seconds,
    }


def check_read_database(db: SqlEngine) -> dict[str, Any]:
    """The read replica (``web.replica``): reachable, and how far a standby's replay is behind.
    Never required: ``required: false``."""
    found = check_database(db)
    if found["ok"]:
        try:
            found["lag_seconds"] = replica.replay_lag_seconds(db)
        except Exception as exc:
            found = {"ok": False, "error": _fault(exc)}
    return found | {"required": False}


def check_policies(app: Flask) -> dict[str, Any]:
    """Whether this process's last reload of the policy files read them (never required: the
    last good policies serve meanwhile)."""
    fault = domain_of(app).fault
    if fault is None:
        return {"ok": True, "required": False}
    return {"ok": False, "error": str(fault), "required": False}


def readiness(app: Flask) -> dict[str, dict[str, Any]]:
    """The checks of ``/readyz``, each with ``ok`` (None: not checked); ``read_database`` only
    when a read replica is configured."""
    db = engine_of(app).db
    checks = {"database": check_database(db), "policies": check_policies(app)}
    if replica.has_replica(app):
        checks["read_database"] = check_read_database(replica.read_db(app))
    if not checks["database"]["ok"]:
        skipped = {"ok": None, "error": "not checked: the database is unavailable"}
        return checks | {"migrations": dict(skipped), "scheduler": dict(skipped)}
    checks["migrations"] = check_migrations(db, app.extensions[HEADS])
    checks["scheduler"] = check_scheduler(db, stale_after(app.config), wall_now())
    return checks


# -- the endpoints -------------------------------------------------------------------------------


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve: 200, or 503 naming the failing checks."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = readiness(app)
    required = {name: c for name, c in checks.items() if c.get("required", True)}
    ready = all(check["ok"] is True for check in required.values())
    failing = [name for name, check in required.items() if check["ok"] is False]
    response = jsonify(
        {"status": "ready" if ready else "not_ready", "failing": failing, "checks": checks}
    )
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = str(retry_after_seconds(app.config))
    return response


@bp.get("/metrics")
def metrics_page() -> Response:
    """Prometheus' text format, for a bearer token or a loopback client (``web.metrics``)."""
    refused = metrics.refusal(current_app.config, request)
    if refused is not None:
        return refused
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return metrics.exposition(app, request.headers.get("Accept"))


# -- the sign on the staff pages -----------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerSign:
    """Whether a scheduler is alive, as the pages show it."""

    running: bool
    age_seconds: float | None

    @property
    def text(self) -> str:
        if self.age_seconds is None:
            return i18n.t("scheduler_stopped")
        word = "scheduler_running" if self.running else "scheduler_stale"
        return i18n.t(word).format(age=age_words(self.age_seconds))


UNITS: tuple[tuple[float, float, i18n.Label], ...] = (
    (120, 1, i18n.Label("{n} 秒", "{n} s")),
    (2 * 3600, 60, i18n.Label("{n} 分钟", "{n} min")),
    (2 * 86400, 3600, i18n.Label("{n} 小时", "{n} h")),
    (float("inf"), 86400, i18n.Label("{n} 天", "{n} d")),
)


def age_words(seconds: float) -> str:
    """An age in the largest unit that keeps it readable (``12 s``, ``5 min``, ``3 h``, ``2 d``)."""
    seconds = max(0.0, seconds)
    for below, unit, label in UNITS:
        if seconds < below:
            return label.get(i18n.current_lang()).format(n=int(seconds // unit))
    raise AssertionError("unreachable")


class HeartbeatCache:
    """The latest scheduler heartbeat, read at most once per ``ttl`` seconds by this process."""

    def __init__(self, ttl: float = SIGN_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._read: tuple[float, datetime | None, bool] | None = None  # (when, latest, failed)

    def latest(self, db: SqlEngine) -> tuple[datetime | None, bool]:
        """The latest heartbeat, and whether reading it failed."""
        with self._lock:
            if self._read is None or time.monotonic() - self._read[0] >= self.ttl:
                try:
                    self._read = (time.monotonic(), ops_queries.latest_heartbeat(db), False)
                except Exception:  # noqa: BLE001 - a page must not fail for its sign
                    self._read = (time.monotonic(), None, True)
            return self._read[1], self._read[2]


def scheduler_sign(app: Flask) -> SchedulerSign | None:
    """The sign of the pages (None when the heartbeats could not be read)."""
    latest, failed = app.extensions[SIGN].latest(engine_of(app).db)
    if failed:
        return None
    if latest is None:
        return SchedulerSign(running=False, age_seconds=None)
    age = (wall_now() - latest).total_seconds()
    return SchedulerSign(running=age <= stale_after(app.config), age_seconds=age)


def init_app(app: Flask) -> None:
    """The health endpoints, the metrics (their request timing first, so that it counts the other
    hooks) and the scheduler sign of the templates."""
    stale_after(app.config)  # a bad setting fails at start, not at a probe
    app.extensions[HEADS] = head_revisions()
    app.extensions[SIGN] = HeartbeatCache()
    metrics.init_app(app)
    app.register_blueprint(bp)
    app.context_processor(lambda: {"scheduler_status": lambda: scheduler_sign(app)})
