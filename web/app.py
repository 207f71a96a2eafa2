"""The Flask app factory: configuration, the engine and its domain, blueprints."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import Any

from flask import Flask

from engine.clock import Clock, DatabaseClock, is_simulated
from engine.scheduler import PolicyWatcher
from web import db_faults, replica
from web.config import default_config, from_environment, number_setting
from web.extensions import DOMAIN, ENGINE, SERVICE, domain_of, engine_of
from web.ids import BoundedInt
from web.wiring import Service, build_service, try_sync_definitions


def create_app(config: dict[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    """Create the service.

    Args:
        config: settings that override the defaults and the environment (tests pass theirs).
        clock: the engine's clock; by default the service clock, which every process of the
            service shares: the system clock plus the offset stored in the database, if any
            (``shebao clock set``, ``shebao demo``).
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

    from web import auth, health, history_notes, security_headers, sessions
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
    api.init_app(app)
    db_faults.init_app(app)

    _follow_policy_files(app)
    return app


def _load_versions_when_reachable(app: Flask, service: Service) -> None:
    """A worker that started while the database was unreachable loads the deployed definition
    versions before its first request that finds it reachable."""
    lock = threading.Lock()

    @app.before_request
    def load_versions() -> None:
        if service.versions_loaded:
            return
        with lock:
            if not service.versions_loaded:
                try_sync_definitions(service)


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
