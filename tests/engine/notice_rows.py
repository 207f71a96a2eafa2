"""Notices written straight into the outbox table, as the outbox tests start from them: pending
SMS notices to one person, numbered in their texts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert, select

from engine.models import Notice

NOTICES = Notice.__table__
RECIPIENT = "440524188001010014"


def pending_notices(
    db: SqlEngine,
    n: int,
    *,
    process: str,
    event: str,
    kind: str,
    text: tuple[str, str],
    created_at: datetime | None = None,
) -> list[int]:
    """``n`` pending notices of ``process``'s ``event`` to ``RECIPIENT`` by SMS, none attempted,
    their texts ``text`` (Chinese, English) with ``{}`` filled with each one's number (0 to n - 1),
    made at ``created_at`` (now): the ids of the table's notices, in order."""
    made = created_at or datetime.now(UTC)
    zh, en = text
    rows = [
        {
            "instance_id": None,
            "process": process,
            "event": event,
            "kind": kind,
            "recipient": RECIPIENT,
            "channel": "sms",
            "text_zh": zh.format(i),
            "text_en": en.format(i),
            "data": {},
            "status": "pending",
            "attempts": 0,
            "created_at": made,
        }
        for i in range(n)
    ]
    with db.begin() as conn:
        conn.execute(insert(NOTICES), rows)
        return [int(i) for i in conn.execute(select(NOTICES.c.id).order_by(NOTICES.c.id)).scalars()]
