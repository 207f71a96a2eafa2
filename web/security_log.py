"""The security event log: logins, failures, lockouts, staff accounts disabled and enabled, token
use, creation and revocation, permission denials, imports. Each event is one structured log line
(logger ``shebao.security``, ``key=value`` pairs) and one row of ``web_security_event`` that a
supervisor can read. Events carry who acted (a staff username or a token name), from where, and
what; never personal data of the people the service serves (no ID numbers, names or card
numbers: pass counts and ids instead).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, insert, select

from web.models import SecurityEvent

log = logging.getLogger("shebao.security")
events: Table = SecurityEvent.__table__  # type: ignore[assignment]

KINDS = (
    "login_succeeded",
    "login_failed",
    "login_locked_out",
    "logout",
    "session_revoked",
    "password_changed",
    "totp_enrolled",
    "totp_failed",
    "account_disabled",
    "account_enabled",
    "permission_denied",
    "token_created",
    "token_revoked",
    "token_used",
    "token_refused",
    "token_missing",
    "import",
    "staff_search",
    "person_viewed",
    "record_viewed",
    "supervisor_intervention",
)


def record(
    db: Engine,
    kind: str,
    *,
    actor: str | None = None,
    remote_addr: str | None = None,
    at: datetime | None = None,
    reason: str | None = None,
    **detail: Any,
) -> None:
    """Write one security event (a log line and a row). ``detail`` holds plain facts (counts,
    ids, scopes, reasons), never personal data. ``reason`` is a person's own words (why a
    supervisor intervened): kept in the row, which only supervisors read, never in the log line,
    since free text may name someone."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event {kind!r}; one of {', '.join(KINDS)}")
    moment = at or datetime.now(UTC)
    log.info(
        "security_event kind=%s actor=%s remote_addr=%s detail=%s",
        kind,
        _value(actor or "-"),
        _value(remote_addr or "-"),
        _printable(json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)),
    )
    with db.begin() as conn:
        conn.execute(
            insert(events).values(
                at=moment,
                kind=kind,
                actor=None if actor is None else actor[:128],
                remote_addr=None if remote_addr is None else remote_addr[:64],
                detail={**detail, **({"reason": reason[:500]} if reason else {})} or None,
            )
        )


def _value(text: str) -> str:
    """A value of the log line as one token: as it is when it is plain (printable, no space, no
    quote, ``=`` or backslash), else quoted with everything else escaped, so that what a caller
    typed (a username with a line break, a terminal escape) can never start a line of its own
    or pass for another field."""
    if text and all(c.isprintable() and not c.isspace() and c not in '"=\\' for c in text):
        return text
    return _printable(json.dumps(text, ensure_ascii=False))


def _printable(text: str) -> str:
    """``text`` with every character that does not print (control characters, U+2028 and
    U+2029 line separators, format characters) written as a JSON escape."""
    return "".join(c if c.isprintable() else _escaped(ord(c)) for c in text)


def _escaped(code: int) -> str:
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def recent(db: Engine, limit: int = 100, kind: str | None = None) -> list[Mapping[str, Any]]:
    """The latest events, newest first (optionally of one kind)."""
    query = select(events).order_by(events.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(events.c.kind == kind)
    with db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
