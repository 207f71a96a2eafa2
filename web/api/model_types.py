"""The pieces the API's request bodies and answers share: name and text patterns, an event's
data, an ID number field, the strict base model, a two-language label, and ``checked_by``: an
engine check run on a body's field, its words kept for the refusal (``web.api.body_problems``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from engine.field_words import FieldWords
from engine.forms import FieldValueError

NAME = r"^[a-z][a-z0-9_]{0,63}$"
POLICY_PATTERN = r"^[a-z0-9_]+(-[a-z0-9_]+)*$"
"""A policy's code: ``huian-2023``."""
REGION_CODE_PATTERN = r"^[0-9]{6}$"
"""An administrative region code: six digits."""
FIELD_VALUE = "field_value"
"""The pydantic error type of a value an engine check refused, its words in ``ctx``."""


ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
"""Text on one line: no control characters, no line or paragraph separator (U+2028, U+2029; the
body check refuses the rest before this)."""


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


def refusal(said: FieldWords | FieldValueError) -> PydanticCustomError:
    """A body field's refusal in the words of the event-data check (``engine.field_words``)."""
    if isinstance(said, FieldValueError):
        said = FieldWords(said.message_zh, said.message_en)
    return PydanticCustomError(
        FIELD_VALUE, "{message_en}", {"message_zh": said.zh, "message_en": said.en}
    )


def checked_by(check: Callable[[Any], Any]) -> BeforeValidator:
    """Run an event-data check (``engine.forms.parse_amount``) on a body's field before its
    schema's own constraints, so that the same fact is refused in the same words at every door;
    the value goes on as sent."""

    def run(value: Any) -> Any:
        try:
            check(value)
        except FieldValueError as exc:
            raise refusal(exc) from None
        return value

    return BeforeValidator(run)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Label(StrictModel):
    zh: str
    en: str
