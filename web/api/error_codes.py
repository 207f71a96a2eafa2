"""Every error code the JSON API answers with, by status, and what each means: what the OpenAPI
document lists under each error response (``web.api.openapi``), so that a bank's or a channel's
client knows which codes to handle before it meets them.

Two sources: the codes the web layer answers itself (``WEB_CODES``: a malformed body, a missing
token, a scope, a busy database...), and the typed errors of the engine and the domain, each
``WorkflowError`` subclass with its own ``code``, at the status ``web.api.errors.STATUS_OF`` gives
it (422 when it names none, as ``from_workflow_error`` answers). A test reads the source for every
``ApiError(status, "code", ...)`` and checks that this list holds it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import WorkflowError
from web.api.errors import STATUS_OF


@dataclass(frozen=True)
class ErrorCode:
    status: int
    code: str
    meaning: str


WEB_CODES = (
    ErrorCode(400, "bad_request", "the request could not be read"),
    ErrorCode(400, "malformed_json", "the body is not valid JSON"),
    ErrorCode(400, "not_json", "the body is not application/json"),
    ErrorCode(400, "too_deep", "the body is nested too deep"),
    ErrorCode(400, "nul_character", "a NUL character in the request"),
    ErrorCode(400, "bad_idempotency_key", "the Idempotency-Key header is malformed"),
    ErrorCode(401, "unauthenticated", "no bearer token, or an unknown, expired or revoked one"),
    ErrorCode(403, "forbidden", "the token's scopes do not allow this"),
    ErrorCode(404, "not_found", "no such endpoint or resource, or one the token may not see"),
    ErrorCode(405, "method_not_allowed", "the endpoint does not take this method"),
    ErrorCode(409, "event_not_allowed", "the event cannot be sent in the current state"),
    ErrorCode(409, "deduction_refused", "the deduction does not apply to this year now"),
    ErrorCode(413, "body_too_large", "the request body is too large"),
    ErrorCode(415, "unsupported_media_type", "the body's media type is not taken"),
    ErrorCode(422, "invalid_request", "a field is missing, unknown or malformed (details)"),
    ErrorCode(422, "invalid_id_number", "an ID number fails the GB 11643 check"),
    ErrorCode(422, "invalid_characters", "a text holds characters no field takes"),
    ErrorCode(422, "unknown_event", "the process has no such event"),
    ErrorCode(422, "unknown_process", "no such process (in a body or a query)"),
    ErrorCode(422, "paid_at_not_allowed", "paid_at is set by the service's clock"),
    ErrorCode(503, "database_unavailable", "the database is unavailable: retry after Retry-After"),
)
"""The codes the web layer answers with itself."""

_DOMAIN_MODULES = ("engine.errors", "workflows.domain")
"""Imported first, so that every typed error of the engine and the domain is known."""


def _subclasses(cls: type[WorkflowError]) -> Iterator[type[WorkflowError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def workflow_codes() -> list[ErrorCode]:
    """The codes of the engine's and the domain's typed errors, at the status each answers."""
    for name in _DOMAIN_MODULES:
        importlib.import_module(name)
    found: dict[tuple[int, str], ErrorCode] = {}
    for cls in _subclasses(WorkflowError):
        if not cls.__module__.startswith(("engine.", "workflows.", "web.")):
            continue  # a test's own error class
        if "code" not in vars(cls):
            continue  # a base with its parent's code (``RefusedByRule``): its subclasses answer
        status = next((s for t, s in STATUS_OF.items() if issubclass(cls, t)), 422)
        doc = (cls.__doc__ or "").strip().split("\n\n", 1)[0]
        meaning = " ".join(doc.split()) or cls.__name__
        found.setdefault((status, cls.code), ErrorCode(status, cls.code, meaning))
    return list(found.values())


def codes_by_status() -> dict[int, list[ErrorCode]]:
    """Every code, by the status it comes with, each status's codes sorted."""
    found: dict[int, dict[str, ErrorCode]] = {}
    for entry in (*WEB_CODES, *workflow_codes()):
        found.setdefault(entry.status, {}).setdefault(entry.code, entry)
    return {status: sorted(codes.values(), key=lambda e: e.code) for status, codes in found.items()}
