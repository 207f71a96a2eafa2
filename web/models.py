"""The web layer's tables: staff accounts, login attempts (rate limiting) and API tokens.

They live beside the engine's tables in the same database and migrations, on their own metadata:
the engine knows nothing of users or tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, MetaData, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.models import NAMING, UtcDateTime, utcnow


class WebBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(WebBase):
    """A staff member: one candidate group, and a scope (a bank, or a region) where it applies."""

    __tablename__ = "web_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    group: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    """Base32 secret of the user's TOTP second factor (pyotp); None: no second factor yet."""
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    """The 30-second step of the last code accepted: a code is good once (no replay)."""


class StaffSession(WebBase):
    """A staff member's login session, kept server-side: the cookie holds only its random id,
    stored here as a hash; revoked at logout and on a password change; idle and absolute
    timeouts are checked on every request."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class SecurityEvent(WebBase):
    """A security-relevant event (login, failure, lockout, token use, denial, import): what, who,
    from where, when; never personal data of the people the service serves."""

    __tablename__ = "web_security_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(128))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_web_security_event_at", "at"),)


class LoginAttempt(WebBase):
    """One login attempt, kept for rate limiting across every web worker."""

    __tablename__ = "web_login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_web_login_attempt_username_at", "username", "at"),
        Index("ix_web_login_attempt_remote_addr_at", "remote_addr", "at"),
    )


LIVE_TOKEN = text("revoked_at IS NULL")


class ApiToken(WebBase):
    """A bearer token of an outside system; only its SHA-256 hash is stored. Its name is unique
    among the tokens not revoked (migration 0018): a bank's token is rotated under its name, the
    revoked rows kept for their history (``web.api.tokens``)."""

    __tablename__ = "web_api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prefix: Mapped[str | None] = mapped_column(String(16))
    """The token's first characters, shown to tell tokens apart (never enough to use one)."""
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "uq_web_api_token_live_name",
            "name",
            unique=True,
            sqlite_where=LIVE_TOKEN,
            postgresql_where=LIVE_TOKEN,
        ),
    )


class TaskFilter(WebBase):
    """A saved inbox filter (Camunda Tasklist's filters): private to its owner, or shared with a
    group when ``shared_group`` is set. ``criteria`` holds the inbox's query parameters."""

    __tablename__ = "web_task_filter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128), index=True)
    shared_group: Mapped[str | None] = mapped_column(String(64), index=True)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SearchQuery(WebBase):
    """A staff search's query, kept server-side for post/redirect/get: the results page is
    ``GET /search/results/<token>``, the token opaque and good only in the login session that
    made it, so the query (an ID number, a name) never goes into a URL or Flask's cookie. Rows
    live no longer than a login session can (``web.pages.search``)."""

    __tablename__ = "web_search_query"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    query: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
