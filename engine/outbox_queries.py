"""The outbox as pages, the API and the command line read it: notices with their delivery state.

``engine.notices`` writes the notices, ``engine.outbox`` delivers them; this module only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Table, func, select

from engine.models import Notice
from engine.runtime import Engine

NOTICES: Table = Notice.__table__  # type: ignore[assignment]
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)


@dataclass(frozen=True)
class NoticeRow:
    """One notice with its delivery state."""

    id: int
    instance_id: int | None
    process: str | None
    event: str | None
    kind: str
    recipient: str | None
    channel: str
    text_zh: str
    text_en: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    locked_by: str | None
    lock_expires_at: datetime | None
    delivered_at: datetime | None

    @property
    def next_attempt_at(self) -> datetime | None:
        """When a pending notice is tried next (None: at once, or not pending); while a worker
        holds it, when its lease ends."""
        return self.lock_expires_at if self.status == PENDING else None


def list_notices(
    engine: Engine,
    *,
    instance_ids: Sequence[int] | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[NoticeRow]:
    """Notices, newest first: of some instances, or all; of one status, or any."""
    columns = [NOTICES.c[f.name] for f in fields(NoticeRow)]
    query = select(*columns).order_by(NOTICES.c.id.desc()).limit(limit)
    if instance_ids is not None:
        if not instance_ids:
            return []
        query = query.where(NOTICES.c.instance_id.in_(list(instance_ids)))
    if status:
        query = query.where(NOTICES.c.status == status)
    with engine.db.connect() as conn:
        return [NoticeRow(**row._asdict()) for row in conn.execute(query)]


def count_by_status(engine: Engine) -> dict[str, int]:
    """Notices per status (every status listed, zero included)."""
    query = select(NOTICES.c.status, func.count()).group_by(NOTICES.c.status)
    with engine.db.connect() as conn:
        found = {str(status): int(n) for status, n in conn.execute(query)}
    return {status: found.get(status, 0) for status in STATUSES} | found


__all__ = ["STATUSES", "NoticeRow", "count_by_status", "list_notices"]
