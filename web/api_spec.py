"""The API's endpoint registry: one declaration validates requests and writes the OpenAPI document.

Each endpoint is declared with ``@endpoint(...)``: its method and path, the token scopes it accepts,
the pydantic model of its body and of its answer. The decorator parses and validates the JSON body
before the view runs, and ``openapi_document()`` is built from the same declarations, so the
description cannot drift from what the code accepts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, ValidationError

from web.api_errors import ApiError

ERROR_STATUSES = {
    "400": "Malformed request (not JSON, bad header)",
    "401": "No or unknown bearer token",
    "403": "The token's scope does not allow this",
    "404": "No such resource",
    "409": "Not allowed in the current state; `allowed` lists what is allowed now",
    "413": "Request body too large",
    "422": "The request is well-formed but invalid",
}


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
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare, validate and route one API operation.

    The view receives the validated body (if any) as ``body=`` and the path parameters by name.
    """

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
            idempotent=method in ("POST", "PUT", "PATCH", "DELETE"),
        )
        ENDPOINTS.append(spec)

        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if body is not None:
                kwargs["body"] = parse_body(body)
            return view(**kwargs)

        rule = _FLASK_PARAM.sub(r"<\1>", path)
        bp.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        return wrapped

    return decorate


def parse_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body validated against ``model``; ``ApiError`` (400/422) otherwise."""
    if not request.is_json:
        raise ApiError(
            400,
            "not_json",
            "请求体必须是 JSON（Content-Type: application/json）",
            "the body must be JSON (Content-Type: application/json)",
        )
    raw = request.get_json(silent=True)
    if raw is None:
        raise ApiError(400, "malformed_json", "请求体不是有效的 JSON", "the body is not valid JSON")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
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
        for status, text in ERROR_STATUSES.items():
            if status == "401" and not spec.scopes:
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
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": "Same key and body: the first response again; another body: 422",
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
