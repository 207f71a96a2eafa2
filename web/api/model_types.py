"""The pieces the API's request bodies and answers share: name and text patterns, an event's
data, an ID number field, the strict base model, a two-language label."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

NAME = r"^[a-z][a-z0-9_]{0,63}$"


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


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Label(StrictModel):
    zh: str
    en: str
