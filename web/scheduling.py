"""The scheduler as the service configures it: lease, default retry policy and notice delivery
(``web.notices``) from ``SHEBAO_*`` settings (``shebao run`` and ``shebao scheduler`` build it here).

| setting | default | meaning |
|---|---|---|
| ``SHEBAO_TIMER_LEASE_SECONDS`` | 300 | how long a scheduler's leased timers stay its own |
| ``SHEBAO_TIMER_RETRIES`` | 3 | attempts of a failing timer step without its own ``retry:`` |
| ``SHEBAO_TIMER_BACKOFF_SECONDS`` | 300 | pause after the first failed attempt (then doubled) |
| ``SHEBAO_HISTORY_CLEANUP_WINDOW`` | 01:00-05:00 | when finished instances past their
  ``history_ttl`` are removed (local time, ``Asia/Shanghai``); ``off``: never by the scheduler |
| ``SHEBAO_HISTORY_ARCHIVE`` | (none) | a directory to archive removed instances to first |
| ``SHEBAO_HISTORY_MAX_LOCK_MS`` | 1000 | the longest one cleanup transaction should take |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask

from engine.durations import Duration
from engine.retention import HistoryCleanup, Window
from engine.scheduler import DEFAULT_INTERVAL, Outbox, Scheduler
from engine.specs import RetrySpec
from engine.timers import DEFAULT_CHUNK
from web.config import number_setting
from web.extensions import engine_of
from web.notices import worker_for

DEFAULTS = {
    "SHEBAO_TIMER_LEASE_SECONDS": 300,
    "SHEBAO_TIMER_RETRIES": 3,
    "SHEBAO_TIMER_BACKOFF_SECONDS": 300,
    "SHEBAO_HISTORY_MAX_LOCK_MS": 1000,
}
DEFAULT_WINDOW = "01:00-05:00"
LOCAL = ZoneInfo("Asia/Shanghai")


def _positive(config: Mapping[str, Any], name: str) -> int:
    return int(number_setting(config, name, DEFAULTS[name], minimum=1))


def timer_lease(config: Mapping[str, Any]) -> timedelta:
    return timedelta(seconds=_positive(config, "SHEBAO_TIMER_LEASE_SECONDS"))


def default_retry(config: Mapping[str, Any]) -> RetrySpec:
    seconds = _positive(config, "SHEBAO_TIMER_BACKOFF_SECONDS")
    backoff = Duration(text=f"PT{seconds}S", delta=timedelta(seconds=seconds))
    return RetrySpec(times=_positive(config, "SHEBAO_TIMER_RETRIES"), backoff=backoff)


def notice_worker(app: Flask) -> Outbox:
    """The notice delivery worker the ``SHEBAO_NOTICE_*`` settings describe (``web.notices``)."""
    return worker_for(app)


def history_cleanup(
    app: Flask, archive: str | None = None, budget: timedelta | None = None
) -> HistoryCleanup:
    """The history cleanup with the service's settings (``archive`` overrides the setting)."""
    config = app.config
    folder = archive or config.get("SHEBAO_HISTORY_ARCHIVE") or None
    return HistoryCleanup(
        engine_of(app),
        max_lock=timedelta(milliseconds=_positive(config, "SHEBAO_HISTORY_MAX_LOCK_MS")),
        archive=Path(folder) if folder else None,
        budget=budget,
    )


def cleanup_window(config: Mapping[str, Any]) -> Window | None:
    """The scheduler's cleanup window, or None when the setting is ``off``."""
    text = str(config.get("SHEBAO_HISTORY_CLEANUP_WINDOW") or DEFAULT_WINDOW).strip()
    if text.lower() == "off":
        return None
    return Window.parse(text, LOCAL)


def make_scheduler(
    app: Flask,
    *,
    blocking: bool,
    interval: float = DEFAULT_INTERVAL,
    chunk: int = DEFAULT_CHUNK,
) -> Scheduler:
    """This process's scheduler with the service's settings."""
    config = app.config
    window = cleanup_window(config)
    return Scheduler(
        engine_of(app),
        interval=interval,
        chunk=chunk,
        blocking=blocking,
        policies_dir=config["SHEBAO_POLICIES"],
        lease=timer_lease(config),
        retry=default_retry(config),
        outbox=notice_worker(app),
        cleanup=history_cleanup(app, budget=timedelta(minutes=4)) if window else None,
        cleanup_window=window,
    )
