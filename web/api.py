"""The JSON API under /api/v1 for citizen channels and outside systems (banks, tax, factories).

Thin views: authenticate the bearer token, check its scope, call one operation of the domain or the
engine, answer JSON. State-changing requests accept an ``Idempotency-Key`` header.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, jsonify, request
from pydantic import BaseModel

from engine.errors import WorkflowError
from engine.runtime import Idempotency, Transition, request_hash
from web import api_errors
from web.api_errors import ApiError, from_invalid_id, from_workflow_error
from web.api_models import (
    EventRequest,
    OpenApiDocument,
    TransitionOut,
)
from web.api_spec import endpoint, openapi_document
from web.api_tokens import Caller, authenticate
from web.extensions import engine_of
from workflows.identity import InvalidIdNumber, validate_id_number

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ID = 2**53


def int_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def str_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    }


def as_id(value: str, what: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise ApiError(404, "not_found", f"{what} 不存在：{value}", f"no such {what}: {value}")
    return int(value)


def person_number(value: str) -> str:
    try:
        return validate_id_number(value)
    except InvalidIdNumber as exc:
        raise from_invalid_id(exc) from None


def caller() -> Caller:
    if "api_caller" not in g:
        g.api_caller = authenticate(engine_of().db)
    return g.api_caller  # type: ignore[no-any-return]


def idempotency(who: Caller) -> Idempotency | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise ApiError(
            400, "bad_idempotency_key", "幂等键长度应为 1-200", "Idempotency-Key: 1-200 chars"
        )
    body = request.get_json(silent=True)
    return Idempotency(f"api:{who.name}", key, request_hash(request.method, request.path, body))


def answer(model: BaseModel, status: int = 200) -> Any:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def run(operation: Any) -> Any:
    try:
        return operation()
    except WorkflowError as exc:
        raise from_workflow_error(exc) from None


def transition_out(done: Transition) -> TransitionOut:
    return TransitionOut(**done.as_dict())


def not_sendable(event: str, allowed: list[str]) -> ApiError:
    """409 for an event outside systems may not send (timers and staff tasks send those)."""
    return ApiError(
        409,
        "event_not_allowed",
        f"事件 {event} 不能通过接口发送",
        f"event {event} cannot be sent through the API",
        allowed=allowed,
    )


def senders_of(process: str, event: str) -> tuple[str, ...] | None:
    """Who may send ``event`` to ``process`` (the definition's ``senders:``); None if nobody."""
    definition = engine_of().definition(process)
    spec = definition.events.get(event)
    return spec.senders if spec is not None and spec.senders else None


def sendable(process: str) -> list[str]:
    return sorted(engine_of().definition(process).sendable())


def send_event(who: Caller, instance_id: int, body: EventRequest) -> Any:
    """Fire the request's event as the caller, idempotently, and answer the transition."""
    done = run(
        lambda: engine_of().fire(
            instance_id,
            body.event,
            actor=f"api:{who.name}",
            data=body.data,
            idempotency=idempotency(who),
        )
    )
    return answer(transition_out(done))


@endpoint(
    bp, "GET", "/openapi.json", summary="This description", scopes=(), response=OpenApiDocument
)
def openapi() -> Any:
    document = openapi_document(
        request.script_root + str(bp.url_prefix), {"process": sorted(engine_of().processes)}
    )
    return jsonify(document)


def init_app(app: Flask) -> None:
    """Register the API with its JSON error answers and a body size limit."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # UTF-8 Chinese, not \u escapes
    api_errors.init_app(app)
    # The endpoint modules add their routes to ``bp`` when first imported.
    from web import api_cards, api_enrollments, api_people, api_tasks  # noqa: F401

    app.register_blueprint(bp)
