"""The steps of a staff login, as operations: the password (``authenticate``), the TOTP code
(``check_second_factor``), then the session (``open_session``, ``end_session``).

A login is one or two steps: the password (throttled per account and per address by
``web.login_throttle``; an unknown user gets the same answer in about the same time as a wrong
password, a dummy hash being checked), then, for an account with a TOTP secret, the 6-digit code
(``web.mfa``). Only the last step opens a session (``web.sessions``); supervisors must have a
secret. Each step writes its security events (``web.security_log``) and never reads Flask's
request or session (``web.auth`` does, for the pages).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import NoReturn

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from web import login_throttle, mfa, sessions
from web.login_throttle import TooManyAttempts
from web.security_log import record
from web.staff import Staff, safe_name, staff_from_row, users


class LoginRefused(Exception):
    """Wrong username or password (or TOTP code), or a deactivated account."""


@cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so that they take as long as wrong passwords."""
    return generate_password_hash("no such user: a password nobody has")


def authenticate(
    db: SqlEngine, username: str, password: str, remote_addr: str | None, now: datetime
) -> Staff:
    """The password step of a login: check it and record the attempt (and a security event
    when it fails). It opens no session (``open_session`` does, after the TOTP step if any).

    Raises:
        TooManyAttempts: the account or the address is throttled (``web.login_throttle``).
        LoginRefused: wrong username or password, or the account is deactivated.
    """
    name = safe_name(username) or ""
    try:
        attempt = login_throttle.start(db, name, remote_addr, now)
    except TooManyAttempts as exc:
        _locked_out(db, exc, name, remote_addr, now, "password")
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    stored = row.password_hash if row is not None else _dummy_hash()
    ok = check_password_hash(stored, password) and row is not None and bool(row.active)
    if not ok or row is None:
        disabled = row is not None and not row.active  # the same answer; the log says why
        record(
            db,
            "login_failed",
            actor=name,
            remote_addr=remote_addr,
            at=now,
            reason="account_disabled" if disabled else "bad_credentials",
            known_user=row is not None,
        )
        raise LoginRefused(name)
    login_throttle.passed(db, attempt)
    return staff_from_row(row)


def _locked_out(
    db: SqlEngine,
    exc: TooManyAttempts,
    actor: str,
    remote_addr: str | None,
    now: datetime,
    step: str,
) -> NoReturn:
    record(
        db,
        "login_locked_out",
        actor=actor,
        remote_addr=remote_addr,
        at=now,
        by=exc.by,
        retry_after=exc.retry_after,
        step=step,
    )
    raise exc


def check_second_factor(
    db: SqlEngine, user_id: int, code: str, remote_addr: str | None, now: datetime
) -> Staff:
    """The TOTP step: the code of the account ``user_id`` (throttled with the passwords).

    Raises:
        TooManyAttempts: the account or the address is throttled.
        LoginRefused: a wrong code, or the account is gone, deactivated or has no secret.
    """
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None or not row.active or not row.totp_secret:
        raise LoginRefused(str(user_id))
    try:
        attempt = login_throttle.start(db, row.username, remote_addr, now)
    except TooManyAttempts as exc:
        _locked_out(db, exc, row.username, remote_addr, now, "totp")
    if not mfa.use_code(db, row.id, row.totp_secret, code, now):
        record(db, "totp_failed", actor=row.username, remote_addr=remote_addr, at=now)
        raise LoginRefused(row.username)
    login_throttle.passed(db, attempt)
    return staff_from_row(row)


def open_session(
    db: SqlEngine,
    staff: Staff,
    now: datetime,
    limits: sessions.Limits,
    *,
    remote_addr: str | None = None,
    user_agent: str | None = None,
    replaces: str | None = None,
    mfa_used: bool = False,
    reason: str = "login",
) -> str:
    """Log ``staff`` in: a new session (the one the browser came with, ``replaces``, is ended);
    returns the new session id for the cookie. ``reason``: ``login``, or why a logged-in user gets
    a new session (``password_changed``).

    Raises:
        LoginRefused: the account may not use the pages (``Staff.refusal``).
    """
    if staff.refusal is not None:
        raise LoginRefused(staff.username)
    if replaces:
        old = sessions.find_live(db, replaces, now, limits)
        if old is not None:
            sessions.revoke(db, old.id, now)
    sid, session_id = sessions.start_session(db, staff.id, now, limits, remote_addr, user_agent)
    record(
        db,
        "login_succeeded",
        actor=staff.username,
        remote_addr=remote_addr,
        at=now,
        session_id=session_id,
        mfa=mfa_used,
        reason=reason,
    )
    return sid


def end_session(
    db: SqlEngine,
    staff: Staff,
    session_id: int,
    now: datetime,
    *,
    remote_addr: str | None = None,
    logout: bool = False,
) -> bool:
    """End one of ``staff``'s sessions (their logout, or from the sessions page); False when
    it was not theirs or not live."""
    ended = sessions.revoke(db, session_id, now, user_id=staff.id)
    if ended:
        kind = "logout" if logout else "session_revoked"
        record(
            db, kind, actor=staff.username, remote_addr=remote_addr, at=now, session_id=session_id
        )
    return ended
