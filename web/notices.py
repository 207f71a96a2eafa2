"""The notice delivery worker as the service configures it (``SHEBAO_NOTICE_*`` settings).

``worker_for(app)`` builds the ``engine.outbox.OutboxWorker`` that ``shebao notices
deliver`` runs, and that the scheduler runs after each sweep; ``notice_text`` is a notice's text as
pages show it.

| setting | default | meaning |
|---|---|---|
| ``SHEBAO_NOTICE_CHANNEL`` | ``file:<instance>/notices.jsonl`` | ``log``, ``file:PATH``, ``webhook:URL``, ``python:MODULE:FACTORY[:ARG]`` |
| ``SHEBAO_NOTICE_MAX_ATTEMPTS`` | 5 | attempts before a notice fails with an incident |
| ``SHEBAO_NOTICE_BACKOFF_SECONDS`` | 60 | wait after the first failure, doubled after each next |
| ``SHEBAO_NOTICE_MAX_BACKOFF_SECONDS`` | 21600 | the longest wait |
| ``SHEBAO_NOTICE_LEASE_SECONDS`` | 300 | how long a worker's claim holds before another takes over |
| ``SHEBAO_NOTICE_BATCH`` | 100 | notices claimed per transaction |
| ``SHEBAO_NOTICE_WEBHOOK_TIMEOUT`` | 10 | seconds a webhook may take to answer |
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app

from engine.outbox import (
    DEFAULT_BACKOFF,
    DEFAULT_BATCH,
    DEFAULT_LEASE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF,
    OutboxWorker,
)
from engine.outbox_channels import DEFAULT_TIMEOUT, load_channel
from engine.outbox_queries import NoticeRow
from web.config import number_setting
from web.extensions import engine_of
from web.log_masking import mask_text


def notice_text(notice: NoticeRow | str, lang: str) -> str:
    """A notice's text in ``lang`` (or any text) as pages show it: anything that looks like a
    resident ID number masked."""
    if isinstance(notice, str):
        return mask_text(notice)
    return mask_text(notice.text_en if lang == "en" else notice.text_zh)


def default_channel(instance_path: str) -> str:
    """The demo's channel: a JSON-lines file in the instance folder."""
    return f"file:{Path(instance_path) / 'notices.jsonl'}"


def worker_for(
    app: Flask | None = None, *, channel: str | None = None, name: str | None = None
) -> OutboxWorker:
    """The delivery worker of ``app`` (the current app by default), configured by its
    ``SHEBAO_NOTICE_*`` settings (from the environment or the app's config).

    Args:
        channel: a channel spec instead of ``SHEBAO_NOTICE_CHANNEL``.
        name: the worker's name (unique by default).

    Raises:
        ValueError: a setting that is not a number, or an unknown channel spec.
    """
    target = app or current_app
    config = target.config
    spec = channel or config.get("SHEBAO_NOTICE_CHANNEL") or default_channel(target.instance_path)
    timeout = number_setting(config, "SHEBAO_NOTICE_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT, minimum=0.1)
    seconds = {
        "lease": ("SHEBAO_NOTICE_LEASE_SECONDS", DEFAULT_LEASE, 1.0),
        "backoff": ("SHEBAO_NOTICE_BACKOFF_SECONDS", DEFAULT_BACKOFF, 0.0),
        "max_backoff": ("SHEBAO_NOTICE_MAX_BACKOFF_SECONDS", DEFAULT_MAX_BACKOFF, 0.0),
    }
    durations = {
        key: timedelta(
            seconds=number_setting(config, var, default.total_seconds(), minimum=minimum),
        )
        for key, (var, default, minimum) in seconds.items()
    }
    durations["max_backoff"] = max(durations["max_backoff"], durations["backoff"])
    return OutboxWorker(
        engine_of(target),
        load_channel(str(spec), timeout=timeout),
        name=name,
        batch=int(number_setting(config, "SHEBAO_NOTICE_BATCH", DEFAULT_BATCH, minimum=1)),
        max_attempts=int(
            number_setting(config, "SHEBAO_NOTICE_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, minimum=1)
        ),
        **durations,
    )


__all__ = ["default_channel", "notice_text", "worker_for"]
