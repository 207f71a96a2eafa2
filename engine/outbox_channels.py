"""The channels the outbox delivers to, and the one place that reads a channel's spec.

A channel has ``send(notice) -> None`` and raises when the receiver did not take the notice.
``load_channel(spec)`` builds one from a spec (``SHEBAO_NOTICE_CHANNEL``):

- ``log``: one log line per notice, the recipient masked (the demo, a dry run);
- ``file:PATH``: one JSON line per notice appended to ``PATH`` (the demo's default, under the
  service's instance folder), the recipient masked;
- ``webhook:URL``: an HTTP ``POST`` of the notice as JSON (an SMS gateway, a partner bank's
  endpoint) with ``Idempotency-Key: notice-<id>``; any answer but 2xx, or none within the
  timeout, is a failed attempt. The receiver gets the real recipient, in the body only. A URL
  with credentials (``https://user:secret@host/path``) sends them as HTTP basic authentication
  (``Authorization: Basic``), never in the URL; errors and logs never show them (nor the
  query, which may carry a token), but name the receiver by scheme, host, port and path
  (``http://127.0.0.1:5398/hook``), so that of several receivers the one down is told;
- ``python:MODULE:FACTORY[:ARG]``: ``MODULE.FACTORY()`` (or ``FACTORY(ARG)``) returns the channel.

Every notice carries its id, so a receiver that keeps the ids it has taken turns the worker's
at-least-once sending into an exactly-once effect.

``channel_failure(error)`` reads a failed attempt's error text (as the outbox stores it) back into
what went wrong: the receiver refused the connection, did not answer in time, could not be
reached, or answered an HTTP error; the pages say it in words (``web.incident_words``).
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from engine.outbox import Channel, OutboxNotice

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class ChannelError(Exception):
    """A channel could not hand a notice over (the worker counts a failed attempt)."""


def mask_recipient(value: str | None) -> str | None:
    """A recipient as a log line or a demo file shows it: an ID number keeps its first 6 and
    last 4 characters (``440604********9012``), anything short is hidden whole."""
    if value is None:
        return None
    if len(value) < 11:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


class LogChannel:
    """Writes each notice as a log line (logger ``engine.outbox_channels``, level INFO)."""

    def send(self, notice: OutboxNotice) -> None:
        log.info(
            "notice %s %s to %s: %s",
            notice.key,
            notice.kind,
            mask_recipient(notice.recipient),
            notice.text_zh,
        )


class FileChannel:
    """Appends each notice as one JSON line to a file, in one ``write`` (lines of several
    workers do not interleave)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def send(self, notice: OutboxNotice) -> None:
        line = {
            **notice.message(recipient=mask_recipient(notice.recipient)),
            "sent_at": datetime.now(UTC).isoformat(),
        }
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


def basic_auth(parsed: urllib.parse.SplitResult) -> str | None:
    """The ``Authorization`` header of a URL's ``user:password@`` part (percent-decoded), or
    None when it has none."""
    if parsed.username is None and parsed.password is None:
        return None
    user = urllib.parse.unquote(parsed.username or "")
    password = urllib.parse.unquote(parsed.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


_SECRET_LIKE = re.compile(
    r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~%]{16,}|[A-Za-z0-9_\-]{32,}"
)
"""A path segment that may be a secret: 16 or more characters mixing letters and digits (a
Slack-style ``/services/T0/B0/XXXXXXXX`` webhook's token), or any 32 or more."""


def shown_path(path: str) -> str:
    """A webhook URL's path as errors show it: each segment that may be a secret (``_SECRET_LIKE``)
    replaced by ``…``; ``/hook`` and ``/notices/v1`` stay as they are."""
    return "/".join("…" if _SECRET_LIKE.fullmatch(part) else part for part in path.split("/"))


class WebhookChannel:
    """POSTs each notice as JSON to ``url`` with ``Idempotency-Key: notice-<id>``; the URL's
    ``user:password@``, if any, as HTTP basic authentication."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            parsed = urllib.parse.urlsplit(url)
            parsed.port  # noqa: B018 - a port that is not a number raises here, not at each send
        except ValueError:
            raise ValueError("a webhook needs a well-formed http:// or https:// URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("a webhook needs an http:// or https:// URL")
        self.authorization = basic_auth(parsed)
        host = parsed.netloc.rpartition("@")[2]
        self.url = urllib.parse.urlunsplit(parsed._replace(netloc=host))  # no credentials
        self.timeout = timeout
        # errors name the receiver (port and path tell receivers on one host apart), never its
        # credentials or query (a token may travel there), nor a path segment that looks like one
        self.where = f"{parsed.scheme}://{host}{shown_path(parsed.path)}"

    def __repr__(self) -> str:
        return f"WebhookChannel({self.where!r})"

    def send(self, notice: OutboxNotice) -> None:
        body = json.dumps(notice.message(), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": notice.key,
            },
        )
        if self.authorization:
            request.add_unredirected_header("Authorization", self.authorization)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"{self.where} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"{self.where} unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise ChannelError(f"{self.where} answered HTTP {status}")


FailureKind = Literal["refused", "timeout", "unreachable", "http_5xx", "http_4xx"]

_HTTP = re.compile(r"(?:^|: )(?P<where>\S+) answered HTTP (?P<status>\d{3})")
_UNREACHABLE = re.compile(r"(?:^|: )(?P<where>\S+) unreachable: (?P<reason>.*)$", re.S)
_TIMEOUT = re.compile(r"timed out|TimeoutError|\btimeout\b", re.I)
_REFUSED = re.compile(r"Connection refused|ConnectionRefusedError|Errno 111\b", re.I)


@dataclass(frozen=True)
class ChannelFailure:
    """What a failed delivery attempt's error says: its kind, the receiver (when the error
    names it) and the HTTP status of an HTTP error."""

    kind: FailureKind
    where: str | None = None
    status: int | None = None


def channel_failure(error: str | None) -> ChannelFailure | None:
    """The failure a notice's error text describes (a webhook's ``ChannelError``, or a
    ``python:`` channel's ``ConnectionRefusedError``/``TimeoutError``), or None when it is none
    of the common ones (the text is then shown as it is)."""
    if not error:
        return None
    http = _HTTP.search(error)
    if http:
        status = int(http["status"])
        if 400 <= status < 600:
            kind: FailureKind = "http_5xx" if status >= 500 else "http_4xx"
            return ChannelFailure(kind, http["where"], status)
        return None
    unreachable = _UNREACHABLE.search(error)
    where = unreachable["where"] if unreachable else None
    reason = unreachable["reason"] if unreachable else error
    if _REFUSED.search(reason):
        return ChannelFailure("refused", where)
    if _TIMEOUT.search(reason):
        return ChannelFailure("timeout", where)
    if unreachable:
        return ChannelFailure("unreachable", where)
    return None


def load_channel(spec: str, *, timeout: float = DEFAULT_TIMEOUT) -> Channel:
    """The channel a spec names (see the module's docstring).

    Raises:
        ValueError: an unknown or malformed spec, or a factory that cannot be loaded.
    """
    kind, _, rest = spec.strip().partition(":")
    if kind == "log" and not rest:
        return LogChannel()
    if kind == "file" and rest:
        return FileChannel(rest)
    if kind == "webhook" and rest:
        return WebhookChannel(rest, timeout)
    if kind == "python" and rest:
        module_name, _, factory_rest = rest.partition(":")
        factory_name, _, arg = factory_rest.partition(":")
        try:
            factory: Any = getattr(importlib.import_module(module_name), factory_name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"cannot load the channel factory {rest!r}: {exc}") from None
        try:
            channel = factory(arg) if arg else factory()
        except (TypeError, ValueError, OSError) as exc:
            raise ValueError(f"the channel factory {rest!r} failed: {exc}") from None
        if not callable(getattr(channel, "send", None)):
            raise ValueError(f"{rest!r} did not return a channel (an object with send())")
        return channel  # type: ignore[no-any-return]
    raise ValueError(
        f"unknown notice channel {spec!r}: expected log, file:PATH, webhook:URL or "
        "python:MODULE:FACTORY[:ARG]"
    )


__all__ = [
    "ChannelError",
    "ChannelFailure",
    "FileChannel",
    "LogChannel",
    "WebhookChannel",
    "channel_failure",
    "load_channel",
    "mask_recipient",
]
