"""The Prometheus metrics of the service (``/metrics``, through ``prometheus_client``).

Two kinds of numbers:

- **From the database, read at scrape time** by ``DatabaseCollector`` (``engine.ops_queries``), so
  that any process answers the same for the whole service, whichever web worker or scheduler
  process did the work: ``shebao_transitions_total{process,event}``,
  ``shebao_timer_lag_seconds`` (histogram of ``occurred_at - due_at`` of timer firings),
  ``shebao_timers_due_unfired{process}`` (pending timers due by the engine's clock: due dates are
  business dates), ``shebao_open_tasks{process,candidate_group}``,
  ``shebao_incidents_open{process,kind}``, ``shebao_notices{status}`` (a failed notice counted as
  ``failed`` while its incident is open, ``resolved`` once closed without sending it),
  ``shebao_notice_backlog_seconds`` (since the oldest pending notice was written),
  ``shebao_schedulers{state}`` (``live``, or ``stale``: no heartbeat for longer than
  ``SHEBAO_SCHEDULER_STALE_SECONDS``, by the wall clock, as ``/readyz`` judges it),
  ``shebao_scheduler_heartbeat_age_seconds{scheduler}`` (live schedulers only: a killed one
  leaves the series when it goes stale, not a day later) and ``shebao_database_up`` (0 when the
  database could not be read; the other database families are then left out, and the scrape
  still answers). Every label value the service knows (the definitions' processes and task
  groups, the incident kinds, the notice statuses, both scheduler states) has a sample, 0 when
  nothing is counted, so a series does not vanish when it returns to 0.
- **In the process**: ``shebao_http_request_duration_seconds{method,route,status}``, recorded by a
  ``before_request``/``after_request`` pair; ``route`` is the URL rule
  (``/api/v1/cards/<int:card_id>``), never the path, which may carry an id. Each process counts its
  own requests: under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
  directory (the same for every worker, emptied before the server starts) and every worker's
  scrape answers the sum of all workers (``prometheus_client``'s multiprocess mode).

Who may read it (``refusal``): with ``SHEBAO_METRICS_TOKEN`` set, a request with
``Authorization: Bearer <token>`` (compared in constant time; 401 otherwise); without it, only a
client on the loopback address (403 otherwise). Behind a reverse proxy on the same host every
client looks local: set the token there.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, g, request
from prometheus_client import GCCollector, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from engine import ops_queries
from engine.db import is_unavailable
from engine.heartbeat import is_stale
from engine.incidents import KINDS
from web.config import stale_after
from web.extensions import engine_of

log = logging.getLogger(__name__)

REGISTRY_KEY = "shebao.metrics_registry"
TOKEN = "SHEBAO_METRICS_TOKEN"
MULTIPROCESS_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
UNMATCHED = "unmatched"
"""The ``route`` of a request that matched no URL rule (a 404 of an unknown path)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other is ``OTHER`` (a client must not grow the label set)."""

HTTP_DURATION = Histogram(
    "shebao_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL rule and status (this process; every "
    "worker's with PROMETHEUS_MULTIPROC_DIR).",
    ["method", "route", "status"],
    registry=None,
)
"""One per process: every app of the process records into it (as every worker of gunicorn's
multiprocess mode records into its own file)."""


def multiprocess_dir() -> str | None:
    """The directory of ``prometheus_client``'s multiprocess mode, when it is on."""
    for name in MULTIPROCESS_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return None


# -- from the database -------------------------------------------------------------------------


def _families(
    snap: ops_queries.Snapshot, processes: dict[str, set[str]], stale: timedelta
) -> Iterator[Metric]:
    """The metric families of a snapshot; gauges per process start from 0 for every process
    (and task group) the definitions declare, so an empty queue reads 0 rather than nothing;
    a heartbeat older than ``stale`` is a stale scheduler's."""
    if snap.transitions is not None:
        transitions = CounterMetricFamily(
            "shebao_transitions",
            "Transitions fired (history rows), by process and event.",
            labels=["process", "event"],
        )
        for (process, event), count in sorted(snap.transitions.items()):
            transitions.add_metric([process, event], count)
        yield transitions
    if snap.timer_lag is not None:
        lag = snap.timer_lag
        buckets = [(floatToGoString(bound), count) for bound, count in lag.buckets]
        yield HistogramMetricFamily(
            "shebao_timer_lag_seconds",
            "Delay between a timer's due time and its firing (history rows with due_at).",
            buckets=[*buckets, ("+Inf", lag.count)],
            sum_value=lag.total,
        )
    if snap.timers_due is not None:
        due = GaugeMetricFamily(
            "shebao_timers_due_unfired",
            "Pending timers whose due time (by the service clock) has come.",
            labels=["process"],
        )
        for process, count in sorted(({p: 0 for p in processes} | snap.timers_due).items()):
            due.add_metric([process], count)
        yield due
    if snap.open_tasks is not None:
        declared = {(p, group): 0 for p, groups in processes.items() for group in groups}
        open_tasks = GaugeMetricFamily(
            "shebao_open_tasks",
            "Open user tasks, by process and candidate group.",
            labels=["process", "candidate_group"],
        )
        for (process, group), count in sorted((declared | snap.open_tasks).items()):
            open_tasks.add_metric([process, group], count)
        yield open_tasks
    yield from _operations_families(snap, sorted(processes))
    yield from _scheduler_families(snap, stale)


def _operations_families(snap: ops_queries.Snapshot, processes: list[str]) -> Iterator[Metric]:
    if snap.incidents_open is not None:
        incidents = GaugeMetricFamily(
            "shebao_incidents_open",
            "Open incidents (steps that failed every attempt), by process and kind.",
            labels=["process", "kind"],
        )
        known = {(process, kind): 0 for process in processes for kind in KINDS}
        for (process, kind), count in sorted((known | snap.incidents_open).items()):
            incidents.add_metric([process, kind], count)
        yield incidents
    if snap.notices is not None:
        notices = GaugeMetricFamily(
            "shebao_notices",
            "Notices of the outbox, by status: pending, delivered, failed (every attempt failed "
            "and its incident is open) and resolved (failed, its incident closed without "
            "sending it).",
            labels=["status"],
        )
        known_statuses = dict.fromkeys(ops_queries.NOTICE_STATUSES, 0)
        for status, count in sorted((known_statuses | snap.notices).items()):
            notices.add_metric([status], count)
        yield notices
    if snap.notice_backlog_s is not None:
        yield GaugeMetricFamily(
            "shebao_notice_backlog_seconds",
            "Seconds (service clock) since the oldest pending notice was written; 0 when none "
            "waits. Grows while the channel is slow or failing, before incidents open.",
            value=round(snap.notice_backlog_s, 3),
        )


def _scheduler_families(snap: ops_queries.Snapshot, stale: timedelta) -> Iterator[Metric]:
    if snap.heartbeats is None:
        return
    now = datetime.now(UTC)
    ages = [(name, max(0.0, (now - at).total_seconds())) for name, at in snap.heartbeats]
    live = [(name, age) for name, age in ages if not is_stale(age, stale)]
    states = GaugeMetricFamily(
        "shebao_schedulers",
        "Scheduler processes by state: live, or stale (no heartbeat for longer than "
        "SHEBAO_SCHEDULER_STALE_SECONDS: killed without cleaning up, or hung; "
        "`shebao schedulers forget --stale` removes them).",
        labels=["state"],
    )
    states.add_metric(["live"], len(live))
    states.add_metric(["stale"], len(ages) - len(live))
    yield states
    heartbeat_ages = GaugeMetricFamily(
        "shebao_scheduler_heartbeat_age_seconds",
        "Seconds since each live scheduler's last heartbeat (wall clock); a stale one leaves "
        'this family and is counted in shebao_schedulers{state="stale"}.',
        labels=["scheduler"],
    )
    for name, age in live:
        heartbeat_ages.add_metric([name], round(age, 3))
    yield heartbeat_ages


class DatabaseCollector(Collector):
    """The families read from the database at each scrape (see the module's docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        engine = engine_of(self.app)
        try:
            now = engine.clock.now()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            snap = ops_queries.Snapshot(database_up=False)
        else:
            snap = ops_queries.snapshot(engine.db, now)
        up = GaugeMetricFamily("shebao_database_up", "1 when the database answered this scrape.")
        up.add_metric([], 1 if snap.database_up else 0)
        yield up
        groups = {
            key: {s.task.candidate_group for s in d.states.values() if s.task is not None}
            for key, d in engine.processes.items()
        }
        yield from _families(snap, groups, timedelta(seconds=stale_after(self.app.config)))

    def describe(self) -> list[Metric]:
        return []  # no query when the collector is registered


# -- the scrape --------------------------------------------------------------------------------


def build_registry(app: Flask) -> CollectorRegistry:
    """The registry a scrape of ``app`` reads: the database families, and this process's HTTP
    histogram and process figures (or, in multiprocess mode, every worker's HTTP histogram)."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(HTTP_DURATION)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    registry.register(DatabaseCollector(app))
    return registry


def exposition(app: Flask, accept: str | None = None) -> Response:
    """Every metric of ``app``, now, in the format ``accept`` asks for (Prometheus' text format
    0.0.4 by default, OpenMetrics on request), as ``prometheus_client``'s own server does."""
    registry: CollectorRegistry = app.extensions[REGISTRY_KEY]
    encode, content_type = choose_encoder(accept or "")
    return Response(encode(registry), content_type=content_type)


def is_loopback(address: str | None) -> bool:
    """127.0.0.0/8, ``::1`` or an IPv4-mapped loopback address."""
    try:
        found = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped.is_loopback
    return found.is_loopback


def refusal(config: Mapping[str, Any], req: Request) -> Response | None:
    """The answer refusing ``req`` the metrics, or None when it may read them (see the module)."""
    token = str(config.get(TOKEN) or "").strip()
    if token:
        scheme, _, given = req.headers.get("Authorization", "").partition(" ")
        expected = token.encode("utf-8")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8"), expected
        ):
            return None
        answer = Response("metrics need a bearer token\n", status=401, mimetype="text/plain")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return answer
    if is_loopback(req.remote_addr):
        return None
    return Response(
        f"metrics are served to loopback clients only; set {TOKEN} to serve them with a token\n",
        status=403,
        mimetype="text/plain",
    )


# -- HTTP latency ------------------------------------------------------------------------------


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        rule = request.url_rule
        method = request.method if request.method in METHODS else "OTHER"
        route = rule.rule if rule is not None else UNMATCHED
        HTTP_DURATION.labels(method, route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def init_app(app: Flask) -> None:
    """Time every request of ``app`` and prepare its scrape registry. Call it before the other
    ``before_request`` hooks are added, so that their time is counted too."""
    app.extensions[REGISTRY_KEY] = build_registry(app)
    app.before_request(_start_timer)
    app.after_request(_observe)
