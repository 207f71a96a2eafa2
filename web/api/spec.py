"""The API's endpoint registry: one declaration guards a request and writes the OpenAPI document.

Each endpoint is declared with ``@endpoint(...)``: its method and path, the token scopes it
accepts, the pydantic model of its body and of its answer. Before the view runs, the decorator
answers, in this order:

1. 401: no bearer token, or an unknown, expired or revoked one;
2. 403: the token holds none of the scopes the endpoint accepts (nothing is looked up first);
3. 400/413/422: a query parameter the endpoint does not declare (422, ``web.api.query_args``),
   a bad ``Idempotency-Key``, a body that is not JSON, too large, nested more than
   ``MAX_DEPTH`` levels, with control characters or unpaired surrogates in a string, or that
   does not match the model.

The view then looks things up (404) and applies the rules (409/422). An event's ``data`` (a
task's form) is checked with the rules, after the lookup and once the event may leave the
instance's state (else 409): its fields are those of the instance's own definition version. The
view keeps the finer checks ("this bank's card": a card of another bank is 404, as if it did not
exist). Every 403, and every such 404 for a record outside the token's scope (``OutOfScope``), is
written to the security event log (``permission_denied``). ``openapi_document()`` is built from
the same declarations, so the description cannot drift from what the code accepts
(``web.api.openapi``). Bodies are read by ``web.api.bodies``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, g, request
from pydantic import BaseModel, ConfigDict, Field

from web import security_log
from web.api.bodies import check_idempotency_key, parse_body
from web.api.errors import ApiError
from web.api.query_args import check_known
from web.api.tokens import Caller, authenticate, holds
from web.extensions import engine_of

_PLACEHOLDER = re.compile(r"<\w+>$")

BODY_LIMITS: set[int] = set()
"""Every endpoint's own body limit (``max_body``), where it differs from the app's: the HTTP
server in front refuses a body announced larger than the largest of them at once
(``web.serving``)."""


class ErrorDetail(BaseModel):
    """One problem of a refused request, in every 422 that has details: the field, and what is
    wrong with it in Chinese and English. Some refusals also give the place as a list (``loc``)
    and ``msg``, as the first version did: read ``field`` and the messages instead."""

    field: str = Field(
        description="the field: its name, or its place in the body dotted (rows.0.name), or "
        "a query parameter's name; empty for the body as a whole. A key that is no field-like "
        "name is <key>",
    )
    message_zh: str
    message_en: str
    line: int | None = Field(
        default=None,
        description="a place in a batch's rows (POST /imports/people): the row counted from 1, "
        "as the answer's rejected[].line counts them (`field` rows.2.name is line 3)",
    )
    loc: list[str] | None = Field(
        default=None, description="kept from the first version: `field` as a list of steps"
    )
    msg: str | None = Field(
        default=None,
        description="kept from the first version: English words or the check's name; read "
        "`message_en`",
    )
    rule: str | None = Field(
        default=None,
        description="a refusal by a domain rule: the rule's key (newborn_window, "
        "reduction_condition, reduction_held, unknown_category, claim_not_open, "
        "duplicate_record, other_region, year_not_payable, year_ended, one_card_per_province, "
        "no_card_to_replace, card_not_replaceable)",
    )
    facts: dict[str, Any] | None = Field(
        default=None,
        description="with `rule`: the facts that decided it (days, the category and each "
        "condition with whether it is met, the record's process, instance_id, state, policy "
        "and year; the policy's and the record's region; the period's end, the last day of "
        "late payment and the day used; the province, card_id, state and bank of the card "
        "held); never an ID number, name or phone",
    )


class ErrorBody(BaseModel):
    """Every error: a machine-readable code and a message in Chinese and English."""

    model_config = ConfigDict(extra="forbid")
    code: str
    message_zh: str
    message_en: str
    allowed: list[str] | None = None
    details: list[ErrorDetail] | None = None


class OutOfScope(ApiError):
    """404 for a record that exists outside the token's scope (another bank's card, another
    region's task): the body a missing record gets (``missing``), so the token learns nothing,
    while ``@endpoint`` writes the attempt to the security event log as it writes a 403, naming
    the record's kind (``card``, ``task``) and id, never its data."""

    def __init__(self, missing: ApiError, record: str, record_id: int) -> None:
        super().__init__(
            missing.status,
            missing.body["code"],
            missing.body["message_zh"],
            missing.body["message_en"],
        )
        self.body = dict(missing.body)
        self.record = record
        self.record_id = record_id


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
    if max_body is not None:
        BODY_LIMITS.add(max_body)

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
        in_query = frozenset(p["name"] for p in parameters if p.get("in") == "query")

        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if scopes:
                authorize(scopes)
            check_known(in_query)
            if takes_key:
                check_idempotency_key()
            if max_body is not None:
                request.max_content_length = max_body
            if body is not None:
                kwargs["body"] = parse_body(body)
            try:
                return view(**kwargs)
            except ApiError as error:
                if error.status == 403 or isinstance(error, OutOfScope):
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
    """Write a 403, or a 404 ``OutOfScope``, to the security event log: who, which operation
    and, for the 404, which record by kind and id (never its data)."""
    if getattr(error, "recorded", False):
        return
    error.recorded = True  # type: ignore[attr-defined]
    who = g.get("api_caller")
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    hidden: dict[str, Any] = (
        {"record": error.record, "record_id": error.record_id}
        if isinstance(error, OutOfScope)
        else {}
    )
    security_log.record(
        engine_of().db,
        "permission_denied",
        actor=f"api:{who.name}" if who else None,
        remote_addr=request.remote_addr,
        method=request.method,
        endpoint=rule,
        scopes=sorted(who.scopes) if who else [],
        **hidden,
    )
