"""How the service's processes write their log: text lines, or one JSON object per line.

``SHEBAO_LOG_FORMAT=json`` makes every record of the process one JSON object on one line:
``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``message``, the fields passed
as ``extra=``, and ``exception`` / ``stack`` when there are any, for a log shipper to index.
``SHEBAO_LOG_LEVEL`` (``INFO``, ``WARNING``, ...) sets the root level. Without them each command
keeps the text lines it always wrote.

Resident ID numbers stay masked: ``web.log_masking`` masks every record's message, exception and
stack as the record is made; the JSON formatter masks the extra fields too (``mask_value``), which
the record factory does not reach.

``configure`` is called by ``shebao run``, ``shebao scheduler`` and the WSGI entry point
(``web.wsgi``). Two kinds of INFO lines are written whatever the default level: the security event
log (an audit trail), and the reports of a scheduler (``SCHEDULER_LOGGERS``: a sweep that fired
timers, notices delivered, history removed), so that the scheduler inside ``shebao run`` is seen
at work as the standalone ``shebao scheduler`` is (unless ``SHEBAO_LOG_LEVEL`` says otherwise).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from web import log_masking

FORMAT_VARIABLE = "SHEBAO_LOG_FORMAT"
LEVEL_VARIABLE = "SHEBAO_LOG_LEVEL"
FORMATS = ("text", "json")

# The attributes every LogRecord has: anything else on a record came in through ``extra=``.
# (Names starting with ``_``, such as the masking's own mark, are left out too.)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        log_masking.mask_record(record)
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = _plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = log_masking.mask_text(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(log_masking.mask_value(entry), ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    """A JSON-ready form of an extra field (strings for what JSON cannot hold)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """``SHEBAO_LOG_FORMAT``: ``text`` (the default) or ``json``."""
    value = (os.environ if environ is None else environ).get(FORMAT_VARIABLE, "").strip().lower()
    if value in ("", "text"):
        return "text"
    if value not in FORMATS:
        raise ValueError(f"{FORMAT_VARIABLE} must be one of {', '.join(FORMATS)}, got {value!r}")
    return value


def log_level(default: int, environ: Mapping[str, str] | None = None) -> int:
    """``SHEBAO_LOG_LEVEL`` as a number (``default`` when not set)."""
    value = (os.environ if environ is None else environ).get(LEVEL_VARIABLE, "").strip().upper()
    if not value:
        return default
    level = logging.getLevelName(value)
    if not isinstance(level, int):
        raise ValueError(f"{LEVEL_VARIABLE} must be a level name such as INFO, got {value!r}")
    return level


def configure(
    default_level: int = logging.INFO,
    text_format: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Set up the root logger of this process and return the format chosen.

    JSON: every handler of the root logger writes JSON (a handler on stderr is added when there
    is none). Text: ``logging.basicConfig`` with ``text_format`` when one is given, else nothing
    changes (the server sets up its own lines, as before). Either way the ID number masking is
    installed on the handlers.

    Args:
        default_level: the root level unless ``SHEBAO_LOG_LEVEL`` says otherwise.
        text_format: the line format of the text mode, or None to leave the text mode alone.
        environ: where the variables are read (the environment by default).
    """
    chosen = log_format(environ)
    level = log_level(default_level, environ)
    root = logging.getLogger()
    if chosen == "json":
        if not root.handlers:
            root.addHandler(logging.StreamHandler(sys.stderr))
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
        root.setLevel(level)
        _drop_flask_text_handlers()
    elif text_format is not None:
        logging.basicConfig(level=level, format=text_format)
    elif LEVEL_VARIABLE in (os.environ if environ is None else environ):
        root.setLevel(level)
    log_masking.install()
    _keep_info(SECURITY_LOGGER, chosen, "%(levelname)s:%(name)s:%(message)s")
    if LEVEL_VARIABLE not in (os.environ if environ is None else environ):
        for name in SCHEDULER_LOGGERS:
            _keep_info(name, chosen, "%(asctime)s %(name)s %(message)s")
    return chosen


SECURITY_LOGGER = "shebao.security"
"""The security event log (``web.security_log``): an audit trail, written at INFO."""
SCHEDULER_LOGGERS = ("engine.scheduler", "engine.outbox", "engine.retention")
"""The loggers of a scheduler's reports, each an INFO line only when a run did something: a
timer sweep that fired timers (``engine.scheduler``), notices delivered (``engine.outbox``),
finished instances removed (``engine.retention``)."""


def _keep_info(name: str, chosen: str, text_format: str) -> None:
    """The logger ``name`` writes its INFO lines whatever the root's level (a service started
    at WARNING): it is set to INFO, and, where nothing above it writes lines (the text mode
    leaves a root without handlers alone), it gets a handler of its own on stderr in the chosen
    format, masked like the rest."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    text = logging.Formatter(text_format)
    handler.setFormatter(JsonFormatter() if chosen == "json" else text)
    handler.addFilter(log_masking.FILTER)
    logger.addHandler(handler)
    logger.propagate = False  # one line, even if a root handler comes later


def _drop_flask_text_handlers() -> None:
    """Flask gives an app's logger a text handler of its own when it finds none above it (an
    app made before logging was set up): its records go to the root's JSON handlers instead."""
    from flask.logging import default_handler

    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and default_handler in logger.handlers:
            logger.removeHandler(default_handler)
