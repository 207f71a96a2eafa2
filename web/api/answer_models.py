"""The API's answers (pydantic): what each endpoint returns, as OpenAPI shows it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.specs import CANCELLED
from web.api.model_types import Label, StrictModel


class FollowUpOut(StrictModel):
    instance_id: int
    process: str
    event: str
    from_state: str | None
    to_state: str
    version: int
    replayed: bool


class TransitionOut(FollowUpOut):
    followups: list[FollowUpOut] = Field(
        default_factory=list, description="what the event set off in the same transaction"
    )


class EventOut(TransitionOut):
    """An event's answer; ``unchanged`` when it changed nothing and is no error."""

    unchanged: Label | None = Field(
        default=None,
        description="present when the event changed nothing and why, in the words a deduction "
        "file's report uses: a tax authority's deduction result that no longer matters (a "
        "failure for a year already paid, lapsed, refunded or closed: 已缴费, 已断保, 已退费, "
        "已结束; a result "
        "already on record, also after the year's refund); `from_state` = `to_state`, the "
        "year's state, and nothing is "
        "written. Absent when the event moved the instance",
    )


class PersonOut(StrictModel):
    id: int
    state: str
    state_label: Label
    id_number_masked: str
    region: str | None
    open_tasks: list[str]


class Registered(StrictModel):
    transition: TransitionOut
    person: PersonOut


class RejectedRow(StrictModel):
    """A row the import refused: its line and why, in Chinese and English (``message_zh``,
    ``message_en``, as every error says it)."""

    line: int
    message_zh: str | None = None
    message_en: str | None = None
    reason: str | None = Field(
        default=None, description="the first version's name of `message_en`: read that instead"
    )
    reason_zh: str | None = Field(
        default=None, description="the first version's name of `message_zh`: read that instead"
    )


class ImportReportOut(StrictModel):
    applied: int
    unchanged: int
    rejected: list[RejectedRow]
    reviews_opened: int


class ProgressStepOut(StrictModel):
    step: str
    label: Label
    done_at: datetime | None


class CardOut(StrictModel):
    id: int
    state: str
    state_label: Label
    id_number_masked: str
    bank: str | None
    channel: str | None
    region_code: str | None
    electronic_card: Literal["usable", "unusable"]
    version: int
    definition_version: int = Field(description="the version of the card process it runs on")
    replaces_card_id: int | None = Field(
        default=None, description="a replacement (换领): the card it replaces"
    )
    collection_place: Literal["bank_branch", "card_centre"] | None = Field(
        default=None,
        description="while the card waits to be collected (awaiting activation): where it is, "
        "at its bank's branch, or at the card centre once taken back from the branch "
        "uncollected (the region's `card.uncollected_card_returned_after`); null otherwise",
    )
    collection_place_label: Label | None = Field(
        default=None, description="`collection_place` in words, with the bank's name"
    )
    allowed_events: list[str] = Field(
        description="events an outside system may send the card now (a 409's `allowed` narrows "
        "this to what the asking token may send)"
    )
    progress: list[ProgressStepOut]


class CardApplied(StrictModel):
    transition: TransitionOut
    card: CardOut


class CardList(StrictModel):
    id_number_masked: str
    cards: list[CardOut]


class YearOut(StrictModel):
    enrollment_id: int
    policy: str
    year: int
    state: str
    state_label: Label
    paid: bool
    amount_due: str | None
    amount_paid: str | None
    paid_at: datetime | None
    payer_kind: str | None
    payer_id_number_masked: str | None
    channel: str | None
    benefit_start: dict[str, date]
    refunded: bool = False
    refund_amount: str | None = None
    refunded_at: datetime | None = None


class YearList(StrictModel):
    id_number_masked: str
    paid: list[YearOut]
    unpaid: list[YearOut] = Field(
        description="years not paid that have not ended: `amount_due` is what is due now, null "
        "when the year can no longer be paid (a lapsed year past its late payment)"
    )
    refunded: list[YearOut] = Field(
        default_factory=list,
        description="years whose payment was given back: nothing due, not paid; the payment "
        "(`amount_paid`, `paid_at`) and the refund (`refund_amount`, `refunded_at`) both shown",
    )
    closed: list[YearOut] = Field(
        default_factory=list,
        description="years closed unpaid when the person left the scheme: nothing due, not "
        "paid; a later registration may open the same policy year again, listed with the others",
    )


class PaymentOut(StrictModel):
    transition: TransitionOut
    amount: str
    benefit_start: dict[str, date]


class TaskOut(StrictModel):
    id: int
    instance_id: int
    process: str
    name: str
    state: str
    candidate_group: str
    scope: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None


class TaskList(StrictModel):
    tasks: list[TaskOut]
    next_after_id: int | None


class Counts(StrictModel):
    """A process's instances per state, the figures of the supervisors' process page and of
    ``shebao stats``."""

    process: str
    states: dict[str, int] = Field(
        description="instances per state: every state of the process's current version in its "
        "order (zeros included), then any state only another version has, then "
        f"`{CANCELLED}` (instances a supervisor cancelled; always present)"
    )
    total: int = Field(
        description=f"every instance of the process, `{CANCELLED}` included: the sum of `states`"
    )


class TokenOut(StrictModel):
    """An API token as the admin sees it: never the token itself, only its first characters."""

    name: str
    prefix: str | None = Field(description="the token's first 8 characters after sb_")
    scopes: list[str]
    status: Literal["valid", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="updated at most once a minute")
    revoked_at: datetime | None


class TokenList(StrictModel):
    tokens: list[TokenOut]


class IncidentOut(StrictModel):
    """A step that failed all its attempts: a timer's event or a notice's delivery."""

    id: int
    kind: Literal["timer", "notice"]
    ref_id: int = Field(description="the timer's or the notice's id")
    instance_id: int | None
    process: str | None
    state: str | None
    step: str = Field(description="the timer's event or the notice's kind")
    step_label: Label = Field(
        description="the step in words: a timer's event by its label, a notice's as the event "
        "that wrote it and its kind (提醒领卡激活 · 领卡提醒); the key when no label knows it"
    )
    event: str | None = Field(
        default=None,
        description="the event the step belongs to: a timer's own (its `step`), or the one that "
        "wrote the notice",
    )
    error: str = Field(
        description="the last error, as the step raised it (long numbers masked; a webhook's "
        "receiver named by scheme, host, port and path, never its credentials or query)"
    )
    error_label: Label | None = Field(
        default=None,
        description="what a notice's error means, in words, for the common channel failures "
        "(connection refused, no answer in time, unreachable, HTTP 5xx, HTTP 4xx), or a "
        "timer's, for the common timer failures (the event no longer leaves the state, a guard "
        "refused it, the state does not allow it, the instance changed meanwhile, its data was "
        "refused, the policy cannot be found, a database error); absent for any other error",
    )
    attempts: int
    status: Literal["open", "closed"]
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: Literal["retry", "resolve", "state_left"] | None = Field(
        description="how it was closed: its step put back, closed without running it, or "
        "closed when its instance left the timer's state"
    )


class IncidentList(StrictModel):
    incidents: list[IncidentOut]


class IncidentsClosed(StrictModel):
    """What a bulk retry or resolve closed."""

    closed: int = Field(description="how many incidents this request closed")
    by_kind: dict[Literal["timer", "notice"], int] = Field(description="of them, per kind")
    ids: list[int] = Field(description="the incidents closed, in id order")


class OpenApiDocument(BaseModel):
    """The OpenAPI 3.1 document itself."""

    model_config = ConfigDict(extra="allow")
    openapi: str
