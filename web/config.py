"""Configuration from ``SHEBAO_``-prefixed environment variables, with the embedded defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_config(instance_path: str) -> dict[str, Any]:
    """The settings a newcomer gets: SQLite under ``instance/``, the shipped definitions."""
    return {
        "SHEBAO_DATABASE_URL": f"sqlite:///{Path(instance_path) / 'shebao.db'}",
        "SHEBAO_DEFINITIONS": str(PROJECT_ROOT / "definitions"),
        "SHEBAO_POLICIES": str(PROJECT_ROOT / "definitions" / "policies"),
        "SECRET_KEY": instance_secret(Path(instance_path)),
    }


def instance_secret(instance_path: Path) -> str:
    """A random session key kept in ``instance/secret_key`` (made on first use, owner-only), so
    sessions survive restarts without a key in the code; ``SHEBAO_SECRET_KEY`` overrides it."""
    path = instance_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def from_environment() -> dict[str, Any]:
    """Every ``SHEBAO_*`` variable, plus ``SECRET_KEY`` from ``SHEBAO_SECRET_KEY``."""
    found: dict[str, Any] = {k: v for k, v in os.environ.items() if k.startswith("SHEBAO_")}
    if "SHEBAO_SECRET_KEY" in found:
        found["SECRET_KEY"] = found["SHEBAO_SECRET_KEY"]
    return found
