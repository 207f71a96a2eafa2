"""API endpoints for notices: what the service told a person, and whether it was delivered.

The notices of a card, of an enrollment year, and of a person (by ID number, in the body: never
in a URL), newest first, each with its delivery state (``pending``, ``delivered``, ``failed``),
attempts, last error and times. Recipients are shown masked. A bank's token sees the notices of
its own bank's cards only (another card answers 404, as one that does not exist).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine import queries
from engine.outbox_queries import NoticeRow, list_notices
from web.api.common import (
    answer,
    as_id,
    bp,
    caller,
    hidden,
    int_param,
    not_found,
    person_number,
)
from web.api.model_types import Label
from web.api.request_models import PersonQuery
from web.api.spec import endpoint
from web.extensions import engine_of
from web.log_masking import mask_text
from workflows.cards import PROCESS as CARD
from workflows.identity import mask_id_number
from workflows.notices import person_instance_ids
from workflows.people import ENROLLMENT

LIMIT = 200
"""At most this many notices in an answer, newest first."""
SEES_EVERY_CARD = frozenset({"channel", "read"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoticeOut(_Strict):
    """One notice and its delivery state."""

    id: int
    instance_id: int | None
    process: str | None
    event: str | None = Field(description="the event that caused it")
    kind: str = Field(description="what it says: card_ready, year_lapsed, refund_approved, ...")
    channel: str
    recipient_masked: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int = Field(description="delivery attempts made so far")
    last_error: str | None
    text: Label
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(
        description="pending: not tried again before this time (a backoff, or a worker's lease)"
    )


class InstanceNotices(_Strict):
    instance_id: int
    process: str
    notices: list[NoticeOut]


class PersonNotices(_Strict):
    id_number_masked: str
    notices: list[NoticeOut]


def notice_out(row: NoticeRow) -> NoticeOut:
    return NoticeOut(
        id=row.id,
        instance_id=row.instance_id,
        process=row.process,
        event=row.event,
        kind=row.kind,
        channel=row.channel,
        recipient_masked=mask_id_number(row.recipient) if row.recipient else None,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_error=mask_text(row.last_error) if row.last_error else None,
        text=Label(zh=mask_text(row.text_zh), en=mask_text(row.text_en)),
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        next_attempt_at=row.next_attempt_at,
    )


def _instance_notices(instance_id: int, process: str) -> InstanceNotices:
    rows = list_notices(engine_of(), instance_ids=[instance_id], limit=LIMIT)
    return InstanceNotices(
        instance_id=instance_id, process=process, notices=[notice_out(r) for r in rows]
    )


@endpoint(
    bp,
    "GET",
    "/cards/{card_id}/notices",
    summary="Notices about a card (card ready at the bank, reminders) and their delivery",
    scopes=("channel", "read", "bank:<code>"),
    response=InstanceNotices,
    parameters=(int_param("card_id"),),
)
def card_notices(card_id: str) -> Any:
    who = caller()
    ident = as_id(card_id, "card")
    row = queries.instance(engine_of().db, ident)
    if row is None or row["process"] != CARD:
        raise not_found("card", ident)
    if not (who.scopes & SEES_EVERY_CARD or row["variables"].get("bank") in who.banks()):
        raise hidden("card", ident)
    return answer(_instance_notices(ident, row["process"]))


@endpoint(
    bp,
    "GET",
    "/enrollments/{enrollment_id}/notices",
    summary="Notices about an enrollment year (lapsed, refund decided) and their delivery",
    scopes=("channel", "read"),
    response=InstanceNotices,
    parameters=(int_param("enrollment_id"),),
)
def enrollment_notices(enrollment_id: str) -> Any:
    ident = as_id(enrollment_id, "enrollment")
    row = queries.instance(engine_of().db, ident)
    if row is None or row["process"] != ENROLLMENT:
        raise not_found("enrollment", ident)
    return answer(_instance_notices(ident, row["process"]))


@endpoint(
    bp,
    "POST",
    "/people/notices",
    summary="A person's notices, of all their cards and years (the ID number in the body, never "
    "in the URL)",
    scopes=("channel", "read"),
    body=PersonQuery,
    response=PersonNotices,
    idempotent=False,
)
def person_notices(body: PersonQuery) -> Any:
    person = person_number(body.id_number)
    engine = engine_of()
    rows = list_notices(engine, instance_ids=person_instance_ids(engine, person), limit=LIMIT)
    return answer(
        PersonNotices(
            id_number_masked=mask_id_number(person), notices=[notice_out(r) for r in rows]
        )
    )
