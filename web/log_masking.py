"""Resident ID numbers never reach a log line, nor an API error body.

Anything that looks like a resident ID number (17 digits and a digit or ``X``, not part of a longer
run of digits) is masked as ``workflows.identity.mask_id_number`` does
(``110105********002X``), whether or not its check digit is right: a typo'd number is personal data
too. ``install()`` puts the masking on every log record the process makes (the record factory),
and as a filter on the root logger, its handlers and the ``werkzeug`` and ``waitress`` loggers,
whose access and error lines carry request paths. The app factory calls it; calling it again
changes nothing.

``mask_pages(app)`` masks every value a page's template writes out (Jinja's ``finalize``): free
text typed by anyone (a household note, a rejection's reason, a comment, a follow-up log, a
refusal) shows a resident ID number masked on every staff page, as the API shows it. A page
that shows a person's own number masks it itself; the mask leaves a masked number as it is.
The wiring hands ``mask_text`` to the engine's registry too, so the notices it writes (stored,
listed, delivered) carry free text masked.

One text is written out whole: what the user sent in this very request, given back in the field
they typed it in when the form is refused (``{{ value|refill('field') }}`` in that field's
``value``). A teller's mistyped ID number comes back as typed, to be corrected and sent again, not
as ``440106********1234`` (which would be refused again, or stored masked in free text). The
filter checks that this request's form sent exactly that value under that field's name; anything
else (the page's text, the refusal, other people's data, the value anywhere else) stays masked,
and the value is HTML-escaped as every other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, has_request_context, request
from markupsafe import Markup

from engine.value_masking import mask_values
from workflows import identity

ID_LIKE = identity.ID_LIKE
"""Something that looks like a resident ID number (``workflows.identity.ID_LIKE``, the domain's)."""

LOGGERS = ("", "werkzeug", "waitress")
"""The loggers the filter is put on: the root and the servers' own (access and error lines)."""

_MARK = "_shebao_masked"


def mask_text(text: str) -> str:
    """``text`` with everything that looks like a resident ID number masked."""
    if not isinstance(text, str):
        return text
    return identity.mask_id_numbers_in(text)


def mask_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string, keys included, masked."""
    return mask_values(value, mask_text, keys=True)


class Refill(str):
    """A value this request's form sent under a field's name, written back into that field: the
    one text ``mask_output`` leaves whole. Made only by ``refill``; any operation on it (joining,
    formatting, a filter) gives a plain ``str`` again, masked as every other."""


def refill(value: Any, name: str) -> Any:
    """The ``refill(name)`` filter of the pages: ``value`` whole when this request's form sent
    exactly it in field ``name`` (the user's own typing, given back after a refusal), else
    ``value`` as it is (masked on output)."""
    if not isinstance(value, str) or isinstance(value, Markup) or not has_request_context():
        return value
    if request.method != "POST" or value not in request.form.getlist(name):
        return value
    return Refill(value)


def mask_output(value: Any) -> Any:
    """What a template writes out, masked: a text, or HTML that is already safe (kept safe); a
    ``Refill`` (the user's own value, back in its field) whole, HTML-escaped as any text."""
    if type(value) is Refill:
        return str(value)
    if isinstance(value, Markup):
        masked = mask_text(str(value))
        return value if masked == value else Markup(masked)  # noqa: S704 - digits for digits
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_pages(app: Flask) -> None:
    """Mask resident ID numbers in everything ``app``'s templates write out (before any
    template is compiled: Jinja reads ``finalize`` when it compiles), but for the values the
    ``refill`` filter gives back to the field they were typed in."""
    app.jinja_env.finalize = mask_output
    app.jinja_env.filters["refill"] = refill


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the record's message (formatted with its args), exception text and stack, in place.

    A message that needs no masking keeps its ``msg`` and ``args`` as they were.
    """
    if getattr(record, _MARK, False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: the handler reports it as logging always does
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    setattr(record, _MARK, True)
    return record


class MaskingFilter(logging.Filter):
    """A logging filter that masks resident ID numbers and lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


FILTER = MaskingFilter()


def _masking_factory(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(factory(*args, **kwargs))

    make.shebao_masking = True  # type: ignore[attr-defined]
    return make


def install() -> None:
    """Mask resident ID numbers in every log record of this process (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "shebao_masking", False):
        logging.setLogRecordFactory(_masking_factory(factory))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)
    for handler in logging.getLogger().handlers:
        if FILTER not in handler.filters:
            handler.addFilter(FILTER)
