"""Staff login sessions, kept server-side in ``web_session``.

The browser holds one cookie, ``shebao_sid``: a random session id (256 bits) and nothing else; the
table stores its SHA-256 (``sid_hash``), so a copy of the database opens no session. Every request
that reads the user looks the row up: an unknown, revoked, idle (``last_seen_at`` older than
``SHEBAO_SESSION_IDLE_MINUTES``, 30 by default) or expired (``expires_at``, at most
``SHEBAO_SESSION_MAX_HOURS`` after login, 12 by default) session is no session. ``last_seen_at`` is
written at most once a minute. Logging in always makes a new id (and revokes the one the browser
came with); logging out revokes the row.
A session's saved staff searches (``web_search_query``) are deleted when it ends (logout, password
change, ending other sessions) and, for one that expired or went idle, at the next login or
search of anyone (or when its browser comes back).

Times are the security clock's (``security_now``): the engine's clock as injected (tests move a
``SimulatedClock``), or, under the service clock that a demo sets years back, the real time it runs
on, which an authenticator app reads too.

Flask's own signed cookie still carries the language, flash messages, the CSRF token and the
half-done login of a user with a second factor; it grants nothing by itself.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, current_app, g
from flask import Response as FlaskResponse
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, delete, insert, select, update
from werkzeug.wrappers import Response

from engine.clock import Clock, DatabaseClock, OffsetClock
from web.models import SearchQuery, StaffSession

COOKIE = "shebao_sid"
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written when it is at least this old (not on every request)."""
KEEP_ENDED = timedelta(days=30)
"""Ended sessions of a user are deleted this long after their end, at the user's next login."""
DEFAULT_IDLE_MINUTES = 30
DEFAULT_MAX_HOURS = 12

sessions: Table = StaffSession.__table__  # type: ignore[assignment]
searches: Table = SearchQuery.__table__  # type: ignore[assignment]
"""A login session's saved staff searches (``web.pages.search``): they end with the session."""


@dataclass(frozen=True)
class Limits:
    """How long a session lives: since its last request (idle) and since login (absolute)."""

    idle: timedelta = timedelta(minutes=DEFAULT_IDLE_MINUTES)
    max_age: timedelta = timedelta(hours=DEFAULT_MAX_HOURS)


def limits_of(config: Mapping[str, Any]) -> Limits:
    """The limits in ``config`` (``SHEBAO_SESSION_IDLE_MINUTES``, ``SHEBAO_SESSION_MAX_HOURS``;
    numbers or the strings the environment gives)."""
    idle = float(config.get("SHEBAO_SESSION_IDLE_MINUTES") or DEFAULT_IDLE_MINUTES)
    hours = float(config.get("SHEBAO_SESSION_MAX_HOURS") or DEFAULT_MAX_HOURS)
    if idle <= 0 or hours <= 0:
        raise ValueError("SHEBAO_SESSION_IDLE_MINUTES and SHEBAO_SESSION_MAX_HOURS must be > 0")
    return Limits(timedelta(minutes=idle), timedelta(hours=hours))


def tls_enabled(config: Mapping[str, Any]) -> bool:
    """``SHEBAO_TLS=1``: the service is reached over HTTPS (secure cookies, HSTS)."""
    return str(config.get("SHEBAO_TLS", "")).strip().lower() in ("1", "true", "yes", "on")


def security_clock(app: Flask | None = None) -> Clock:
    """The clock of sessions, login throttling and TOTP codes: the engine's clock, except that the
    service clock (``DatabaseClock``, an ``OffsetClock``) is unwrapped to the real clock it runs on:
    a demo sets the service date years back, and neither a session's age nor a phone's TOTP code
    moves with it."""
    from web.extensions import engine_of

    clock: Clock = engine_of(app).clock
    while isinstance(clock, DatabaseClock | OffsetClock):
        clock = clock.base
    return clock


def security_now(app: Flask | None = None) -> datetime:
    return security_clock(app).now()


def hash_sid(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


# -- operations ------------------------------------------------------------------------------


def start_session(
    db: SqlEngine,
    user_id: int,
    now: datetime,
    limits: Limits,
    remote_addr: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, int]:
    """A new session of ``user_id``; returns its id for the cookie (never stored) and its row id."""
    sid = secrets.token_urlsafe(32)
    with db.begin() as conn:
        forget_ended_searches(conn, now, limits)
        conn.execute(
            delete(sessions).where(
                sessions.c.user_id == user_id, sessions.c.expires_at < now - KEEP_ENDED
            )
        )
        row_id = conn.execute(
            insert(sessions).values(
                sid_hash=hash_sid(sid),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + limits.max_age,
                remote_addr=None if remote_addr is None else remote_addr[:64],
                user_agent=None if user_agent is None else user_agent[:200],
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    return sid, int(row_id)


def forget_searches(conn: Any, session_ids: list[int]) -> None:
    """Delete the saved searches (ID numbers, names) of the ended sessions ``session_ids``."""
    if session_ids:
        conn.execute(delete(searches).where(searches.c.session_id.in_(session_ids)))


def forget_ended_searches(conn: Any, now: datetime, limits: Limits) -> None:
    """Delete the saved searches of every session that has ended (logged out, revoked, expired,
    idle too long, or deleted): run at each login and search, so no search outlives the
    login that made it, even when its user never comes back."""
    c = sessions.c
    live = select(c.id).where(
        c.revoked_at.is_(None), c.expires_at > now, c.last_seen_at >= now - limits.idle
    )
    conn.execute(delete(searches).where(searches.c.session_id.not_in(live.scalar_subquery())))


def is_live(row: Any, now: datetime, limits: Limits) -> bool:
    """Not revoked, not past its end, not idle too long."""
    return row.revoked_at is None and now < row.expires_at and now - row.last_seen_at <= limits.idle


def find_live(
    db: SqlEngine, sid: str, now: datetime, limits: Limits, *, touch: bool = True
) -> Any | None:
    """The live session row whose id is ``sid`` (None for an unknown or ended one); with
    ``touch``, its ``last_seen_at`` is moved to ``now`` when it is a minute old or more (the row
    returned says so). A page asking how long its session has left does not touch it."""
    if not sid or len(sid) > 128:
        return None
    with db.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.sid_hash == hash_sid(sid))).first()
    if row is None:
        return None
    if not is_live(row, now, limits):
        with db.begin() as conn:  # an expired or idle session's searches end with it
            forget_searches(conn, [row.id])
        return None
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        row = keep_alive(db, row.id, now)
    return row


def keep_alive(db: SqlEngine, session_id: int, now: datetime) -> Any:
    """Count ``now`` as the session's last activity (its idle time starts again); the row."""
    with db.begin() as conn:
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen_at=now))
        return conn.execute(select(sessions).where(sessions.c.id == session_id)).one()


def seconds_left(row: Any, now: datetime, limits: Limits) -> tuple[int, int]:
    """How long the session lives without another request (idle), and at most (its end)."""
    idle = limits.idle - (now - row.last_seen_at)
    return max(0, int(idle.total_seconds())), max(0, int((row.expires_at - now).total_seconds()))


def revoke(db: SqlEngine, session_id: int, now: datetime, user_id: int | None = None) -> bool:
    """End one session (of ``user_id`` only, when given); False if there was no such live one."""
    query = update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(sessions.c.user_id == user_id)
    with db.begin() as conn:
        ended = bool(conn.execute(query.values(revoked_at=now)).rowcount)
        if ended:
            forget_searches(conn, [session_id])
        return ended


def revoke_all(db: SqlEngine, user_id: int, now: datetime, keep: int | None = None) -> list[int]:
    """End every session of ``user_id`` (but ``keep``); returns the ids of those ended."""
    where = [sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)]
    if keep is not None:
        where.append(sessions.c.id != keep)
    with db.begin() as conn:
        ended = [r.id for r in conn.execute(select(sessions.c.id).where(*where))]
        if ended:
            conn.execute(update(sessions).where(sessions.c.id.in_(ended)).values(revoked_at=now))
            forget_searches(conn, ended)
    return ended


def live_sessions(
    db: SqlEngine, user_id: int, now: datetime, limits: Limits
) -> list[dict[str, Any]]:
    """The user's live sessions, the latest login first."""
    query = (
        select(sessions)
        .where(
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
        )
        .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
    )
    with db.connect() as conn:
        rows = list(conn.execute(query))
    return [dict(r._mapping) for r in rows if is_live(r, now, limits)]


# -- the request's session -------------------------------------------------------------------


def limits() -> Limits:
    return limits_of(current_app.config)


def current() -> Any | None:
    """The session row of this request (after the user was loaded), or None."""
    return g.get("staff_session")


def set_current(row: Any | None) -> None:
    g.staff_session = row


def cookie_of(request: Any) -> str | None:
    return request.cookies.get(COOKIE) or None


def mark_dead() -> None:
    """The browser's session id leads nowhere: the cookie is deleted with this response."""
    g.staff_session_dead = True


def was_dead() -> bool:
    return bool(g.get("staff_session_dead"))


def set_cookie(response: Response, sid: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure over TLS, gone when the browser closes
    (the server ends the session anyway)."""
    response.set_cookie(
        COOKIE,
        sid,
        httponly=True,
        samesite="Lax",
        secure=tls_enabled(current_app.config),
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(
        COOKIE, httponly=True, samesite="Lax", secure=tls_enabled(current_app.config), path="/"
    )


def _drop_dead_cookie(response: Response) -> Response:
    if was_dead() and not any(
        h.startswith(f"{COOKIE}=") for h in response.headers.getlist("Set-Cookie")
    ):
        clear_cookie(response)
    return response


class LazyCookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, without its work where there is no cookie to read or write.

    Flask builds its signer on every request and works out every cookie attribute before it
    finds the session empty: ~55 us per request, which every API call paid for a cookie it never
    sends. Here a request without the cookie gets an empty session at once (the signer is only
    built to read or write one), and an empty session nobody changed is saved as Flask saves it,
    by adding ``Vary: Cookie`` if it was read, and nothing else.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: FlaskResponse) -> None:
        if not session and not session.modified:
            if session.accessed:
                if "Vary" in response.headers:
                    response.vary.add("Cookie")
                else:  # the same header, without parsing and rewriting an absent one
                    response.headers["Vary"] = "Cookie"
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    """Cookie flags for Flask's own cookie too, the limits checked once, dead cookies dropped."""
    app.session_interface = LazyCookieSessions()
    tls = tls_enabled(app.config)
    session_limits = limits_of(app.config)  # a bad setting fails at start, not at a login
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=tls,
        PERMANENT_SESSION_LIFETIME=session_limits.max_age,
    )
    if tls:
        app.config["PREFERRED_URL_SCHEME"] = "https"
    app.after_request(_drop_dead_cookie)
