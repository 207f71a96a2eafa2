"""The web layer's tables: staff accounts, login attempts (rate limiting) and API tokens.

They live beside the engine's tables in the same database and migrations, on their own metadata:
the engine knows nothing of users or tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, MetaData, String
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


class LoginAttempt(WebBase):
    """One login attempt, kept for rate limiting across every web worker."""

    __tablename__ = "web_login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_web_login_attempt_username_at", "username", "at"),)


class ApiToken(WebBase):
    """A bearer token of an outside system; only its SHA-256 hash is stored."""

    __tablename__ = "web_api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
