"""JSON errors of the API: typed errors of every layer mapped to a status and a bilingual body.

Every error body is passed through ``log_masking.mask_value`` before it is sent: whatever a lower
layer put in a message, a resident ID number never leaves in an error answer (the last line of
defence; the messages themselves already mask).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import errors as engine_errors
from web.error_pages import staff_error_page
from web.log_masking import mask_value
from workflows.cards import CardApplicationRefused
from workflows.deductions import DeductionFileError
from workflows.identity import InvalidIdNumber
from workflows.imports import ImportRefused
from workflows.payments import EnrollmentRefused
from workflows.people import NotRegistered, RegistrationRefused
from workflows.reductions import ReductionClaimRefused
from workflows.regions import UnknownPolicy


class ApiError(Exception):
    """An error the API answers with ``status`` and a JSON body."""

    def __init__(
        self,
        status: int,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        allowed: list[str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.status = status
        self.body: dict[str, Any] = {
            "code": code,
            "message_zh": message_zh,
            "message_en": message_en,
        }
        if allowed is not None:
            self.body["allowed"] = allowed
        if details is not None:
            self.body["details"] = details


# Which status each typed error of the lower layers answers with.
STATUS_OF: dict[type[Exception], int] = {
    engine_errors.UnknownProcess: 404,
    engine_errors.InstanceNotFound: 404,
    engine_errors.TaskNotFound: 404,
    engine_errors.IncidentNotFound: 404,
    engine_errors.UnknownEvent: 422,
    engine_errors.EventNotAllowed: 409,
    engine_errors.TransitionRefused: 409,
    engine_errors.ConcurrentModification: 409,
    engine_errors.TaskNotOpen: 409,
    engine_errors.IncidentNotOpen: 409,
    engine_errors.TaskClaimedByOther: 409,
    engine_errors.TaskDelegated: 409,
    engine_errors.DuplicateInstance: 409,
    engine_errors.InvalidTaskOutcome: 422,
    engine_errors.DataInvalid: 422,
    engine_errors.TooManyFollowUps: 409,
    engine_errors.IdempotencyConflict: 422,
    CardApplicationRefused: 422,
    EnrollmentRefused: 422,
    DeductionFileError: 422,
    ImportRefused: 422,
    NotRegistered: 422,
    RegistrationRefused: 422,
    ReductionClaimRefused: 422,
    UnknownPolicy: 422,
}

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}

_HTTP_MESSAGES = {
    404: ("没有这个接口", "no such endpoint"),
    405: ("该接口不支持这个方法", "this endpoint does not take this method"),
    413: ("请求体过大", "the request body is too large"),
}


def from_workflow_error(
    exc: engine_errors.WorkflowError, allowed: list[str] | None = None
) -> ApiError:
    status = next((s for t, s in STATUS_OF.items() if isinstance(exc, t)), 422)
    allowed = allowed if allowed is not None else getattr(exc, "allowed", None)
    problems = getattr(exc, "problems", None)
    details = [p.as_dict() for p in problems] if problems else None
    return ApiError(
        status, exc.code, exc.message_zh, exc.message_en, allowed=allowed, details=details
    )


def from_invalid_id(exc: InvalidIdNumber, field: str = "id_number") -> ApiError:
    """422 ``invalid_id_number`` for an ID number in a body that fails a GB 11643 check, the
    same at every endpoint: ``details`` names the field with the words, never the number
    (``loc`` and ``msg``, the check's name, are kept for clients of the first version)."""
    detail = {
        "field": field,
        "message_zh": exc.message_zh,
        "message_en": exc.message_en,
        "loc": [field],
        "msg": exc.check,
    }
    return ApiError(
        422,
        "invalid_id_number",
        f"{field}：{exc.message_zh}",
        f"{field}: {exc.message_en}",
        details=[detail],
    )


def _json(error: ApiError) -> Response:
    response = jsonify(mask_value(error.body))
    response.status_code = error.status
    if error.status == 401:  # RFC 9110 15.5.2: a 401 names the scheme it wants
        response.headers["WWW-Authenticate"] = 'Bearer realm="shebao"'
    return response


def init_app(app: Flask) -> None:
    """JSON answers for API errors, including Flask's own 404/405/413 under /api/."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return _json(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if not request.path.startswith("/api/"):
            return staff_error_page(error)
        status = error.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        zh, en = _HTTP_MESSAGES.get(status, (f"请求错误：{error.name}", error.name))
        response = _json(ApiError(status, code, zh, en))
        for name, value in error.get_headers():  # keep ``Allow`` on a 405 (RFC 9110 15.5.6)
            if name.lower() == "allow":
                response.headers[name] = value
        return response
