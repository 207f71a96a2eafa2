"""Configuration from ``SHEBAO_``-prefixed environment variables, with the embedded defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_config(instance_path: str) -> dict[str, Any]:
    """The settings a newcomer gets: SQLite under ``instance/``, the shipped definitions."""
    return {
        "SHEBAO_DATABASE_URL": f"sqlite:///{Path(instance_path) / 'shebao.db'}",
        "SHEBAO_DEFINITIONS": str(PROJECT_ROOT / "definitions"),
        "SHEBAO_POLICIES": str(PROJECT_ROOT / "definitions" / "policies"),
        "SECRET_KEY": "dev-only-change-me",
    }


def from_environment() -> dict[str, Any]:
    """Every ``SHEBAO_*`` variable, plus ``SECRET_KEY`` from ``SHEBAO_SECRET_KEY``."""
    found: dict[str, Any] = {k: v for k, v in os.environ.items() if k.startswith("SHEBAO_")}
    if "SHEBAO_SECRET_KEY" in found:
        found["SECRET_KEY"] = found["SHEBAO_SECRET_KEY"]
    return found
