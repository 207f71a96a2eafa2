"""Staff accounts as operations (``create_user``, ``set_password``, ``set_scope``) and who may
read or act on a task (``can_read_task``, ``can_act_on_task``); the steps of a login are
``web.staff_login``.

Deny by default: every group but supervisors works within one scope (a bank or a region), and a
user without a scope reads nothing. Each operation writes its security events
(``web.security_log``); they never read Flask's request or session (``web.auth`` does, for the
pages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, insert, select, update
from werkzeug.security import generate_password_hash

from web import sessions
from web.models import LoginAttempt, User
from web.passwords import check_new_password
from web.security_log import record
from workflows.identity import mask_id_number

GROUPS = ("social_security_clerk", "bank_teller", "medical_insurance_clerk", "supervisor")
SUPERVISOR = "supervisor"

users: Table = User.__table__  # type: ignore[assignment]
attempts: Table = LoginAttempt.__table__  # type: ignore[assignment]
ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")
"""What looks like a resident ID number (typed by mistake): masked before it is logged or shown."""


@dataclass(frozen=True)
class Staff(UserMixin):  # type: ignore[misc]
    """A logged-in staff member, as the pages see one."""

    id: int
    username: str
    display_name: str
    group: str
    scope: str | None
    active: bool = True
    has_totp: bool = False

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @property
    def is_supervisor(self) -> bool:
        return self.group == SUPERVISOR

    def get_id(self) -> str:
        return str(self.id)

    @property
    def refusal(self) -> str | None:
        """Why this account may not use the pages now (a word of ``i18n``), or None."""
        if self.is_supervisor and not self.has_totp:
            return "totp_setup_needed"
        if not self.is_supervisor and not self.scope:
            return "no_scope"
        return None


def staff_from_row(row: Any) -> Staff:
    return Staff(
        row.id,
        row.username,
        row.display_name,
        row.group,
        row.scope,
        row.active,
        bool(row.totp_secret),
    )


def safe_name(text: str | None) -> str | None:
    """A typed username as logs may keep it: an ID number typed by mistake is masked."""
    if text is None:
        return None
    return mask_id_number(text) if ID_LIKE.fullmatch(text.strip()) else text[:64]


# -- accounts --------------------------------------------------------------------------------


def check_group_scope(group: str, scope: str | None) -> None:
    """Deny by default: every group but supervisors works within one scope (a bank or a region);
    supervisors read everything and have none.

    Raises:
        ValueError: unknown group, a scope missing or given where it does not belong.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; one of: {', '.join(GROUPS)}")
    if group == SUPERVISOR and scope:
        raise ValueError("a supervisor has no scope (supervisors read every scope)")
    if group != SUPERVISOR and not scope:
        raise ValueError(f"a {group} needs a scope (a bank key for a teller, a region for a clerk)")


def create_user(
    db: SqlEngine,
    username: str,
    password: str,
    group: str,
    scope: str | None = None,
    display_name: str | None = None,
) -> Staff:
    """Create a staff account with a hashed password. The password rules
    (``web.passwords``) are the caller's to apply: the commands and pages that let people choose
    one apply them.

    Raises:
        ValueError: unknown group, a clerk or teller without a scope, a supervisor with one, or
            an empty username or password.
    """
    check_group_scope(group, scope)
    if not username.strip() or not password:
        raise ValueError("a username and a password are needed")
    values = {
        "username": username.strip(),
        "display_name": display_name or username.strip(),
        "password_hash": generate_password_hash(password),
        "group": group,
        "scope": scope or None,
        "active": True,
    }
    with db.begin() as conn:
        user_id = conn.execute(insert(users).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return Staff(int(user_id), values["username"], values["display_name"], group, values["scope"])


def load_staff(db: SqlEngine, user_id: int) -> Staff | None:
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    return staff_from_row(row)


def find_staff(db: SqlEngine, username: str) -> Staff | None:
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    return None if row is None else staff_from_row(row)


def set_password(
    db: SqlEngine,
    username: str,
    password: str,
    now: datetime,
    *,
    actor: str,
    remote_addr: str | None = None,
) -> list[int]:
    """Give ``username`` a new password (the rules apply) and end every session of theirs;
    returns the ids of the sessions ended.

    Raises:
        LookupError: no such account.
        web.passwords.WeakPassword: the password breaks a rule.
    """
    check_new_password(password, username)
    staff = find_staff(db, username)
    if staff is None:
        raise LookupError(username)
    with db.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == staff.id)
            .values(password_hash=generate_password_hash(password), password_changed_at=now)
        )
    ended = sessions.revoke_all(db, staff.id, now)
    record(
        db,
        "password_changed",
        actor=actor,
        remote_addr=remote_addr,
        at=now,
        user=username,
        sessions_ended=len(ended),
    )
    for session_id in ended:
        record(
            db,
            "session_revoked",
            actor=actor,
            remote_addr=remote_addr,
            at=now,
            user=username,
            session_id=session_id,
            reason="password_changed",
        )
    return ended


def set_scope(db: SqlEngine, username: str, scope: str) -> Staff:
    """Set the scope of a clerk's or teller's account.

    Raises:
        LookupError: no such account.
        ValueError: the account is a supervisor's, or the scope is empty.
    """
    staff = find_staff(db, username)
    if staff is None:
        raise LookupError(username)
    check_group_scope(staff.group, scope)
    with db.begin() as conn:
        conn.execute(update(users).where(users.c.id == staff.id).values(scope=scope))
    return Staff(
        staff.id,
        staff.username,
        staff.display_name,
        staff.group,
        scope,
        staff.active,
        staff.has_totp,
    )


# -- who may read or act on a task ---------------------------------------------------------


def in_scope(user: Staff, task: Mapping[str, Any]) -> bool:
    """The task is one of the user's group and of the user's scope; a user without a scope has
    none (deny by default)."""
    return (
        task["candidate_group"] == user.group
        and user.scope is not None
        and task["scope"] == user.scope
    )


def can_read_task(user: Staff, task: Mapping[str, Any]) -> bool:
    """Supervisors read every task; everyone else the tasks of their group and scope."""
    return user.is_supervisor or in_scope(user, task)


def can_act_on_task(user: Staff, task: Mapping[str, Any]) -> bool:
    """Only the task's own group, within scope, claims and completes it (not supervisors)."""
    return in_scope(user, task)
