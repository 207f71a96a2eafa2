"""The handles the app factory puts on the Flask app, as flaskr's ``db.py``: the workflow engine and
the domain (regions and rules). Blueprints read them from here, never from ``web.app``."""

from __future__ import annotations

from flask import Flask, current_app

from engine.runtime import Engine
from workflows.domain import Domain

ENGINE = "shebao.engine"
DOMAIN = "shebao.domain"
SERVICE = "shebao.service"
"""The ``web.wiring.Service`` (engine, domain, whether the deployed versions are loaded)."""


def engine_of(app: Flask | None = None) -> Engine:
    """The workflow engine of ``app`` (the current app by default)."""
    target = app or current_app
    return target.extensions[ENGINE]  # type: ignore[no-any-return]


def domain_of(app: Flask | None = None) -> Domain:
    """The domain of ``app``: the region registry and the rules the engine runs."""
    target = app or current_app
    return target.extensions[DOMAIN]  # type: ignore[no-any-return]
