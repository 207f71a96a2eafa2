"""The OpenAPI 3.1 document, written from the endpoints' declarations (``web.api.spec``).

Each declared endpoint gives its path, parameters, scopes, body and answer models; the error
answers every guarded endpoint can give are listed with the one error body they share. Nothing
here is written by hand per endpoint, so the description cannot drift from what the code accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from web.api.error_codes import ErrorCode, codes_by_status
from web.api.spec import ENDPOINTS, ErrorBody

ERROR_STATUSES = {
    "400": "Malformed request (not JSON, nested too deep, bad header)",
    "401": "No bearer token, or an unknown, expired or revoked one",
    "403": "The token's scope does not allow this",
    "404": "No such resource (or one the token may not see)",
    "409": "Not allowed in the current state; `allowed` lists what this token may send now",
    "413": "Request body too large",
    "415": "The body's media type is not taken",
    "422": "The request is well-formed but invalid",
    "503": "The database is unavailable for the moment: retry after `Retry-After` seconds",
}


def _error_description(text: str, codes: list[ErrorCode]) -> str:
    """A status's description with the codes its body may carry (``web.api.error_codes``)."""
    if not codes:
        return text
    listed = "; ".join(f"`{c.code}`: {c.meaning}" for c in codes)
    return f"{text}. Codes: {listed}"


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
    codes = codes_by_status()
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
                "description": _error_description(text, codes.get(int(status), [])),
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
