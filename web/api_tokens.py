"""Bearer tokens of outside systems: create (shown once, stored hashed), authenticate, scopes.

Scopes: ``channel`` (counters, the app, kiosks: apply, query, report loss, pay), ``factory``
(card produced), ``tax`` (payments and deduction results), ``bank:<code>`` (that bank's cards and
its tellers' tasks), ``clerk:<region>`` (clerk tasks of a region), ``import`` (bringing in
existing people and cards), ``read`` (queries and counts).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from flask import request
from sqlalchemy import Engine, Table, insert, select

from web.api_errors import ApiError
from web.models import ApiToken

SCOPE = re.compile(r"^(channel|factory|tax|read|import|bank:[a-z0-9_]+|clerk:[a-z0-9_]+)$")
TOKEN_PREFIX = "sb_"
tokens: Table = ApiToken.__table__  # type: ignore[assignment]


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
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Engine, name: str, scopes: list[str]) -> str:
    """Store a new token for ``name``; returns the token itself, which is never stored."""
    bad = [s for s in scopes if not SCOPE.match(s)]
    if bad or not scopes:
        raise ValueError(
            f"invalid scope(s): {', '.join(bad) or '(none)'}; expected one of "
            "channel, factory, tax, read, import, bank:<code>, clerk:<region>"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.begin() as conn:
        conn.execute(insert(tokens).values(name=name, token_hash=_hash(token), scopes=scopes))
    return token


def authenticate(db: Engine) -> Caller:
    """The caller of the current request, from its ``Authorization: Bearer`` header (else 401)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "需要 Bearer 令牌", "a bearer token is required")
    with db.connect() as conn:
        row = conn.execute(
            select(tokens.c.name, tokens.c.scopes).where(
                tokens.c.token_hash == _hash(token.strip()), tokens.c.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        raise ApiError(401, "unauthenticated", "令牌无效或已吊销", "unknown or revoked token")
    return Caller(row.name, frozenset(row.scopes))


def require(caller: Caller, *accepted: str) -> None:
    """403 unless the caller holds one of ``accepted`` (``bank:*`` matches any bank scope)."""
    for scope in accepted:
        if scope in caller.scopes:
            return
        if scope.endswith(":*") and any(s.startswith(scope[:-1]) for s in caller.scopes):
            return
    raise ApiError(
        403,
        "forbidden",
        f"令牌权限不足，需要：{', '.join(accepted)}",
        f"the token's scope does not allow this; needs one of: {', '.join(accepted)}",
    )
