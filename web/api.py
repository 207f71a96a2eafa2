"""The JSON API under /api/v1 for citizen channels and outside systems (banks, tax, factories).

This module only assembles it: the endpoint modules (``api_cards``, ``api_enrollments``,
``api_people``, ``api_tasks``, ``api_notices``, ``api_incidents``, ``api_admin``) add their routes
to the blueprint of ``web.api_common``, which holds what they share; ``init_app`` registers it with
its JSON error answers. Imports point one way (here -> endpoint modules -> ``api_common``).
"""

from __future__ import annotations

from flask import Flask

from web import (
    api_admin,
    api_cards,
    api_enrollments,
    api_errors,
    api_incidents,
    api_notices,
    api_people,
    api_tasks,
)
from web.api_common import bp

ENDPOINT_MODULES = (
    api_admin,
    api_cards,
    api_enrollments,
    api_incidents,
    api_notices,
    api_people,
    api_tasks,
)
"""Imported for their routes on ``bp``."""


def init_app(app: Flask) -> None:
    """Register the API with its JSON error answers and a body size limit."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # UTF-8 Chinese, not \u escapes
    api_errors.init_app(app)
    app.register_blueprint(bp)
