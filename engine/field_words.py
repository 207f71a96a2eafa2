"""The words for what is wrong with one field's value, in Chinese and English: one table for
every door.

An event's data and a task's form (``engine.forms``) and the API's request bodies
(``web.api.body_problems``) say the same fact in the same words: an amount sent as a number is
``金额应写成文本，如 "360.00"`` whichever endpoint it came to. No word here repeats the value
refused, so nothing a caller sent (an ID number in the wrong field) comes back in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class FieldWords(NamedTuple):
    """What is wrong with a field's value, in Chinese and English."""

    zh: str
    en: str


REQUIRED = FieldWords("必填", "required")
NOT_A_FIELD = FieldWords("不是此表单的字段", "not a field of this form")
EXPECTED_TEXT = FieldWords("应为文本", "expected text")
CONTROL_CHARACTERS = FieldWords("含有控制字符", "contains control characters")
UNREADABLE_TEXT = FieldWords(
    "含有控制字符或无效的 Unicode 字符", "contains a control character or an unpaired surrogate"
)
UNREADABLE_KEY = FieldWords(
    "其中的键名含有控制字符或无效的 Unicode 字符",
    "a key in it contains a control character or an unpaired surrogate",
)
ONE_LINE = FieldWords("应为一行文本，不含控制字符", "one line of text, without control characters")
EXPECTED_BOOLEAN = FieldWords("应为是或否", "expected true or false")
EXPECTED_WHOLE_NUMBER = FieldWords("应为整数", "expected a whole number")
OUT_OF_RANGE = FieldWords("超出范围", "out of range")
AMOUNT_NOT_TEXT = FieldWords('金额应写成文本，如 "360.00"', 'an amount is text, e.g. "360.00"')
AMOUNT_FORMAT = FieldWords(
    "金额应在 0 到 10,000,000 元之间，最多两位小数", "0 to 10,000,000 yuan, cents at most"
)
EXPECTED_DATE = FieldWords("应为日期 YYYY-MM-DD", "expected a date YYYY-MM-DD")
EXPECTED_MOMENT = FieldWords(
    "应为带时区的时间，如 2022-02-01T10:00:00+08:00",
    "expected a time with its offset (RFC 3339), e.g. 2022-02-01T10:00:00+08:00",
)
NO_SUCH_MOMENT = FieldWords("时间不存在", "no such date or time")
EXPECTED_OBJECT = FieldWords(
    "应为 JSON 对象（字段名 → 值）", "expected a JSON object (field name -> value)"
)
EXPECTED_LIST = FieldWords("应为列表", "expected a list")
EXPECTED_VALUE = FieldWords(
    "应为文本、数字、是或否，或文本列表",
    "expected text, a number, true or false, or a list of texts",
)
CODE = FieldWords(
    "应以小写字母开头，只含小写字母、数字和下划线",
    "lower-case letters, digits and _, starting with a letter",
)
POLICY_CODE = FieldWords("应为政策代码，如 huian-2023", "a policy code, e.g. huian-2023")
REGION_CODE = FieldWords("应为 6 位数字的行政区划代码", "a region code of 6 digits")
NO_SUCH_EVENT = FieldWords("该流程没有这个事件", "no event of this name in the process")
INVALID = FieldWords("格式不正确", "not in the expected format")
"""A value of the wrong form where no table entry says more."""


def too_long(most: int) -> FieldWords:
    return FieldWords(f"不能超过 {most} 个字符", f"at most {most} characters")


def too_many(most: int) -> FieldWords:
    return FieldWords(f"最多 {most} 项", f"at most {_items(most)}")


def too_few(least: int) -> FieldWords:
    return FieldWords(f"至少 {least} 项", f"at least {_items(least)}")


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def between(low: int, high: int) -> FieldWords:
    return FieldWords(f"应为 {low} 至 {high} 之间的整数", f"a whole number from {low} to {high}")


def years_between(first: int, last: int) -> FieldWords:
    return FieldWords(
        f"年份应在 {first} 至 {last} 年之间", f"the year must be from {first} to {last}"
    )


def one_of(offered_zh: Sequence[str], offered_en: Sequence[str]) -> FieldWords:
    """One of the values offered: each side lists them in its language."""
    return FieldWords(
        f"应为以下之一：{'、'.join(offered_zh)}", f"expected one of: {', '.join(offered_en)}"
    )
