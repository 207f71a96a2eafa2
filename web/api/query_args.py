"""The API's query parameters, checked as a body is: a parameter the endpoint does not declare
(``GET /tasks?foo=1``) or a value of the wrong form or out of range (``?limit=abc``,
``?limit=-1``) is a 422 ``invalid_request`` whose ``details`` name each parameter with its words
in Chinese and English (``engine.field_words``; a number's words give its range), as the inbox pages
refuse a parameter they do not offer instead of answering an unfiltered list. A name that does
not look like a field's comes back as ``<key>`` (``web.api.bodies.loc_part``), a value never.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from flask import request

from engine import field_words as words
from engine.field_words import FieldWords
from web.api.bodies import loc_part
from web.api.errors import ApiError

NOT_A_PARAMETER = FieldWords("不是此接口的参数", "not a parameter of this endpoint")


def refused(problems: Sequence[tuple[str, FieldWords]]) -> ApiError:
    """422 ``invalid_request`` naming each parameter with what is wrong with it."""
    zh = "；".join(f"{name}：{said.zh}" for name, said in problems)
    en = "; ".join(f"{name}: {said.en}" for name, said in problems)
    return ApiError(
        422,
        "invalid_request",
        f"查询参数有误：{zh}",
        f"the query is invalid: {en}",
        details=[
            {"field": name, "message_zh": said.zh, "message_en": said.en} for name, said in problems
        ],
    )


def check_known(declared: Collection[str]) -> None:
    """Refuse the request's query parameters that are not among ``declared``."""
    unknown = sorted({loc_part(name) for name in request.args if name not in declared})
    if unknown:
        raise refused([(name, NOT_A_PARAMETER) for name in unknown])


_WHOLE_NUMBER = re.compile(r"[0-9]{1,16}")
"""A value ``whole_numbers`` reads: ASCII digits, no sign, at most 16 (``MAX_ID`` has 16)."""


def whole_numbers(*wanted: tuple[str, int, int, int]) -> list[int]:
    """The query parameters ``(name, default, low, high)``, each a whole number from ``low`` to
    ``high`` (``default`` when absent); 422 naming every one that is not, with the range it
    must be in (``-1``, ``100000000000000000000`` and ``abc`` alike: a whole number from low to
    high)."""
    found: list[int] = []
    problems: list[tuple[str, FieldWords]] = []
    for name, default, low, high in wanted:
        raw = request.args.get(name)
        if raw is None:
            found.append(default)
        elif _WHOLE_NUMBER.fullmatch(raw) and low <= int(raw) <= high:
            found.append(int(raw))
        else:
            problems.append((name, words.between(low, high)))
    if problems:
        raise refused(problems)
    return found
