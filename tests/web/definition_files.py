"""The service on a folder of definition files (a test's copy it may change, or the project's):
its settings, and the service starting on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from web.app import create_app
from web.config import PROJECT_ROOT


def definition_settings(db_url: str, definitions: Path | None = None) -> dict[str, str]:
    """The settings of a service (or a ``shebao`` command) on ``db_url`` reading the definition
    files in ``definitions`` (the project's if none) and the policies beside them."""
    folder = definitions or PROJECT_ROOT / "definitions"
    return {
        "SHEBAO_DATABASE_URL": db_url,
        "SHEBAO_DEFINITIONS": str(folder),
        "SHEBAO_POLICIES": str(folder / "policies"),
    }


def definition_service(
    db_url: str, definitions: Path | None = None, clock: Any = None, **config: Any
) -> Flask:
    """The service starting on ``definitions`` (it deploys the files that changed), in testing
    mode, on ``clock`` (the system's if none), with ``config`` on top."""
    settings = {**definition_settings(db_url, definitions), "TESTING": True, **config}
    return create_app(settings, clock=clock)
