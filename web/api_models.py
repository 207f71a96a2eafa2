"""The API's request and response bodies (pydantic): what is validated and what OpenAPI shows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NAME = r"^[a-z][a-z0-9_]{0,63}$"
ID_NUMBER = Field(min_length=1, max_length=32, description="18-character resident ID number")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Label(_Strict):
    zh: str
    en: str


class CardApplication(_Strict):
    """Apply for a card at a channel (fast issuance, online, counter)."""

    id_number: str = ID_NUMBER
    channel: Literal["fast_issuance", "online", "counter"]
    bank: str = Field(pattern=NAME, description="partner bank code, e.g. icbc")
    region_code: str = Field(pattern=r"^[0-9]{6}$", description="6-digit region code")
    outlet: str | None = Field(default=None, max_length=64)


class EventRequest(_Strict):
    """Send an event to a card or an enrollment, with its payload."""

    event: str = Field(pattern=NAME)
    data: dict[str, Any] = Field(default_factory=dict)


class PaymentRequest(_Strict):
    """Pay an enrollment year: by the insured, a family member, or on behalf of another person."""

    amount: str = Field(pattern=r"^[0-9]{1,7}(\.[0-9]{1,2})?$", description="yuan, e.g. 360.00")
    payer_kind: Literal["self", "family", "on_behalf"] = "self"
    payer: str | None = Field(default=None, max_length=64)
    channel: str = Field(default="online", pattern=NAME)
    paid_at: AwareDatetime | None = None


class TaskCompletion(_Strict):
    outcome: str | None = Field(default=None, pattern=NAME)
    data: dict[str, Any] = Field(default_factory=dict)


class TransitionOut(_Strict):
    instance_id: int
    process: str
    event: str
    from_state: str | None
    to_state: str
    version: int
    replayed: bool


class ProgressStepOut(_Strict):
    step: str
    label: Label
    done_at: datetime | None


class CardOut(_Strict):
    id: int
    state: str
    state_label: Label
    id_number_masked: str
    bank: str | None
    channel: str | None
    region_code: str | None
    electronic_card: Literal["usable", "unusable"]
    version: int
    allowed_events: list[str]
    progress: list[ProgressStepOut]


class CardApplied(_Strict):
    transition: TransitionOut
    card: CardOut


class CardList(_Strict):
    id_number_masked: str
    cards: list[CardOut]


class YearOut(_Strict):
    enrollment_id: int
    policy: str
    year: int
    state: str
    state_label: Label
    paid: bool
    amount_due: str | None
    amount_paid: str | None
    paid_at: datetime | None
    benefit_start: dict[str, date]


class YearList(_Strict):
    id_number_masked: str
    paid: list[YearOut]
    unpaid: list[YearOut]


class PaymentOut(_Strict):
    transition: TransitionOut
    amount: str
    benefit_start: dict[str, date]


class TaskOut(_Strict):
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


class TaskList(_Strict):
    tasks: list[TaskOut]
    next_after_id: int | None


class Counts(_Strict):
    process: str
    states: dict[str, int]
    total: int


class OpenApiDocument(BaseModel):
    """The OpenAPI 3.1 document itself."""

    model_config = ConfigDict(extra="allow")
    openapi: str
