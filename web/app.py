"""The Flask app factory: configuration, the engine and its domain, blueprints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app

from engine.clock import Clock
from engine.runtime import Engine
from engine.scheduler import PolicyWatcher
from web.config import default_config, from_environment
from web.wiring import build_engine


def create_app(config: dict[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    """Create the service.

    Args:
        config: settings that override the defaults and the environment (tests pass theirs).
        clock: the engine's clock (the system clock unless given).
    """
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(default_config(app.instance_path))
    app.config.from_mapping(from_environment())
    if config:
        app.config.from_mapping(config)
    app.extensions["shebao.engine"] = build_engine(
        app.config["SHEBAO_DATABASE_URL"],
        app.config["SHEBAO_DEFINITIONS"],
        app.config["SHEBAO_POLICIES"],
        clock=clock,
    )

    from web import api, auth, inbox, processes

    auth.init_app(app)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(processes.bp)
    api.init_app(app)

    _follow_policy_files(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _follow_policy_files(app: Flask) -> None:
    """Web workers answer from the policy files as they are now: a change (an extended payment
    period) is read again before the next request. Moving pending timers is the scheduler's."""
    watcher = PolicyWatcher(app.config["SHEBAO_POLICIES"])

    @app.before_request
    def reload_changed_policies() -> None:
        if watcher.changed():
            engine_of(app).registry.reload_policies()
            app.extensions.pop("shebao.policies", None)


def engine_of(app: Flask | None = None) -> Engine:
    """The workflow engine of ``app`` (the current app by default)."""
    target = app or current_app
    return target.extensions["shebao.engine"]  # type: ignore[no-any-return]
