"""Form and event data: every value checked by its field's type and normalised; nothing else passes.

A user task's form and an event's ``fields:`` are lists of ``FormField``. ``clean`` checks a
submission against them at every outside door (a task completed in the inbox or through the API, an
event an outside system sends): unknown fields are refused, required ones must be there, and each
value is parsed by its type. The result holds normalised values only (an amount as ``"360.00"``, an
ID number with an upper-case ``X``, a boolean as ``true``), so the same submission through two doors
writes the same history.

Built-in types: ``text``, ``choice``, ``boolean``, ``amount``, ``integer``, ``date``, ``datetime``
and ``reference`` (another instance, looked up by the caller's resolver). Types whose rules belong to
the domain (``id_number``) are checked by functions the registry supplies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.specs import FormField

DOMAIN_TYPES = ("id_number",)
BUILTIN_TYPES = ("text", "choice", "boolean", "amount", "integer", "date", "datetime", "reference")
FIELD_TYPES = BUILTIN_TYPES + DOMAIN_TYPES

MAX_TEXT = 500
MAX_AMOUNT = Decimal("10000000")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
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

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message_zh": self.message_zh, "message_en": self.message_en}


def clean(
    fields: Sequence[FormField],
    data: Mapping[str, Any],
    *,
    checks: Mapping[str, FieldCheck],
    resolve: ReferenceResolver | None = None,
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The submission's values, normalised by type, and the problems found.

    Args:
        fields: what may be submitted.
        data: the submission (JSON values, or the strings of an HTML form).
        checks: the domain's checks by type name (``id_number``).
        resolve: answers whether a ``reference`` value is allowed; without it references fail.
    """
    known = {f.name: f for f in fields}
    problems = [
        FieldProblem(str(name), "不是此表单的字段", "not a field of this form")
        for name in data
        if name not in known
    ]
    values: dict[str, Any] = {}
    for spec in fields:
        raw = data.get(spec.name)
        if _blank(raw):
            if spec.required:
                problems.append(FieldProblem(spec.name, "必填", "required"))
            continue
        try:
            values[spec.name] = _parse(spec, raw, checks, resolve)
        except FieldValueError as exc:
            problems.append(FieldProblem(spec.name, exc.message_zh, exc.message_en))
    return values, problems


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise FieldValueError("应为文本", "expected text")
    value = raw.strip()
    if len(value) > MAX_TEXT:
        raise FieldValueError(f"不能超过 {MAX_TEXT} 个字符", f"at most {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise FieldValueError("含有控制字符", "contains control characters")
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
            raise FieldValueError(f"{number} 不是可选的对象", f"{number} is not one you may choose")
        return number
    if kind == "amount":
        return _amount(raw)
    text = _text(raw)
    if kind == "choice" and not spec.allows(text):
        allowed = ", ".join(v for v, _ in spec.options)
        raise FieldValueError(f"应为以下之一：{allowed}", f"expected one of: {allowed}")
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise FieldValueError("应为日期 YYYY-MM-DD", "expected a date YYYY-MM-DD") from None
    if kind == "datetime":
        return _datetime(text)
    if kind in checks:
        return checks[kind](text)
    return text


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise FieldValueError("应为是或否", "expected true or false")


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise FieldValueError("应为整数", "expected a whole number")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) <= 18:
        value = int(raw.strip())
    else:
        raise FieldValueError("应为整数", "expected a whole number")
    if not 0 <= value < 2**53:
        raise FieldValueError("超出范围", "out of range")
    return value


def _amount(raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise FieldValueError('金额应写成文本，如 "360.00"', 'an amount is text, e.g. "360.00"')
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FieldValueError("不是金额", "not an amount") from None
    if (
        not value.is_finite()
        or value < 0
        or value >= MAX_AMOUNT
        or value != value.quantize(Decimal("0.01"))
    ):
        raise FieldValueError(
            "金额应在 0 到 10,000,000 元之间，最多两位小数", "0 to 10,000,000 yuan, cents at most"
        )
    return str(value.quantize(Decimal("0.01")))


def _datetime(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldValueError("应为带时区的时间 ISO 8601", "expected an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldValueError("时间必须带时区", "the time needs a time zone")
    return moment.isoformat()


def problem_text(problems: Sequence[FieldProblem], lang: str) -> str:
    """The problems as one line (``amount: required; payer: ...``)."""
    if lang == "en":
        return "; ".join(f"{p.field}: {p.message_en}" for p in problems)
    return "；".join(f"{p.field}：{p.message_zh}" for p in problems)
