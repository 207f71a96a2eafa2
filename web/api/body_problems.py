"""What a request body's model refused, field by field, in the words an event's data gets for the
same fact (``engine.field_words``), in Chinese and English.

pydantic says where (``loc``) and what (its error ``type``); this module finds the field in the
body (a union's member names, such as ``int`` or ``constrained-str``, are not places in the body:
one value of no accepted type is one problem, not one per type it could have been) and puts the
fact in the table's words. A check that has its own words (``web.api.model_types.checked_by``:
an amount, a time) brings them along. No word repeats a value sent, and a key that does not look
like a field name is named ``<key>`` (``web.api.bodies.loc_part``), so nothing personal comes back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import ErrorDetails

from engine import field_words as words
from engine.field_words import FieldWords
from engine.forms import AMOUNT_PATTERN
from web.api.model_types import (
    FIELD_VALUE,
    NAME,
    ONE_LINE,
    POLICY_PATTERN,
    REGION_CODE_PATTERN,
    TEXT,
)

MAX_NAMED = 5
"""How many problems the message names; ``details`` holds them all."""

_BY_PATTERN: dict[str, FieldWords] = {
    AMOUNT_PATTERN: words.AMOUNT_FORMAT,
    ONE_LINE: words.ONE_LINE,
    TEXT: words.CONTROL_CHARACTERS,
    NAME: words.CODE,
    POLICY_PATTERN: words.POLICY_CODE,
    REGION_CODE_PATTERN: words.REGION_CODE,
}
"""The words for a text that does not match a body field's pattern, by the pattern."""

_BY_TYPE: dict[str, FieldWords] = {
    "missing": words.REQUIRED,
    "extra_forbidden": words.NOT_A_FIELD,
    "model_type": words.EXPECTED_OBJECT,
    "model_attributes_type": words.EXPECTED_OBJECT,
    "dict_type": words.EXPECTED_OBJECT,
    "list_type": words.EXPECTED_LIST,
    "string_type": words.EXPECTED_TEXT,
    "int_type": words.EXPECTED_WHOLE_NUMBER,
    "bool_type": words.EXPECTED_BOOLEAN,
}

_WRONG_TYPE = frozenset(
    {
        "string_type",
        "int_type",
        "float_type",
        "bool_type",
        "list_type",
        "dict_type",
        "none_required",
    }
)
"""A union member's "not my type": said once for the field when no member took the value."""

_LITERAL = re.compile(r"'([^']*)'")
_KEY_TAG = "[key]"


@dataclass(frozen=True)
class BodyProblem:
    """What is wrong at one place of a body: ``path`` its steps (``[]`` for the body itself);
    ``line``: the row it is in, counted from 1, for a place in a body's numbered rows."""

    path: tuple[str, ...]
    words: FieldWords
    line: int | None = None

    @property
    def field(self) -> str:
        """The place, dotted (``rows.0.name``); empty for the body as a whole."""
        return ".".join(self.path)

    def named(self, lang: str) -> str:
        if not self.path:
            return "the body" if lang == "en" else "请求体"
        if self.line is None:
            return self.field
        return (
            f"{self.field} (line {self.line})"
            if lang == "en"
            else f"{self.field}（第 {self.line} 行）"
        )

    def as_dict(self) -> dict[str, Any]:
        said: dict[str, Any] = {
            "loc": list(self.path),
            "msg": self.words.en,
            "field": self.field,
            "message_zh": self.words.zh,
            "message_en": self.words.en,
        }
        if self.line is not None:
            said["line"] = self.line
        return said


def line_of(path: Sequence[str], rows: str | None) -> int | None:
    """The row a place is in, counted from 1 (as an import's ``rejected[].line`` counts), when
    the place is inside the body's list ``rows`` (``rows.2.name``: 3); else None."""
    if rows is None or len(path) < 2 or path[0] != rows or not path[1].isdigit():
        return None
    return int(path[1]) + 1


def body_problems(
    body: Any, errors: Sequence[ErrorDetails], step: Any = str, rows: str | None = None
) -> list[BodyProblem]:
    """The problems of ``body`` that ``errors`` (pydantic's, without input) found, one per place,
    in the order found. ``step`` turns one step of a place into the text named back; ``rows``
    names the body's list whose items are numbered lines (``line_of``)."""
    found: dict[tuple[Any, ...], list[_Located]] = {}
    for error in errors:
        located = _located(body, error)
        found.setdefault(located.union, []).append(located)
    problems: list[BodyProblem] = []
    for group in found.values():
        place, said = _words_of(group)
        path = tuple(step(part) for part in place)
        problems.append(BodyProblem(path, said, line_of(path, rows)))
    return problems


def message(problems: Sequence[BodyProblem]) -> tuple[str, str]:
    """The refusal's message: each place named with its words, in Chinese and in English."""
    shown = problems[:MAX_NAMED]
    zh = "；".join(f"{p.named('zh')}：{p.words.zh}" for p in shown)
    en = "; ".join(f"{p.named('en')}: {p.words.en}" for p in shown)
    more = len(problems) - len(shown)
    if more:
        zh += f"；另有 {more} 处"
        en += f"; and {more} more"
    return f"请求内容有误：{zh}", f"the request is invalid: {en}"


@dataclass(frozen=True)
class _Located:
    error: ErrorDetails
    path: tuple[Any, ...]
    """The steps of the error's location that are places in the body."""
    union: tuple[Any, ...]
    """Where the first step that is not a place stands (a union's member name, ``[key]``): the
    errors of one union are one problem there; the whole path when every step is a place."""
    about_key: bool


def _located(body: Any, error: ErrorDetails) -> _Located:
    """Where ``error`` is in ``body``: a union member's name or ``[key]`` (a mapping's key) is
    no place in it; a missing field is, though absent."""
    loc = list(error["loc"])
    path: list[Any] = []
    union: tuple[Any, ...] | None = None
    value = body
    for index, part in enumerate(loc):
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        elif not (error["type"] == "missing" and index == len(loc) - 1):
            union = tuple(path) if union is None else union
            continue
        path.append(part)
    return _Located(error, tuple(path), tuple(path) if union is None else union, _KEY_TAG in loc)


def _words_of(group: Sequence[_Located]) -> tuple[tuple[Any, ...], FieldWords]:
    """One place's problem: a key that is no field's name; else, of the errors that reached
    deepest (the union member that took the value's shape), the first that is more than a wrong
    type; else, when no member took the value, what it may be."""
    if any(located.about_key for located in group):
        return group[0].path, words.NOT_A_FIELD
    deepest = max(len(located.path) for located in group)
    reached = [located for located in group if len(located.path) == deepest]
    telling = [located for located in reached if located.error["type"] not in _WRONG_TYPE]
    if telling:
        return telling[0].path, _words(telling[0].error)
    if len(reached) > 1:
        return reached[0].path, words.EXPECTED_VALUE
    return reached[0].path, _words(reached[0].error)


def _words(error: ErrorDetails) -> FieldWords:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == FIELD_VALUE:
        return FieldWords(str(ctx["message_zh"]), str(ctx["message_en"]))
    if kind == "string_pattern_mismatch":
        return _BY_PATTERN.get(str(ctx.get("pattern")), words.INVALID)
    if kind == "string_too_short":
        return words.REQUIRED if int(ctx.get("min_length", 1)) <= 1 else words.INVALID
    if kind == "string_too_long":
        return words.too_long(int(ctx["max_length"]))
    if kind == "too_long":
        return words.too_many(int(ctx["max_length"]))
    if kind == "too_short":
        return words.too_few(int(ctx["min_length"]))
    if kind == "literal_error":
        offered = _LITERAL.findall(str(ctx.get("expected", "")))
        return words.one_of(offered, offered)
    return _BY_TYPE.get(kind, words.INVALID)
