"""The API's request bodies (pydantic): what a caller may send, validated before any rule runs,
and what OpenAPI shows of it."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BeforeValidator, Field, StringConstraints, field_validator

from engine import field_words
from engine.field_words import FieldWords
from engine.forms import AMOUNT_PATTERN, FieldValueError, parse_amount, parse_moment
from web.api.model_types import (
    ID_NUMBER,
    NAME,
    ONE_LINE,
    POLICY_PATTERN,
    REGION_CODE_PATTERN,
    Code,
    EventData,
    Line,
    StrictModel,
    checked_by,
    refusal,
)


class CardApplication(StrictModel):
    """Apply for a card at a channel (fast issuance, online, counter)."""

    id_number: str = ID_NUMBER
    channel: Literal["fast_issuance", "online", "counter"]
    bank: str = Field(pattern=NAME, description="partner bank code, e.g. icbc")
    region_code: str = Field(pattern=REGION_CODE_PATTERN, description="6-digit region code")
    outlet: Line | None = Field(default=None, max_length=64)
    replacement_reason: Literal["damaged", "expired"] | None = Field(
        default=None,
        description="a replacement (换领) of the person's active card in the province, damaged "
        "or expired: the old card works until the new one is activated, then it is cancelled",
    )


class EventRequest(StrictModel):
    """Send an event to a card or an enrollment, with its payload."""

    event: str = Field(pattern=NAME)
    data: EventData


Amount = Annotated[
    str,
    Field(pattern=AMOUNT_PATTERN, description="yuan, e.g. 360.00"),
    checked_by(parse_amount),
]
"""An amount, checked as an event's ``amount`` field is (the same words when refused). The
pattern comes before the check: after a validator pydantic could not say it in the schema, and
the API description lost it (schemathesis then sent amounts it called valid and were refused)."""


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


class PaymentRequest(StrictModel):
    """Pay an enrollment year: by the insured, a family member, or on behalf of another person."""

    amount: Amount
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
            raise refusal(field_words.EXPECTED_TEXT)
        try:
            return parse_moment(value)
        except FieldValueError as exc:
            raise refusal(exc) from None


class PersonPayment(PaymentRequest):
    """Pay a person's year from their ID number, as the tax app does (the year opens if needed)."""

    id_number: str = ID_NUMBER
    policy: str | None = Field(
        default=None,
        max_length=64,
        pattern=POLICY_PATTERN,
        description="e.g. huian-2023",
    )


class RegistrationRequest(StrictModel):
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


class ReductionClaimRequest(StrictModel):
    """An insured person claims a reduction category after registering (资助参保): a clerk
    checks the certificate."""

    id_number: str = ID_NUMBER
    category: Code = Field(max_length=64, description="a category of the region's policy: dibao")
    evidence: Line = Field(
        min_length=1, max_length=200, description="the certificate and its number (低保证 ...)"
    )


class YearRequest(StrictModel):
    """Open a policy year for an insured person."""

    id_number: str = ID_NUMBER
    policy: str = Field(max_length=64, pattern=POLICY_PATTERN, description="e.g. huian-2023")


SEPARATED_OR_LIST = FieldWords(
    "应为以“|”分隔的文本（如 dibao|low_income）或文本列表",
    "expected text with the values separated by | (dibao|low_income), or a list of them",
)


def _separated_or_listed(value: Any) -> Any:
    """A value of neither accepted form is refused in words naming both (not once per form)."""
    if value is None or isinstance(value, str | list):
        return value
    raise refusal(SEPARATED_OR_LIST)


Listed = Annotated[
    Annotated[str, StringConstraints(pattern=ONE_LINE, max_length=400)]
    | Annotated[list[Code], Field(max_length=20)]
    | None,
    BeforeValidator(_separated_or_listed),
]
"""Several values of an import's row: a list (as ``/registrations`` takes them) or one text,
``|`` (or ``;``) between them, as a file's cell holds them (``workflows.imports``)."""


class ImportRow(StrictModel):
    """One person (and optionally one of their cards) as another system holds them."""

    id_number: str = ID_NUMBER
    name: Line = Field(min_length=1, max_length=64)
    region: str = Field(pattern=NAME)
    residence: Line | None = Field(default=None, max_length=32)
    household: Line | None = Field(default=None, max_length=64)
    reduction_categories: Listed = Field(
        default=None,
        description="the region's reduction categories declared (dibao, low_income, ...): a "
        "list, as /registrations takes them, or text with the values separated by | as a "
        "file's cell holds them (dibao|low_income)",
    )
    flags: Listed = Field(
        default=None,
        description="declared flags as at registration (disabled, newborn, ...): a list, or "
        "text with the values separated by |",
    )
    card_number: Line | None = Field(default=None, max_length=32)
    card_bank: Line | None = Field(default=None, max_length=32)
    card_state: Line | None = Field(default=None, max_length=32)
    card_region_code: str | None = Field(default=None, pattern=REGION_CODE_PATTERN)


class PeopleImport(StrictModel):
    LINES: ClassVar[str] = "rows"
    """The rows are lines counted from 1: a 422's detail about one says its ``line``, as the
    answer's ``rejected[].line`` does (``web.api.bodies.parse_body``)."""

    rows: list[ImportRow] = Field(
        min_length=1,
        max_length=1000,
        description="the people, each a line counted from 1: `rejected[].line` and a 422 "
        "detail's `line` name a row so (`field` is its JSON place: rows.2 is line 3)",
    )


class TaskCompletion(StrictModel):
    outcome: str | None = Field(
        default=None,
        pattern=NAME,
        description="the task's event to complete it with; may be left out only when the task "
        "has one (a task with several answers 422 `invalid_task_outcome` without one)",
    )
    data: EventData


class PersonQuery(StrictModel):
    """Whose records: the ID number travels in the body, never in a URL (URLs are logged)."""

    id_number: str = ID_NUMBER
