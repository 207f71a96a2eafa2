"""Configuration from ``SHEBAO_``-prefixed environment variables, with the embedded defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.db import ConnectionSettings
from engine.heartbeat import STALE_AFTER

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_config(instance_path: str) -> dict[str, Any]:
    """The settings a newcomer gets: SQLite under ``instance/``, the shipped definitions."""
    return {
        "SHEBAO_DATABASE_URL": f"sqlite:///{Path(instance_path) / 'shebao.db'}",
        "SHEBAO_DEFINITIONS": str(PROJECT_ROOT / "definitions"),
        "SHEBAO_POLICIES": str(PROJECT_ROOT / "definitions" / "policies"),
        "SECRET_KEY": instance_secret(Path(instance_path)),
        "SHEBAO_SESSION_IDLE_MINUTES": 30,
        "SHEBAO_SESSION_MAX_HOURS": 12,
        "SHEBAO_TLS": "0",
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


# The database's timeouts: environment variable -> ``ConnectionSettings`` field (defaults there).
DATABASE_VARIABLES = {
    "SHEBAO_DB_CONNECT_TIMEOUT": "connect_timeout_s",
    "SHEBAO_DB_STATEMENT_TIMEOUT_MS": "statement_timeout_ms",
    "SHEBAO_DB_LOCK_TIMEOUT_MS": "lock_timeout_ms",
    "SHEBAO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": "idle_in_transaction_timeout_ms",
    "SHEBAO_DB_BUSY_TIMEOUT_MS": "busy_timeout_ms",
}
DEFAULT_RETRY_AFTER_S = 5


def number_setting(
    config: Mapping[str, Any], name: str, default: float, *, minimum: float = 0
) -> float:
    """A numeric setting (``SHEBAO_*``): ``default`` when unset or blank.

    Raises:
        ValueError: not a number, or below ``minimum`` (naming the setting).
    """
    raw = config.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def _whole_number(name: str, value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def database_settings(source: Mapping[str, Any] | None = None) -> ConnectionSettings:
    """The database connections' timeouts from ``SHEBAO_DB_*`` in ``source`` (the environment by
    default); a variable not set keeps its default (``engine.db.ConnectionSettings``).

    Raises:
        ValueError: a value is not a whole number (or the connect timeout is below 1 s).
    """
    values = os.environ if source is None else source
    given = {
        field: _whole_number(name, values[name])
        for name, field in DATABASE_VARIABLES.items()
        if name in values and str(values[name]).strip() != ""
    }
    return ConnectionSettings(**given)


def retry_after_seconds(config: Mapping[str, Any]) -> int:
    """``SHEBAO_RETRY_AFTER_S``: the ``Retry-After`` of a 503 while the database is unavailable."""
    value = config.get("SHEBAO_RETRY_AFTER_S")
    if value is None or str(value).strip() == "":
        return DEFAULT_RETRY_AFTER_S
    return _whole_number("SHEBAO_RETRY_AFTER_S", value)


STALE_VARIABLE = "SHEBAO_SCHEDULER_STALE_SECONDS"
DEFAULT_STALE_SECONDS = STALE_AFTER.total_seconds()


def stale_after(config: Mapping[str, Any]) -> float:
    """``SHEBAO_SCHEDULER_STALE_SECONDS``: a scheduler whose heartbeat is older than this has
    stopped or hangs (``/readyz``, ``shebao schedulers``, the metrics and the pages use it).

    Raises:
        ValueError: not a number, or not above 0 (naming the setting).
    """
    value = config.get(STALE_VARIABLE)
    if value is None or str(value).strip() == "":
        return DEFAULT_STALE_SECONDS
    try:
        seconds = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{STALE_VARIABLE} must be a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"{STALE_VARIABLE} must be > 0, got {value!r}")
    return seconds
