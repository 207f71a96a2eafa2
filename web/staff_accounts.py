"""Staff accounts as the operator manages them: every account listed (``list_staff``), and an
account disabled or enabled again (``set_disabled``) when someone leaves or comes back.

A disabled account (``web_user.active`` false) cannot log in: the login answers it as a wrong
password (``web.staff_login``), so the answer tells nothing; its sessions end at once, and a
request of a session it still had is no longer logged in (``web.staff.load_staff``). Disabling
and enabling are security events (``account_disabled``, ``account_enabled``), each ended session
one more (``session_revoked``, reason ``account_disabled``). Nothing is deleted: the account's
name stays in the history of what it did, and enabling it gives it back as it was (its password
and second factor unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import func, select, update

from web import sessions
from web.security_log import record
from web.staff import find_staff, users


@dataclass(frozen=True)
class StaffListing:
    """An account as ``shebao users list`` shows it: never its password hash or TOTP secret."""

    username: str
    display_name: str
    group: str
    scope: str | None
    second_factor: bool
    disabled: bool
    last_login: datetime | None
    """When its newest session began (the sessions table keeps a user's newest login)."""


def list_staff(db: SqlEngine) -> list[StaffListing]:
    """Every staff account, by username."""
    last = (
        select(sessions.sessions.c.user_id, func.max(sessions.sessions.c.created_at).label("at"))
        .group_by(sessions.sessions.c.user_id)
        .subquery()
    )
    query = (
        select(
            users.c.username,
            users.c.display_name,
            users.c.group,
            users.c.scope,
            users.c.totp_secret.is_not(None).label("second_factor"),
            users.c.active,
            last.c.at,
        )
        .outerjoin(last, last.c.user_id == users.c.id)
        .order_by(users.c.username)
    )
    with db.connect() as conn:
        rows = conn.execute(query).all()
    return [
        StaffListing(
            r.username,
            r.display_name,
            r.group,
            r.scope,
            bool(r.second_factor),
            not r.active,
            r.at,
        )
        for r in rows
    ]


def set_disabled(
    db: SqlEngine, username: str, disabled: bool, now: datetime, *, actor: str
) -> tuple[bool, list[int]]:
    """Disable ``username`` (ending every session of theirs) or enable it again; returns whether
    it changed (disabling a disabled account changes nothing and records nothing) and the ids of
    the sessions ended.

    Raises:
        LookupError: no such account.
    """
    staff = find_staff(db, username)
    if staff is None:
        raise LookupError(username)
    with db.begin() as conn:
        changed = conn.execute(
            update(users)
            .where(users.c.id == staff.id, users.c.active == disabled)
            .values(active=not disabled)
        ).rowcount
    ended = sessions.revoke_all(db, staff.id, now) if disabled else []
    if changed:
        kind = "account_disabled" if disabled else "account_enabled"
        record(db, kind, actor=actor, at=now, user=username, sessions_ended=len(ended))
    for session_id in ended:
        record(
            db,
            "session_revoked",
            actor=actor,
            at=now,
            user=username,
            session_id=session_id,
            reason="account_disabled",
        )
    return bool(changed), ended
