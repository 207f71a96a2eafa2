"""The JSON API under /api/v1 for citizen channels and outside systems (banks, tax, factories).

This module only assembles it: the endpoint modules of ``web.api`` (``cards``, ``enrollments``,
``people``, ``tasks``, ``notices``, ``incidents``, ``admin``) add their routes to the blueprint of
``web.api.common``, which holds what they share; ``init_app`` registers it with its JSON error
answers. Imports point one way (here -> endpoint modules -> ``common``).
"""

from __future__ import annotations

from flask import Flask

from web.api import admin as api_admin
from web.api import cards as api_cards
from web.api import enrollments as api_enrollments
from web.api import errors as api_errors
from web.api import incidents as api_incidents
from web.api import notices as api_notices
from web.api import people as api_people
from web.api import tasks as api_tasks
from web.api.common import bp

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
