"""Form and event data: every value checked by its field's type and normalised; nothing else passes.

A user task's form and an event's ``fields:`` are lists of ``FormField``. ``clean`` checks a
submission against them at every outside door (a task completed in the inbox or through the API, an
event an outside system sends): unknown fields are refused, required ones must be there, and each
value is parsed by its type. The result holds normalised values only (an amount as ``"360.00"``, an
ID number with an upper-case ``X``, a boolean as ``true``), so the same submission through two doors
writes the same history.

Built-in types: ``text``, ``choice``, ``choices`` (any of its options: a list of values, normalised
to the values offered, in order, once each), ``boolean``, ``amount``, ``integer``, ``date``,
``datetime`` and ``reference`` (another instance, looked up by the caller's resolver). A field's
options are listed or, with ``options_from``, resolved for the instance before ``clean``. Types whose rules belong to
the domain (``id_number``) are checked by functions the registry supplies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine import field_words as words
from engine.specs import FormField, Label

DOMAIN_TYPES = ("id_number",)
BUILTIN_TYPES = (
    "text",
    "choice",
    "choices",
    "boolean",
    "amount",
    "integer",
    "date",
    "datetime",
    "reference",
)
FIELD_TYPES = BUILTIN_TYPES + DOMAIN_TYPES

MAX_TEXT = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_WHOLE = re.compile(r"[0-9]{1,18}")
AMOUNT_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"
"""An amount as text, in ASCII digits: yuan with at most two decimals (``360.00``, ``25``)."""
_AMOUNT = re.compile(AMOUNT_PATTERN)
MOMENT_YEARS = range(2000, 2100)
"""The years a moment an outside system reports (a payment, a deduction) may be in, as written."""
_MOMENT = re.compile(
    r"20[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_ANY_YEAR = re.compile("[0-9]{4}" + _MOMENT.pattern[len("20[0-9]{2}") :])
"""A moment in the format of ``_MOMENT``, whatever its year (to say what is wrong with it)."""
_TRUE = {"true", "yes", "1", "on", "是"}
_FALSE = {"false", "no", "0", "off", "否"}

FieldCheck = Callable[[str], str]
"""A domain type's check: the normalised value, or ``FieldValueError``."""
ReferenceResolver = Callable[[FormField, int], bool]
"""Whether instance ``id`` is one the reference field may name (for the instance asking)."""


class FieldValueError(ValueError):
    """A value its field's type does not accept, with the reason in Chinese and English."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field of a submission."""

    field: str
    message_zh: str
    message_en: str
    label: Label | None = None
    """The field's label, as people read it (None for a field the form does not have)."""
    checked: bool = False
    """A check of the value refused it (a domain type's check, such as an ID number's check
    digit, or a reference to an instance that may not be named): a verification that failed,
    recorded as a refused attempt. Otherwise the submission was malformed (unknown field,
    missing, wrong type or format): plain bad input, which changes nothing."""

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message_zh": self.message_zh, "message_en": self.message_en}

    def named(self, lang: str) -> str:
        """The field as a person reads it: its label in ``lang``, else its name."""
        if self.label is None:
            return self.field
        return self.label.en if lang == "en" else self.label.zh


class _CheckRefused(FieldValueError):
    """A domain check or a reference refused a well-formed value."""


def clean(
    fields: Sequence[FormField],
    data: Mapping[str, Any],
    *,
    checks: Mapping[str, FieldCheck],
    resolve: ReferenceResolver | None = None,
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The submission's values, normalised by type, and the problems found: the malformed ones
    (a field unknown, missing or of the wrong type) if there are any, else the checks' refusals.

    Args:
        fields: what may be submitted.
        data: the submission (JSON values, or the strings of an HTML form).
        checks: the domain's checks by type name (``id_number``).
        resolve: answers whether a ``reference`` value is allowed; without it references fail.
    """
    known = {f.name: f for f in fields}
    problems = [FieldProblem(str(name), *words.NOT_A_FIELD) for name in data if name not in known]
    values: dict[str, Any] = {}
    refused: list[FieldProblem] = []  # a check's verdict on a well-formed value
    for spec in fields:
        raw = data.get(spec.name)
        if _blank(raw):
            if spec.required:
                problems.append(FieldProblem(spec.name, *words.REQUIRED, spec.label))
            continue
        try:
            values[spec.name] = _parse(spec, raw, checks, resolve)
        except _CheckRefused as exc:
            problem = FieldProblem(spec.name, exc.message_zh, exc.message_en, spec.label, True)
            refused.append(problem)
        except FieldValueError as exc:
            problems.append(FieldProblem(spec.name, exc.message_zh, exc.message_en, spec.label))
    # a malformed submission (a field missing, unknown or of the wrong type) is answered as that
    # alone: no check's verdict comes with it, so it is never counted as a refused attempt
    return values, problems or refused


def _blank(raw: Any) -> bool:
    if isinstance(raw, list | tuple):
        return all(_blank(item) for item in raw)
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _choices(spec: FormField, raw: Any) -> list[str]:
    """The options chosen (a list of values, or one value), each offered, once each."""
    items = list(raw) if isinstance(raw, list | tuple) else [raw]
    chosen: list[str] = []
    for item in items:
        if _blank(item):
            continue
        value = _text(item)
        if not spec.allows(value):
            offered_zh = "、".join(f"{label.zh}（{v}）" for v, label in spec.options) or "无"
            offered_en = "; ".join(f"{v} ({label.en})" for v, label in spec.options) or "none"
            raise FieldValueError(
                f"“{value[:40]}”不是可选项（可选：{offered_zh}）",
                f"{value[:40]!r} is not one of the options offered: {offered_en}",
            )
        if value not in chosen:
            chosen.append(value)
    return chosen


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise FieldValueError(*words.EXPECTED_TEXT)
    value = raw.strip()
    if len(value) > MAX_TEXT:
        raise FieldValueError(*words.too_long(MAX_TEXT))
    if _CONTROL.search(value):
        raise FieldValueError(*words.CONTROL_CHARACTERS)
    return value


def _parse(
    spec: FormField,
    raw: Any,
    checks: Mapping[str, FieldCheck],
    resolve: ReferenceResolver | None,
) -> Any:
    kind = spec.type
    if kind == "boolean":
        return _boolean(raw)
    if kind == "integer" or kind == "reference":
        number = _integer(raw)
        if kind == "reference" and not (resolve is not None and resolve(spec, number)):
            raise _CheckRefused(f"{number} 不是可选的对象", f"{number} is not one you may choose")
        return number
    if kind == "amount":
        return parse_amount(raw)
    if kind == "choices":
        return _choices(spec, raw)
    text = _text(raw)
    if kind == "choice" and not spec.allows(text):
        raise FieldValueError(
            *words.one_of(
                [label.zh for _, label in spec.options],
                [f"{v} ({label.en})" for v, label in spec.options],
            )
        )
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldValueError(*words.EXPECTED_DATE) from None
    if kind == "datetime":
        return _datetime(text)
    if kind in checks:
        try:
            return checks[kind](text)
        except FieldValueError as exc:
            raise _CheckRefused(exc.message_zh, exc.message_en) from None
    return text


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise FieldValueError(*words.EXPECTED_BOOLEAN)


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise FieldValueError(*words.EXPECTED_WHOLE_NUMBER)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        raise FieldValueError(*words.EXPECTED_WHOLE_NUMBER)
    if not 0 <= value < 2**53:
        raise FieldValueError(*words.OUT_OF_RANGE)
    return value


def parse_amount(raw: Any) -> str:
    """An amount as every door takes it (text, ``AMOUNT_PATTERN``), normalised to cents."""
    if not isinstance(raw, str):
        raise FieldValueError(*words.AMOUNT_NOT_TEXT)
    if not _AMOUNT.match(raw.strip()):
        raise FieldValueError(*words.AMOUNT_FORMAT)
    return str(Decimal(raw.strip()).quantize(Decimal("0.01")))


def _datetime(text: str) -> str:
    return parse_moment(text).isoformat()


def parse_moment(text: str) -> datetime:
    """A moment an outside system reports, as RFC 3339 with its offset (``2022-02-01T10:00:00+08:00``,
    ``...Z``), the year as written from 2000 to 2099: the one format every door accepts."""
    if not _MOMENT.fullmatch(text):
        if _ANY_YEAR.fullmatch(text):  # the format is right; the year is out of range
            raise FieldValueError(*words.years_between(MOMENT_YEARS[0], MOMENT_YEARS[-1]))
        raise FieldValueError(*words.EXPECTED_MOMENT)
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise FieldValueError(*words.NO_SUCH_MOMENT) from None


def problem_text(problems: Sequence[FieldProblem], lang: str) -> str:
    """The problems as one line, each field by its label (``Amount (yuan): required; ...``)."""
    if lang == "en":
        return "; ".join(f"{p.named('en')}: {p.message_en}" for p in problems)
    return "；".join(f"{p.named('zh')}：{p.message_zh}" for p in problems)
