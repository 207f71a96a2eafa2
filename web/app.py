"""The Flask app factory: configuration, the engine and its domain, blueprints."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import Any

from flask import Flask, request

from engine.clock import Clock, DatabaseClock, is_simulated
from engine.db import is_unavailable
from engine.deployments import DEFAULT_CHECK_SECONDS
from engine.scheduler import PolicyWatcher
from web import db_faults, replica
from web.config import default_config, from_environment, number_setting
from web.extensions import DOMAIN, ENGINE, SERVICE, domain_of, engine_of
from web.ids import BoundedInt
from web.wiring import Service, build_service, judge_faults, try_sync_definitions

log = logging.getLogger(__name__)


def create_app(
    config: dict[str, Any] | None = None,
    clock: Clock | None = None,
    *,
    deploys: bool = True,
    needs_definitions: bool = True,
    creates_database: bool = True,
) -> Flask:
    """Create the service.

    Args:
        config: settings that override the defaults and the environment (tests pass theirs).
        clock: the engine's clock; by default the service clock, which every process of the
            service shares: the system clock plus the offset stored in the database, if any
            (``shebao clock set``, ``shebao demo``).
        deploys: deploy the definition files that changed (the service starting: the WSGI app,
            tests); the ``shebao`` commands pass False and only load what is deployed.
        needs_definitions: False for a command that runs without them: a broken definition
            file and nothing deployed do not stop it (``web.wiring.NothingToRunOn``).
        creates_database: False for a command that only works on an existing database: a
            missing SQLite file is not created (a mistyped path is an error).
    """
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = BoundedInt  # before any rule: ids past 2**53 match none
    from web import log_masking

    log_masking.install()  # resident ID numbers masked in every log record
    log_masking.mask_pages(app)  # ... and in every value a page writes out
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(default_config(app.instance_path))
    app.config.from_mapping(from_environment())
    if config:
        app.config.from_mapping(config)
    service = build_service(
        app.config["SHEBAO_DATABASE_URL"],
        app.config["SHEBAO_DEFINITIONS"],
        app.config["SHEBAO_POLICIES"],
        clock=clock,
        deploys=deploys,
        check_every=number_setting(
            app.config, "SHEBAO_DEFINITION_CHECK_SECONDS", DEFAULT_CHECK_SECONDS
        ),
        needs_definitions=needs_definitions,
        creates_database=creates_database,
    )
    if clock is None:
        service.engine.clock = DatabaseClock(service.engine.db)
    app.extensions[ENGINE] = service.engine
    app.extensions[DOMAIN] = service.domain
    app.extensions[SERVICE] = service
    replica.init_app(app)
    _load_versions_when_reachable(app, service)

    def service_clock() -> datetime | None:
        """The service time when the engine's clock is simulated (pages show it), else None."""
        engine_clock = engine_of(app).clock
        return engine_clock.now() if is_simulated(engine_clock) else None

    app.context_processor(lambda: {"service_clock": service_clock})

    from web import auth, event_throttle, health, history_notes, security_headers, sessions
    from web.api import routes as api
    from web.pages import account, inbox, inbox_team, instance_actions, processes, search

    health.init_app(app)  # first: its request timing counts every later hook
    app.add_template_global(history_notes.history_note, "history_note")
    sessions.init_app(app)
    security_headers.init_app(app)
    auth.init_app(app)
    account.init_app(app)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(inbox_team.bp)
    app.register_blueprint(processes.bp)
    app.register_blueprint(instance_actions.bp)
    app.register_blueprint(search.bp)
    event_throttle.init_app(app)
    api.init_app(app)
    db_faults.init_app(app)

    _follow_policy_files(app)
    return app


def _load_versions_when_reachable(app: Flask, service: Service) -> None:
    """A worker that started while the database was unreachable loads the deployed definition
    versions before its first request that finds it reachable; one that has them looks for
    versions another process deployed before a request, at most every
    ``SHEBAO_DEFINITION_CHECK_SECONDS`` (5 by default; 0: before every request), so that new
    instances start on the latest (``engine.catalog``). The health endpoints read nothing."""
    lock = threading.Lock()

    @app.before_request
    def load_versions() -> None:
        if service.versions_loaded:
            if request.blueprint != "health":
                _check_deployments(service)
            return
        with lock:
            if not service.versions_loaded and try_sync_definitions(service):
                judge_faults(service, True, refuse=False)  # what runs for a broken file


def _check_deployments(service: Service) -> None:
    """``Engine.check_deployments``; an outage leaves the versions loaded as they are (the
    request meets the outage itself if it needs the database)."""
    try:
        service.engine.check_deployments()
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning("could not look for deployed definition versions: %s", exc)


POLICY_CHECK_SECONDS = 1.0
"""How often a web worker looks at the policy files (``SHEBAO_POLICY_CHECK_SECONDS``)."""


def _follow_policy_files(app: Flask) -> None:
    """Web workers answer from the policy files as they are now: a change (an extended payment
    period) is read again before the first request that comes at least
    ``SHEBAO_POLICY_CHECK_SECONDS`` (1 by default; 0: before every request) after the last
    look. Looking means a ``stat`` of every file, ~50 us, which every API event paid before.
    Moving pending timers is the scheduler's."""
    watcher = PolicyWatcher(app.config["SHEBAO_POLICIES"])
    every = number_setting(app.config, "SHEBAO_POLICY_CHECK_SECONDS", POLICY_CHECK_SECONDS)
    next_look = monotonic() + every

    @app.before_request
    def reload_changed_policies() -> None:
        nonlocal next_look
        now = monotonic()
        if now < next_look:
            return
        next_look = now + every
        if watcher.changed():
            engine_of(app).registry.reload_policies()


__all__ = ["create_app", "domain_of", "engine_of"]
