"""Form and event values: one format per type at every door, and a bad value is a problem named
by its field, never an exception (a 500) or a value the next door would refuse."""

from __future__ import annotations

from typing import Any

import pytest

from engine.forms import clean
from engine.specs import FormField, Label

LABEL = Label("字段", "Field")


def problems_of(kind: str, value: Any) -> list[str]:
    field = FormField("f", LABEL, type=kind)
    _, problems = clean([field], {"f": value}, checks={}, resolve=lambda spec, number: True)
    return [p.message_en for p in problems]


@pytest.mark.parametrize("value", ["²", "①", "⁶⁸⁶⁸", "１２", "٦٨٦٨", "-1", "1.0", "9" * 19, True])
@pytest.mark.parametrize("kind", ["integer", "reference"])
def test_a_whole_number_is_ascii_digits(kind: str, value: Any) -> None:
    assert problems_of(kind, value) != []


@pytest.mark.parametrize(
    "value", [320, "３２０.００", "3.2E2", "320.001", "-1", "NaN", "1e999", ""]
)
def test_an_amount_is_ascii_text_with_cents_at_most(value: Any) -> None:
    assert value == "" or problems_of("amount", value) != []


@pytest.mark.parametrize(
    "value",
    [
        "1643680800",
        "20220201T10+08",
        "2022-W05-2T10:00+08:00",
        "0001-02-01T10:00:00+08:00",
        "2022-02-01T10:00:00",  # no offset
        "2022-02-30T10:00:00+08:00",
        "２０２２-02-01T10:00:00+08:00",
    ],
)
def test_a_moment_is_rfc_3339_with_its_offset(value: str) -> None:
    assert problems_of("datetime", value) != []


@pytest.mark.parametrize(
    ("kind", "value", "kept"),
    [
        ("integer", " 42 ", 42),
        ("amount", "320", "320.00"),
        ("amount", " 108.5 ", "108.50"),
        ("datetime", "2022-02-01T10:00:00+08:00", "2022-02-01T10:00:00+08:00"),
        ("datetime", "2022-02-01T02:00:00Z", "2022-02-01T02:00:00+00:00"),
        ("datetime", "2022-02-01 10:00+08:00", "2022-02-01T10:00:00+08:00"),
    ],
)
def test_good_values_are_normalised(kind: str, value: str, kept: Any) -> None:
    field = FormField("f", LABEL, type=kind)
    values, problems = clean([field], {"f": value}, checks={}, resolve=lambda s, n: True)
    assert problems == [] and values == {"f": kept}
