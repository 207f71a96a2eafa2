"""Throttling of failed staff logins, per account and per client address, across every worker.

Each password or TOTP step is a row of ``web_login_attempt``, written as a failure before the check
and marked as passed after it (so that concurrent tries see each other). Within ``WINDOW`` (15 minutes), an
account with ``MAX_PER_ACCOUNT`` failures (5), or an address with ``MAX_PER_ADDRESS`` (20, whatever
usernames they named), gets no further check: HTTP 429 with ``Retry-After``, the seconds until the
oldest of those failures leaves the window. A refused attempt is not counted again. Unknown
usernames count like known ones, so the lock says nothing about which accounts exist.

The address is ``request.remote_addr``: behind a reverse proxy, configure Werkzeug's ``ProxyFix``
so that it is the client's and not the proxy's.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update

from web.models import LoginAttempt

MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 20
WINDOW = timedelta(minutes=15)

attempts: Table = LoginAttempt.__table__  # type: ignore[assignment]


class TooManyAttempts(Exception):
    """Too many failed logins lately for this account (``by="account"``) or this address
    (``by="address"``); ``retry_after`` in seconds."""

    def __init__(self, by: str, retry_after: int) -> None:
        super().__init__(f"too many failed logins for this {by}; retry after {retry_after} s")
        self.by = by
        self.retry_after = retry_after


def _retry_after(conn: Connection, where: Any, limit: int, now: datetime) -> int | None:
    """Seconds until the failures matching ``where`` in the window are fewer than ``limit``;
    None when they are fewer already."""
    times = [
        row.at
        for row in conn.execute(
            select(attempts.c.at)
            .where(where, attempts.c.succeeded.is_(False), attempts.c.at > now - WINDOW)
            .order_by(attempts.c.at.desc())
            .limit(limit)
        )
    ]
    if len(times) < limit:
        return None
    freed_at = times[-1] + WINDOW  # the limit-th latest failure leaves the window then
    return max(1, math.ceil((freed_at - now).total_seconds()))


def start(db: Engine, username: str, remote_addr: str | None, now: datetime) -> int:
    """Record a login step (password or code) as failed until ``passed`` says otherwise, so that
    concurrent tries count each other; returns its id.

    Raises:
        TooManyAttempts: the account or the address is throttled; this try is not kept.
    """
    with db.begin() as conn:
        attempt_id = int(
            conn.execute(
                insert(attempts).values(
                    username=username[:64],
                    remote_addr=None if remote_addr is None else remote_addr[:64],
                    succeeded=False,
                    at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
    with db.begin() as conn:
        # this try is among the failures counted: one more than the limit is over it
        locked: TooManyAttempts | None = None
        wait = _retry_after(conn, attempts.c.username == username[:64], MAX_PER_ACCOUNT + 1, now)
        if wait is not None:
            locked = TooManyAttempts("account", wait)
        elif remote_addr is not None:
            where = attempts.c.remote_addr == remote_addr[:64]
            wait = _retry_after(conn, where, MAX_PER_ADDRESS + 1, now)
            locked = None if wait is None else TooManyAttempts("address", wait)
        if locked is not None:
            conn.execute(delete(attempts).where(attempts.c.id == attempt_id))
    if locked is not None:
        raise locked  # after the commit: raising inside would roll the delete back
    return attempt_id


def passed(db: Engine, attempt_id: int) -> None:
    """The step ``start`` recorded passed: it is no failure."""
    with db.begin() as conn:
        conn.execute(update(attempts).where(attempts.c.id == attempt_id).values(succeeded=True))
