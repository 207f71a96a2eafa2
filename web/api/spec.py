"""The API's endpoint registry: one declaration guards a request and writes the OpenAPI document.

Each endpoint is declared with ``@endpoint(...)``: its method and path, the token scopes it
accepts, the pydantic model of its body and of its answer. Before the view runs, the decorator
answers, in this order:

1. 401: no bearer token, or an unknown, expired or revoked one;
2. 403: the token holds none of the scopes the endpoint accepts (nothing is looked up first);
3. 400/413/422: a bad ``Idempotency-Key``, a body that is not JSON, too large, nested more than
   ``MAX_DEPTH`` levels, with control characters or unpaired surrogates in a string, or that
   does not match the model.

The view then looks things up (404) and applies the rules (409/422); it keeps the finer checks
("this bank's card": a card of another bank is 404, as if it did not exist). Every 403 is written
to the security event log. ``openapi_document()`` is built from the same declarations, so the
description cannot drift from what the code accepts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, g, request
from pydantic import BaseModel, ConfigDict, ValidationError

from web import security_log
from web.api.errors import ApiError
from web.api.tokens import Caller, authenticate, holds
from web.extensions import engine_of

ERROR_STATUSES = {
    "400": "Malformed request (not JSON, nested too deep, bad header)",
    "401": "No bearer token, or an unknown, expired or revoked one",
    "403": "The token's scope does not allow this",
    "404": "No such resource (or one the token may not see)",
    "409": "Not allowed in the current state; `allowed` lists what is allowed now",
    "413": "Request body too large",
    "422": "The request is well-formed but invalid",
}
MAX_DEPTH = 32
"""The deepest nesting of arrays and objects a body may have."""
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_PLACEHOLDER = re.compile(r"<\w+>$")
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|[\ud800-\udfff]")


class ErrorBody(BaseModel):
    """Every error: a machine-readable code and a message in Chinese and English."""

    model_config = ConfigDict(extra="forbid")
    code: str
    message_zh: str
    message_en: str
    allowed: list[str] | None = None
    details: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI form: /cards/{card_id}
    operation_id: str
    summary: str
    scopes: tuple[str, ...]
    body: type[BaseModel] | None
    response: type[BaseModel]
    status: int
    parameters: tuple[dict[str, Any], ...]
    idempotent: bool
    links: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    """OpenAPI links of the success answer: (name, operationId, ((parameter, expression), ...))."""


ENDPOINTS: list[Endpoint] = []

_FLASK_PARAM = re.compile(r"\{(\w+)\}")


def endpoint(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    scopes: tuple[str, ...],
    response: type[BaseModel],
    body: type[BaseModel] | None = None,
    status: int = 200,
    parameters: tuple[dict[str, Any], ...] = (),
    public: bool = False,
    idempotent: bool | None = None,
    max_body: int | None = None,
    links: dict[str, tuple[str, dict[str, str]]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare, guard, validate and route one API operation.

    Args:
        scopes: the scopes that may call it (``bank:<code>`` stands for any bank's scope);
            empty only with ``public=True``: deny by default.
        idempotent: whether it takes an ``Idempotency-Key`` (by default: state-changing methods).
        max_body: the largest body in bytes, if not the app's ``MAX_CONTENT_LENGTH`` (413 beyond).
        links: OpenAPI links of the success answer, ``{name: (operationId, {parameter:
            runtime expression})}``: which operation its answer leads to (stateful clients and
            tests follow them).

    The view receives the validated body (if any) as ``body=`` and the path parameters by name;
    ``caller()`` in ``web.api.routes`` is the authenticated token.
    """
    if not scopes and not public:
        raise ValueError(f"{method} {path}: name the scopes that may call it (or public=True)")
    takes_key = method in ("POST", "PUT", "PATCH", "DELETE") if idempotent is None else idempotent

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        spec = Endpoint(
            method,
            path,
            view.__name__,
            summary,
            scopes,
            body,
            response,
            status,
            parameters,
            idempotent=takes_key,
            links=tuple(
                (name, target, tuple(sorted(values.items())))
                for name, (target, values) in (links or {}).items()
            ),
        )
        ENDPOINTS.append(spec)

        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if scopes:
                authorize(scopes)
            if takes_key:
                check_idempotency_key()
            if max_body is not None:
                request.max_content_length = max_body
            if body is not None:
                kwargs["body"] = parse_body(body)
            try:
                return view(**kwargs)
            except ApiError as error:
                if error.status == 403:
                    _denied(error)
                raise

        rule = _FLASK_PARAM.sub(r"<\1>", path)
        bp.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        return wrapped

    return decorate


def current_caller() -> Caller:
    """The token of this request (authenticated once per request)."""
    if "api_caller" not in g:
        g.api_caller = authenticate(engine_of().db)
    return g.api_caller  # type: ignore[no-any-return]


def authorize(scopes: tuple[str, ...]) -> Caller:
    """401 without a valid token, 403 (recorded) unless it holds one of ``scopes``."""
    who = current_caller()
    if not holds(who, *(_PLACEHOLDER.sub("*", s) for s in scopes)):
        error = ApiError(
            403,
            "forbidden",
            f"令牌权限不足，需要：{', '.join(scopes)}",
            f"the token's scope does not allow this; needs one of: {', '.join(scopes)}",
        )
        _denied(error)
        raise error
    return who


def _denied(error: ApiError) -> None:
    """Write a 403 to the security event log: who, which operation (never its data)."""
    if getattr(error, "recorded", False):
        return
    error.recorded = True  # type: ignore[attr-defined]
    who = g.get("api_caller")
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    security_log.record(
        engine_of().db,
        "permission_denied",
        actor=f"api:{who.name}" if who else None,
        remote_addr=request.remote_addr,
        method=request.method,
        endpoint=rule,
        scopes=sorted(who.scopes) if who else [],
    )


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


def loc_part(part: Any) -> str:
    """One step of an error's location, cut short: a key is the caller's text."""
    text = str(part)
    return text if len(text) <= 64 else text[:61] + "..."


def _text_problems(value: Any, loc: list[str]) -> list[dict[str, Any]]:
    """Where strings (keys too) hold control characters (other than tab, CR, LF) or unpaired
    surrogates; the depth is bounded already, so recursion is safe."""
    problems: list[dict[str, Any]] = []
    if isinstance(value, str):
        if _FORBIDDEN_CHARACTER.search(value):
            problems.append(
                {"loc": loc, "msg": "control character or unpaired surrogate in a string"}
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            if _FORBIDDEN_CHARACTER.search(key):
                problems.append(
                    {"loc": loc, "msg": "control character or unpaired surrogate in a key"}
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
    """The request's JSON body validated against ``model``; ``ApiError`` (400/413/422) otherwise."""
    raw = read_json()
    g.api_body = raw
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        details = [
            {"loc": [loc_part(p) for p in e["loc"]], "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(
            422, "invalid_request", "请求内容无效", "the request is invalid", details=details
        ) from None


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _with_enum(parameter: dict[str, Any], enums: dict[str, list[str]]) -> dict[str, Any]:
    values = enums.get(parameter["name"])
    if values is None:
        return dict(parameter)
    return {**parameter, "schema": {"type": "string", "enum": values}}


def openapi_document(
    server_url: str = "/api/v1", enums: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every declared endpoint.

    Args:
        server_url: where the API is mounted.
        enums: the values a path parameter can take in this deployment (``process``: the keys of
            the loaded definitions), written into its schema.
    """
    enums = enums or {}
    components: dict[str, Any] = {}
    error_ref = _schema(ErrorBody, components)
    paths: dict[str, Any] = {}
    for spec in ENDPOINTS:
        responses: dict[str, Any] = {
            str(spec.status): {
                "description": "Success",
                "content": {"application/json": {"schema": _schema(spec.response, components)}},
            }
        }
        if spec.links:
            responses[str(spec.status)]["links"] = {
                name: {"operationId": target, "parameters": dict(values)}
                for name, target, values in spec.links
            }
        for status, text in ERROR_STATUSES.items():
            if status in ("401", "403") and not spec.scopes:
                continue
            responses[status] = {
                "description": text,
                "content": {"application/json": {"schema": error_ref}},
            }
        operation: dict[str, Any] = {
            "operationId": spec.operation_id,
            "summary": spec.summary,
            "responses": responses,
            "parameters": [_with_enum(p, enums) for p in spec.parameters],
        }
        if spec.scopes:
            operation["security"] = [{"bearer": []}]
            operation["description"] = "Token scopes: " + ", ".join(spec.scopes)
        else:
            operation["security"] = []
        if spec.idempotent:
            operation["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
                    "description": "Same key and body: the first response again (a delivery "
                    "still running is waited for); another body: 422",
                }
            )
        if spec.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(spec.body, components)}},
            }
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "shebao-workflow API",
            "version": "1.0.0",
            "description": "社会保障卡与城乡居民医保的流程接口 / Social security cards and "
            "resident medical insurance workflows",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
