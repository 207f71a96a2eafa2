"""The API's request bodies and headers read safely: JSON parsed with limits, then validated.

``parse_body(model)`` reads the JSON body (a leading UTF-8 byte order mark ignored; 400 not JSON
or malformed, 413 too large, 400 nested more than ``MAX_DEPTH`` levels, 422 control characters or
unpaired surrogates, duplicate keys or non-finite numbers refused) and validates it against the
endpoint's pydantic model (422 ``invalid_request`` naming each field with its words in Chinese and
English, the event-data check's for the same fact: ``web.api.body_problems``; never the value).
``check_idempotency_key`` checks the header's form; ``body_digest`` is what a replay under the
same key is compared by.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from flask import g, request
from pydantic import BaseModel, ValidationError

from engine import field_words
from engine.field_words import FieldWords
from web.api.body_problems import body_problems, line_of, message
from web.api.errors import ApiError

MAX_DEPTH = 32
"""The deepest nesting of arrays and objects a body may have."""
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|[\ud800-\udfff]")


def check_idempotency_key() -> None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "bad_idempotency_key",
            "幂等键应为 1-200 个可打印 ASCII 字符（不含空格）",
            "Idempotency-Key: 1-200 printable ASCII characters, no spaces",
        )


def body_digest() -> str | None:
    """A hash of this request (method, path, JSON body), for ``Idempotency-Key`` replays.

    Computed from the parsed body written back as ASCII JSON with sorted keys, so it can always
    be hashed and the same content spelled differently is the same request.
    """
    if "api_body" not in g:
        return None
    blob = json.dumps(
        [request.method, request.path, g.api_body],
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _malformed(what_zh: str, what_en: str) -> ApiError:
    return ApiError(
        400,
        "malformed_json",
        f"请求体不是有效的 JSON：{what_zh}",
        f"the body is not valid JSON: {what_en}",
    )


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in JSON ``text``, counted without recursion and outside
    strings; stops counting just past ``limit``."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        mark = token.group(0)
        if mark in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif mark in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate key")
    return found


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}|[0-9]{1,6}")


def loc_part(part: Any) -> str:
    """One step of an error's location. A key is the caller's text: named back only when it
    looks like a field name (``amout``), else ``<key>``, so no personal data a careless client
    put in a key comes back in the error (or lands in a proxy's log of it)."""
    text = str(part)
    return text if _FIELD_NAME.fullmatch(text) else "<key>"


def _text_problem(loc: list[str], said: FieldWords, msg: str) -> dict[str, Any]:
    """One place holding an unreadable character: the field named with the words, as every
    detail (``loc`` and ``msg`` kept for clients of the first version)."""
    return {
        "field": ".".join(loc),
        "message_zh": said.zh,
        "message_en": said.en,
        "loc": loc,
        "msg": msg,
    }


def _text_problems(value: Any, loc: list[str]) -> list[dict[str, Any]]:
    """Where strings (keys too) hold control characters (other than tab, CR, LF) or unpaired
    surrogates; the depth is bounded already, so recursion is safe."""
    problems: list[dict[str, Any]] = []
    if isinstance(value, str):
        if _FORBIDDEN_CHARACTER.search(value):
            problems.append(
                _text_problem(
                    loc,
                    field_words.UNREADABLE_TEXT,
                    "control character or unpaired surrogate in a string",
                )
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            if _FORBIDDEN_CHARACTER.search(key):
                problems.append(
                    _text_problem(
                        loc,
                        field_words.UNREADABLE_KEY,
                        "control character or unpaired surrogate in a key",
                    )
                )
            else:
                problems.extend(_text_problems(item, [*loc, loc_part(key)]))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.extend(_text_problems(item, [*loc, str(index)]))
    return problems


def read_json() -> Any:
    """The request's JSON body, parsed safely; ``ApiError`` (400/413/422) otherwise."""
    if not request.is_json:
        raise ApiError(
            400,
            "not_json",
            "请求体必须是 JSON（Content-Type: application/json）",
            "the body must be JSON (Content-Type: application/json)",
        )
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("不是 UTF-8 编码", "not UTF-8") from None
    # a leading byte order mark (Windows and .NET clients send one) is ignored, as RFC 8259
    # section 8.1 lets a parser do: it is no part of the JSON text
    text = text.removeprefix("\ufeff")
    if nesting_depth(text) > MAX_DEPTH:
        raise ApiError(
            400,
            "too_deep",
            f"请求体嵌套超过 {MAX_DEPTH} 层",
            f"the body nests more than {MAX_DEPTH} levels",
        )
    try:
        parsed = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError):
        raise _malformed(
            "语法错误、重复的键或超出范围的数字", "syntax, a duplicate key or a number out of range"
        ) from None
    problems = _text_problems(parsed, [])
    if problems:
        raise ApiError(
            422,
            "invalid_characters",
            "请求中含有控制字符或无效的 Unicode 字符",
            "the request holds a control character or an unpaired surrogate",
            details=problems[:20],
        )
    return parsed


def parse_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body validated against ``model``; ``ApiError`` (400/413/422) otherwise.

    A model whose ``LINES`` names a list of rows (``PeopleImport.LINES``: ``rows``) has each
    detail about a place in a row say which, counted from 1 (``line``), as its answer's
    ``rejected[].line`` counts them; ``field`` keeps the JSON place (``rows.2.name``)."""
    rows = getattr(model, "LINES", None)
    try:
        raw = read_json()
    except ApiError as error:
        for detail in error.body.get("details") or ():
            line = line_of(detail["field"].split("."), rows)
            if line is not None:
                detail["line"] = line
        raise
    g.api_body = raw
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        problems = body_problems(raw, errors, step=loc_part, rows=rows)
        message_zh, message_en = message(problems)
        raise ApiError(
            422,
            "invalid_request",
            message_zh,
            message_en,
            details=[p.as_dict() for p in problems],
        ) from None
