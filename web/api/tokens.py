"""Bearer tokens of outside systems: create (shown once, stored hashed), list, revoke, authenticate.

Scopes: ``channel`` (counters, the app, kiosks: register, apply, query, report loss, pay),
``factory`` (card produced), ``tax`` (payments with their time and deduction results),
``bank:<code>`` (that bank's cards and its tellers' tasks), ``clerk:<region>`` (clerk tasks of a
region), ``import`` (bringing in existing people and cards), ``read`` (queries and counts) and
``admin`` (list and revoke tokens). A token holds only the scopes it was given: an endpoint names
the scopes it accepts and refuses every other token (403) before it looks anything up.

Lifecycle: a token is ``sb_`` and 43 random characters, printed once; the database keeps its
SHA-256 hash, its first 8 characters after ``sb_`` (``prefix``, to tell tokens apart in a list),
its scopes, when it was made, when it expires (365 days by default), when it was last used
(updated at most once a minute) and when it was revoked. An expired or revoked token is refused at
once (401). Times here are the real UTC time, never the service's business clock, which the demo
and ``shebao clock set`` move.

Names: a name has at most one live token (migration 0018: unique among the rows not revoked), so
a bank's token is rotated under its name: revoke it, create it again. The revoked rows stay, for
their history; a token that expired unrevoked is revoked when its name is given again (a
``token_revoked`` event, reason ``name_reused``). Listings show each row with its prefix and
status; its creation, revocation and refusals name its prefix beside its name (a use names the
name only: the one token live under it then).

Security events: creation, revocation and each refusal (``token_refused``, and
``token_missing`` for a request without a bearer token, so that probing the API without
credentials shows too: one event per refusal, neither throttled); of the uses, a token's first
use on each calendar day in Beijing (``token_used``, with the operation and the address it came
from, and whether it is the token's first use ever): what an audit of a token asks (was it
used, on which days, from where) without one row per request, which would bury every other event.
The update of "last used" that opens a new day decides it, so one worker writes it, whichever.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import request
from sqlalchemy import Engine, Select, Table, Update, bindparam, insert, or_, select, update

from web import security_log
from web.api.errors import ApiError
from web.event_throttle import throttle
from web.models import ApiToken
from web.reads import reader
from workflows.service_date import SERVICE_ZONE

SCOPE = re.compile(r"^(channel|factory|tax|read|import|admin|bank:[a-z0-9_]+|clerk:[a-z0-9_]+)$")
SCOPES_TEXT = "channel, factory, tax, read, import, admin, bank:<code>, clerk:<region>"
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOKEN_PREFIX = "sb_"
PREFIX_LENGTH = 8
DEFAULT_DAYS = 365
MAX_DAYS = 3650
LAST_USED_EVERY = timedelta(minutes=1)
tokens: Table = ApiToken.__table__  # type: ignore[assignment]


def utcnow() -> datetime:
    """The real time (tests replace it); token lifetimes never follow the business clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Caller:
    """The authenticated outside system."""

    name: str
    scopes: frozenset[str]

    def banks(self) -> set[str]:
        return {s.split(":", 1)[1] for s in self.scopes if s.startswith("bank:")}

    def regions(self) -> set[str]:
        return {s.split(":", 1)[1] for s in self.scopes if s.startswith("clerk:")}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    db: Engine,
    name: str,
    scopes: list[str],
    *,
    expires_in_days: int = DEFAULT_DAYS,
    actor: str = "cli",
) -> str:
    """Store a new token for ``name``; returns the token itself, which is never stored.

    Raises:
        ValueError: a bad name, scope or lifetime.
        sqlalchemy.exc.IntegrityError: a live token of that name exists (neither revoked nor
            expired: an expired one is revoked, its name given to the new one).
    """
    if not TOKEN_NAME.match(name):
        raise ValueError(
            "a token name is 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    bad = [s for s in scopes if not SCOPE.match(s)]
    if bad or not scopes:
        raise ValueError(
            f"invalid scope(s): {', '.join(bad) or '(none)'}; expected one of {SCOPES_TEXT}"
        )
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_DAYS} days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    prefix = token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + PREFIX_LENGTH]
    unique = sorted(set(scopes))
    with db.begin() as conn:
        expired = conn.execute(
            select(tokens.c.id, tokens.c.prefix).where(
                tokens.c.name == name, tokens.c.revoked_at.is_(None), tokens.c.expires_at <= now
            )
        ).all()
        if expired:
            ids = [row.id for row in expired]
            conn.execute(update(tokens).where(tokens.c.id.in_(ids)).values(revoked_at=now))
        conn.execute(
            insert(tokens).values(
                name=name,
                token_hash=_hash(token),
                scopes=unique,
                prefix=prefix,
                created_at=now,
                expires_at=now + timedelta(days=expires_in_days),
            )
        )
    for row in expired:
        security_log.record(
            db, "token_revoked", actor=actor, token=name, prefix=row.prefix, reason="name_reused"
        )
    security_log.record(
        db,
        "token_created",
        actor=actor,
        token=name,
        prefix=prefix,
        scopes=unique,
        expires_in_days=expires_in_days,
    )
    return token


def status_of(row: Any, now: datetime | None = None) -> str:
    """``valid``, ``expired`` or ``revoked``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "valid"


def list_tokens(db: Engine, name: str | None = None) -> list[dict[str, Any]]:
    """Every token (or those named ``name``), by name, the oldest first: what it may do and its
    dates (never the token or its hash). A rotated name has a revoked row before its live one."""
    columns = (
        tokens.c.name,
        tokens.c.prefix,
        tokens.c.scopes,
        tokens.c.created_at,
        tokens.c.expires_at,
        tokens.c.last_used_at,
        tokens.c.revoked_at,
    )
    query = select(*columns).order_by(tokens.c.name, tokens.c.created_at, tokens.c.id)
    if name is not None:
        query = query.where(tokens.c.name == name)
    now = utcnow()
    with db.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {**row._asdict(), "scopes": list(row.scopes or []), "status": status_of(row, now)}
        for row in rows
    ]


def find_token(db: Engine, name: str) -> dict[str, Any] | None:
    """The token ``name``: its live one (not revoked), else the newest revoked."""
    found = list_tokens(db, name)
    live = [t for t in found if t["revoked_at"] is None]
    return (live or found)[-1] if found else None


def revoke_token(db: Engine, name: str, *, actor: str = "cli") -> dict[str, Any] | None:
    """Revoke the live token ``name`` from now on; None if there is no token of that name.
    Revoking twice keeps the first time (the newest revoked row is answered)."""
    with db.begin() as conn:
        live = conn.execute(
            select(tokens.c.id, tokens.c.prefix).where(
                tokens.c.name == name, tokens.c.revoked_at.is_(None)
            )
        ).first()
        if live is not None:
            conn.execute(update(tokens).where(tokens.c.id == live.id).values(revoked_at=utcnow()))
    if live is not None:
        security_log.record(db, "token_revoked", actor=actor, token=name, prefix=live.prefix)
    return find_token(db, name)


def _refuse(db: Engine, reason: str, row: Any = None) -> ApiError:
    """401, recorded with the token's name and prefix when the token is known (a flood from one
    address recorded in part: ``web.event_throttle``)."""
    known = {} if row is None else {"token": row.name, "prefix": row.prefix}
    left_out = throttle().admit("token_refused", request.remote_addr)
    if left_out is not None:
        security_log.record(
            db,
            "token_refused",
            actor=None if row is None else row.name,
            remote_addr=request.remote_addr,
            reason=reason,
            **known,
            **_left_out(left_out),
        )
    message = {
        "unknown": ("令牌无效", "unknown token"),
        "expired": ("令牌已过期", "the token has expired"),
        "revoked": ("令牌已吊销", "the token has been revoked"),
    }[reason]
    return ApiError(401, "unauthenticated", *message)


def _left_out(count: int) -> dict[str, Any]:
    """The detail a recorded refusal adds for the ones from its address left out before it."""
    return {"suppressed_before": count} if count else {}


def _missing(db: Engine, header: str, scheme: str) -> ApiError:
    """401 for a request without a bearer token, recorded as a ``token_missing`` event: the
    address, the operation (the URL rule, never the path) and why, by a code (``no_header``,
    ``not_bearer``: another scheme, ``no_token``: ``Bearer`` and nothing after it); never the
    header's value, which may be someone's password in another scheme. A flood from one address
    is recorded in part (``web.event_throttle``)."""
    if not header.strip():
        reason = "no_header"
    elif scheme.lower() != "bearer":
        reason = "not_bearer"
    else:
        reason = "no_token"
    rule = request.url_rule.rule if request.url_rule is not None else None
    left_out = throttle().admit("token_missing", request.remote_addr)
    if left_out is not None:
        security_log.record(
            db,
            "token_missing",
            remote_addr=request.remote_addr,
            reason=reason,
            method=request.method,
            endpoint=rule,
            **_left_out(left_out),
        )
    return ApiError(401, "unauthenticated", "需要 Bearer 令牌", "a bearer token is required")


def authenticate(db: Engine) -> Caller:
    """The caller of the current request, from its ``Authorization: Bearer`` header (else 401).

    An unknown, expired or revoked token is refused and the refusal recorded (without the token);
    so is a request without one (``token_missing``, without the header).
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _missing(db, header, scheme)
    found = reader(db)
    row = found.one(found.prepared("api_token", _by_hash), {"token_hash": _hash(token)})
    if row is None:
        raise _refuse(db, "unknown")
    now = utcnow()
    state = status_of(row, now)
    if state != "valid":
        raise _refuse(db, state, row)
    day_start = _start_of_day(now)
    if row.last_used_at is None or row.last_used_at < day_start:
        # the day's first use: recorded by the one request whose update opened the day
        if _touch(db, row.id, now, before=day_start - timedelta(microseconds=1)):
            _record_use(db, row, now, first_use=row.last_used_at is None)
    elif now - row.last_used_at >= LAST_USED_EVERY:
        _touch(db, row.id, now, before=now - LAST_USED_EVERY)
    return Caller(row.name, frozenset(row.scopes or ()))


def _start_of_day(now: datetime) -> datetime:
    """When ``now``'s calendar day began in China (the service's ``SERVICE_ZONE``), in UTC: a
    token's daily ``token_used`` event follows the staff's day."""
    local = now.astimezone(SERVICE_ZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _record_use(db: Engine, row: Any, now: datetime, *, first_use: bool) -> None:
    """The ``token_used`` event of a token's first use on a day: the token, its scopes, the
    operation (the URL rule, never the path) and the address; never the token itself."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    security_log.record(
        db,
        "token_used",
        actor=f"api:{row.name}",
        remote_addr=request.remote_addr,
        at=now,
        token=row.name,
        scopes=sorted(row.scopes or ()),
        method=request.method,
        endpoint=rule,
        first_use=first_use,
    )


def _by_hash() -> Select[Any]:
    """The token with a hash (the unique index on ``token_hash``): what ``authenticate`` needs."""
    return select(
        tokens.c.id,
        tokens.c.name,
        tokens.c.prefix,
        tokens.c.scopes,
        tokens.c.expires_at,
        tokens.c.revoked_at,
        tokens.c.last_used_at,
    ).where(tokens.c.token_hash == bindparam("token_hash"))


def _touch_statement() -> Update:
    return (
        update(tokens)
        .where(
            tokens.c.id == bindparam("token_id"),
            or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at <= bindparam("before")),
        )
        .values(last_used_at=bindparam("now"))
    )


def _touch(db: Engine, token_id: int, now: datetime, *, before: datetime) -> bool:
    """Note the use unless the token's last use is after ``before`` (a minute ago: at most once
    a minute per token; the day's start: the day's first use). One conditional UPDATE, any
    worker; on its own, it commits at once. Whether this request's UPDATE changed the row: of
    workers racing, one."""
    found = reader(db)
    changed = found.run(
        found.prepared("api_token_touch", _touch_statement),
        {"token_id": token_id, "before": before, "now": now},
    )
    return changed > 0


def holds(caller: Caller, *accepted: str) -> bool:
    """Whether the caller holds one of ``accepted`` (``bank:*`` matches any bank scope)."""
    for scope in accepted:
        if scope in caller.scopes:
            return True
        if scope.endswith(":*") and any(s.startswith(scope[:-1]) for s in caller.scopes):
            return True
    return False


def forbidden(accepted: tuple[str, ...] | list[str]) -> ApiError:
    return ApiError(
        403,
        "forbidden",
        f"令牌权限不足，需要：{', '.join(accepted)}",
        f"the token's scope does not allow this; needs one of: {', '.join(accepted)}",
    )


def require(caller: Caller, *accepted: str) -> None:
    """403 unless the caller holds one of ``accepted`` (``bank:*`` matches any bank scope)."""
    if not holds(caller, *accepted):
        raise forbidden(accepted)
