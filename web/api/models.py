"""The API's request and response bodies (pydantic): what is validated and what OpenAPI shows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    field_validator,
)

from engine.forms import AMOUNT_PATTERN, FieldValueError, parse_moment

NAME = r"^[a-z][a-z0-9_]{0,63}$"
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Text on one line: no control characters (the body check refuses the rest before this)."""
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
"""Free text: tab, line feed and carriage return, but no other control character."""
Line = Annotated[str, StringConstraints(pattern=ONE_LINE)]
Code = Annotated[str, StringConstraints(pattern=NAME)]
FieldText = Annotated[str, StringConstraints(pattern=TEXT, max_length=500)]
FieldValue = (
    FieldText
    | StrictInt
    | StrictFloat
    | StrictBool
    | Annotated[list[FieldText], Field(max_length=50)]
    | None
)
"""One value of an event's or a task's data: a scalar, or the values chosen of a ``choices``
field (a list of the options' keys)."""
EventData = Annotated[
    dict[Code, FieldValue],
    Field(
        default_factory=dict,
        max_length=50,
        description="field name -> value; the definition's ``fields:`` (or the task's form) "
        "say which names and types are accepted",
        json_schema_extra={"additionalProperties": False},
    ),
]
ID_NUMBER = Field(
    min_length=1,
    max_length=32,
    pattern=ONE_LINE,
    description="18-character resident ID number",
)


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


class EventOut(TransitionOut):
    """An event's answer; ``unchanged`` when it changed nothing and is no error."""

    unchanged: Label | None = Field(
        default=None,
        description="present when the event changed nothing and why, in the words a deduction "
        "file's report uses: a tax authority's deduction result that no longer matters (a "
        "failure for a year already paid, lapsed or closed: 已缴费, 已断保, 已结束; a result "
        "already on record); `from_state` = `to_state`, the year's state, and nothing is "
        "written. Absent when the event moved the instance",
    )


class CardApplication(_Strict):
    """Apply for a card at a channel (fast issuance, online, counter)."""

    id_number: str = ID_NUMBER
    channel: Literal["fast_issuance", "online", "counter"]
    bank: str = Field(pattern=NAME, description="partner bank code, e.g. icbc")
    region_code: str = Field(pattern=r"^[0-9]{6}$", description="6-digit region code")
    outlet: Line | None = Field(default=None, max_length=64)
    replacement_reason: Literal["damaged", "expired"] | None = Field(
        default=None,
        description="a replacement (换领) of the person's active card in the province, damaged "
        "or expired: the old card works until the new one is activated, then it is cancelled",
    )


class EventRequest(_Strict):
    """Send an event to a card or an enrollment, with its payload."""

    event: str = Field(pattern=NAME)
    data: EventData


AMOUNT = Field(pattern=AMOUNT_PATTERN, description="yuan, e.g. 360.00")


def _payment_years(schema: dict[str, Any]) -> None:
    """Say in the schema what the validator checks: the year as written, 2000 to 2099."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("format") == "date-time":
            branch["pattern"] = r"^20[0-9]{2}-"


PAID_AT = Field(
    default=None,
    json_schema_extra=_payment_years,
    description="Only the tax authority's token may say when a payment happened; "
    "everyone else pays now (the service clock). RFC 3339 with an offset, 2000 to 2099",
)


class PaymentRequest(_Strict):
    """Pay an enrollment year: by the insured, a family member, or on behalf of another person."""

    amount: str = AMOUNT
    payer_kind: Literal["self", "family", "on_behalf"] = "self"
    payer_id_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=ONE_LINE,
        description="who pays, unless the insured",
    )
    channel: str = Field(default="online", pattern=NAME)
    paid_at: AwareDatetime | None = PAID_AT

    @field_validator("paid_at", mode="before")
    @classmethod
    def _paid_at_is_a_moment(cls, value: Any) -> Any:
        """The same format as an event's ``datetime`` field (``engine.forms.parse_moment``)."""
        if value is None:
            return value
        if not isinstance(value, str):
            raise ValueError("a date and time with an offset, as text (RFC 3339)")
        try:
            return parse_moment(value)
        except FieldValueError as exc:
            raise ValueError(exc.message_en) from None


class PersonPayment(PaymentRequest):
    """Pay a person's year from their ID number, as the tax app does (the year opens if needed)."""

    id_number: str = ID_NUMBER
    policy: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z0-9_]+(-[a-z0-9_]+)*$",
        description="e.g. huian-2023",
    )


class RegistrationRequest(_Strict):
    """Register a person with no record (参保登记): a clerk checks the documents."""

    id_number: str = ID_NUMBER
    name: Line = Field(min_length=1, max_length=64)
    region: str = Field(
        pattern=NAME,
        description="where the household register or residence permit is: foshan, huian",
    )
    residence: Literal["household_register", "residence_permit", "hmt_residence_permit"] = (
        "household_register"
    )
    household: Line | None = Field(default=None, max_length=64, description="household number")
    reduction_categories: list[Code] = Field(default_factory=list, max_length=20)
    flags: list[Literal["disabled", "newborn", "new_student", "left_employee_insurance"]] = Field(
        default_factory=list, max_length=10
    )


class ReductionClaimRequest(_Strict):
    """An insured person claims a reduction category after registering (资助参保): a clerk
    checks the certificate."""

    id_number: str = ID_NUMBER
    category: Code = Field(max_length=64, description="a category of the region's policy: dibao")
    evidence: Line = Field(
        min_length=1, max_length=200, description="the certificate and its number (低保证 ...)"
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
    policy: str = Field(
        max_length=64, pattern=r"^[a-z0-9_]+(-[a-z0-9_]+)*$", description="e.g. huian-2023"
    )


class ImportRow(_Strict):
    """One person (and optionally one of their cards) as another system holds them."""

    id_number: str = ID_NUMBER
    name: Line = Field(min_length=1, max_length=64)
    region: str = Field(pattern=NAME)
    residence: Line | None = Field(default=None, max_length=32)
    household: Line | None = Field(default=None, max_length=64)
    reduction_categories: Line | None = Field(default=None, max_length=400)
    card_number: Line | None = Field(default=None, max_length=32)
    card_bank: Line | None = Field(default=None, max_length=32)
    card_state: Line | None = Field(default=None, max_length=32)
    card_region_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class PeopleImport(_Strict):
    rows: list[ImportRow] = Field(min_length=1, max_length=1000)


class RejectedRow(_Strict):
    line: int
    reason: str | None
    reason_zh: str | None = None


class ImportReportOut(_Strict):
    applied: int
    unchanged: int
    rejected: list[RejectedRow]
    reviews_opened: int


class TaskCompletion(_Strict):
    outcome: str | None = Field(default=None, pattern=NAME)
    data: EventData


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
    refunded: bool = False
    refund_amount: str | None = None
    refunded_at: datetime | None = None


class YearList(_Strict):
    id_number_masked: str
    paid: list[YearOut]
    unpaid: list[YearOut]
    refunded: list[YearOut] = []
    """Years whose payment was given back: nothing due, not paid."""


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


class PersonQuery(_Strict):
    """Whose records: the ID number travels in the body, never in a URL (URLs are logged)."""

    id_number: str = ID_NUMBER


class TokenOut(_Strict):
    """An API token as the admin sees it: never the token itself, only its first characters."""

    name: str
    prefix: str | None = Field(description="the token's first 8 characters after sb_")
    scopes: list[str]
    status: Literal["valid", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="updated at most once a minute")
    revoked_at: datetime | None


class TokenList(_Strict):
    tokens: list[TokenOut]


class IncidentOut(_Strict):
    """A step that failed all its attempts: a timer's event or a notice's delivery."""

    id: int
    kind: Literal["timer", "notice"]
    ref_id: int = Field(description="the timer's or the notice's id")
    instance_id: int | None
    process: str | None
    state: str | None
    step: str = Field(description="the timer's event or the notice's kind")
    error: str = Field(description="the last error (long numbers masked)")
    attempts: int
    status: Literal["open", "closed"]
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: Literal["retry", "resolve"] | None = Field(
        description="how it was closed: its step put back, or closed without running it"
    )


class IncidentList(_Strict):
    incidents: list[IncidentOut]


class OpenApiDocument(BaseModel):
    """The OpenAPI 3.1 document itself."""

    model_config = ConfigDict(extra="allow")
    openapi: str
