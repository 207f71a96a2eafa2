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


class FollowUpOut(_Strict):
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


AMOUNT = Field(pattern=r"^[0-9]{1,7}(\.[0-9]{1,2})?$", description="yuan, e.g. 360.00")
PAID_AT = Field(
    default=None,
    description="Only the tax authority's token may say when a payment happened; "
    "everyone else pays now (the service clock)",
)


class PaymentRequest(_Strict):
    """Pay an enrollment year: by the insured, a family member, or on behalf of another person."""

    amount: str = AMOUNT
    payer_kind: Literal["self", "family", "on_behalf"] = "self"
    payer_id_number: str | None = Field(
        default=None, min_length=1, max_length=32, description="who pays, unless the insured"
    )
    channel: str = Field(default="online", pattern=NAME)
    paid_at: AwareDatetime | None = PAID_AT


class PersonPayment(PaymentRequest):
    """Pay a person's year from their ID number, as the tax app does (the year opens if needed)."""

    id_number: str = ID_NUMBER
    policy: str | None = Field(
        default=None, pattern=r"^[a-z0-9_]+(-[a-z0-9_]+)*$", description="e.g. huian-2023"
    )


class RegistrationRequest(_Strict):
    """Register a person with no record (参保登记): a clerk checks the documents."""

    id_number: str = ID_NUMBER
    name: str = Field(min_length=1, max_length=64)
    region: str = Field(
        pattern=NAME,
        description="where the household register or residence permit is: foshan, huian",
    )
    residence: Literal["household_register", "residence_permit", "hmt_residence_permit"] = (
        "household_register"
    )
    household: str | None = Field(default=None, max_length=64, description="household number")
    reduction_categories: list[str] = Field(default_factory=list, max_length=20)
    flags: list[Literal["disabled", "newborn", "new_student", "left_employee_insurance"]] = Field(
        default_factory=list, max_length=10
    )


class PersonOut(_Strict):
    id: int
    state: str
    state_label: Label
    id_number_masked: str
    region: str | None
    open_tasks: list[str]


class Registered(_Strict):
    transition: TransitionOut
    person: PersonOut


class YearRequest(_Strict):
    """Open a policy year for an insured person."""

    id_number: str = ID_NUMBER
    policy: str = Field(pattern=r"^[a-z0-9_]+(-[a-z0-9_]+)*$", description="e.g. huian-2023")


class ImportRow(_Strict):
    """One person (and optionally one of their cards) as another system holds them."""

    id_number: str = ID_NUMBER
    name: str = Field(min_length=1, max_length=64)
    region: str = Field(pattern=NAME)
    residence: str | None = Field(default=None, max_length=32)
    household: str | None = Field(default=None, max_length=64)
    reduction_categories: str | None = Field(default=None, max_length=400)
    card_number: str | None = Field(default=None, max_length=32)
    card_bank: str | None = Field(default=None, max_length=32)
    card_state: str | None = Field(default=None, max_length=32)
    card_region_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class PeopleImport(_Strict):
    rows: list[ImportRow] = Field(min_length=1, max_length=1000)


class RejectedRow(_Strict):
    line: int
    reason: str | None


class ImportReportOut(_Strict):
    applied: int
    unchanged: int
    rejected: list[RejectedRow]
    reviews_opened: int


class TaskCompletion(_Strict):
    outcome: str | None = Field(default=None, pattern=NAME)
    data: dict[str, Any] = Field(default_factory=dict)


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
    payer_kind: str | None
    payer_id_number_masked: str | None
    channel: str | None
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
