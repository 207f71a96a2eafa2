"""The TOTP second factor of staff logins (RFC 6238, ``pyotp``): enrolment and code checks.

Supervisors need one to log in; anyone else may have one. ``shebao users totp NAME`` makes the
secret (``web_user.totp_secret``, base32) and shows it once, with its ``otpauth://`` URI for an
authenticator app. Codes are 6 digits, 30 seconds each; one step either side is accepted (clock
drift), checked at the security clock's time (``web.sessions.security_now``). A code typed with a
Chinese input method in full-width digits (``１２３４５６``) is read as its ASCII digits (NFKC);
anything else that is not 6 ASCII digits is a wrong code.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from datetime import datetime

import pyotp
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, or_, select, update

from web.models import User

ISSUER = "shebao-workflow"
VALID_WINDOW = 1
_CODE = re.compile(r"[0-9]{6}")

users: Table = User.__table__  # type: ignore[assignment]


class SecondFactorExists(Exception):
    """The account has a TOTP secret already (replace it only when asked to)."""


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as text or a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def typed_code(code: str) -> str | None:
    """The 6 ASCII digits of a typed code: full-width digits and spaces (``１２３　４５６``) made
    ASCII (NFKC), spaces dropped; None when that is not 6 ASCII digits (``١٢٣٤٥٦``, ``abcdef``)."""
    typed = "".join(unicodedata.normalize("NFKC", code).split())
    return typed if _CODE.fullmatch(typed) else None


def code_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step whose code ``code`` (``typed_code``) is, within a step of ``now``;
    None when it is none of them."""
    typed = typed_code(code)
    if typed is None:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), typed):
            return step
    return None


def code_is_valid(secret: str, code: str, now: datetime) -> bool:
    """Whether ``code`` is the secret's code at ``now``, give or take a step (not whether it
    was used before: ``use_code`` checks that)."""
    return code_step(secret, code, now) is not None


def use_code(db: SqlEngine, user_id: int, secret: str, code: str, now: datetime) -> bool:
    """Accept ``code`` once: it must be valid now and of a later step than the last code this
    account used (a code seen by someone else cannot be played again). Atomic across requests."""
    step = code_step(secret, code, now)
    if step is None:
        return False
    with db.begin() as conn:
        changed = conn.execute(
            update(users)
            .where(
                users.c.id == user_id,
                or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        ).rowcount
    return changed == 1


def enroll(db: SqlEngine, username: str, replace: bool = False) -> str:
    """Give the account ``username`` a new TOTP secret; returns it (to be shown once).

    Raises:
        LookupError: no such account.
        SecondFactorExists: it has a secret already and ``replace`` is False.
    """
    secret = new_secret()
    with db.begin() as conn:
        row = conn.execute(
            select(users.c.id, users.c.totp_secret).where(users.c.username == username)
        ).first()
        if row is None:
            raise LookupError(username)
        if row.totp_secret and not replace:
            raise SecondFactorExists(username)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(totp_secret=secret, totp_last_step=None)
        )
    return secret
