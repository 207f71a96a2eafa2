"""What the JSON API's endpoint modules share: the ``/api/v1`` blueprint, path parameters, the
answer and error helpers, and the OpenAPI document's route.

Thin views: the ``@endpoint`` declaration has authenticated the bearer token, checked its scope and
validated the body before a view runs (``web.api.spec``); a view looks up what it needs, calls one
operation of the domain or the engine and answers JSON. State-changing requests accept an
``Idempotency-Key`` header. Resident ID numbers never travel in a URL (URLs are logged): a
person's records are asked for with the number in a POST body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request
from pydantic import BaseModel

from engine import field_words, guards_ahead, queries
from engine.errors import EventNotAllowed, InstanceNotFound, WorkflowError
from engine.runtime import Idempotency, Transition
from engine.specs import ProcessDefinition
from web.api.answer_models import OpenApiDocument, TransitionOut
from web.api.bodies import body_digest
from web.api.errors import ApiError, from_invalid_id, from_workflow_error
from web.api.openapi import openapi_document
from web.api.request_models import EventRequest
from web.api.spec import OutOfScope, current_caller, endpoint
from web.api.tokens import Caller, holds, require
from web.extensions import engine_of
from web.ids import MAX_ID, parse_id
from workflows.identity import InvalidIdNumber, validate_id_number
from workflows.service_date import service_today

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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


NAMES = {
    "card": "社保卡",
    "enrollment": "参保记录",
    "registration": "参保档案",
    "task": "任务",
    "token": "令牌",
    "incident": "事件单",
}


def as_id(value: str, what: str) -> int:
    """A path's numeric id; 404 (without echoing the value) unless it is a number from 1 to
    2**53."""
    found = parse_id(value)
    if found is None:
        raise not_found(what)
    return found


def not_found(what: str, ident: int | None = None) -> ApiError:
    """404 for a missing ``what`` (``card``, ``task``...), or one the caller may not see: the
    same answer, so a token cannot learn what exists outside its scope."""
    zh = NAMES.get(what, what)
    if ident is None:
        return ApiError(404, "not_found", f"{zh}不存在", f"no such {what}")
    return ApiError(404, "not_found", f"{zh}不存在：{ident}", f"no such {what}: {ident}")


def hidden(what: str, ident: int) -> ApiError:
    """``not_found(what, ident)`` for a ``what`` that exists outside the caller's scope (another
    bank's card, another region's task): the same answer, and the attempt is written to the
    security event log (``permission_denied`` with the record's kind and id) by ``@endpoint``."""
    return OutOfScope(not_found(what, ident), what, ident)


def person_number(value: str, field: str = "id_number") -> str:
    """An ID number sent in a body's ``field``, checked (born by the service clock's date) before
    anything is looked up: 422 ``invalid_id_number`` naming the field if not, whichever endpoint
    it came to (the domain's own check, for the commands and pages, then finds it valid)."""
    try:
        return validate_id_number(value, today=service_today(engine_of().clock.now()))
    except InvalidIdNumber as exc:
        raise from_invalid_id(exc, field) from None


def caller() -> Caller:
    """The token of this request (the ``@endpoint`` declaration has authenticated it)."""
    return current_caller()


def idempotency(who: Caller) -> Idempotency | None:
    """The request's ``Idempotency-Key`` (checked by ``@endpoint``) with the hash of its body."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    return Idempotency(f"api:{who.name}", key, body_digest())


def answer(model: BaseModel, status: int = 200) -> Any:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def run(operation: Any) -> Any:
    try:
        return operation()
    except WorkflowError as exc:
        raise from_workflow_error(exc) from None


def run_as(who: Caller, operation: Any) -> Any:
    """``run`` for a door that fires an event as ``who`` (a payment): an event the instance's
    state refuses is answered listing what ``who`` may send now (``sendable_now``: a refund the
    policy refuses whatever the request says is not offered), not every event leaving the state."""
    try:
        return operation()
    except EventNotAllowed as refused:
        raise from_workflow_error(refused_now(refused, who)) from None
    except WorkflowError as exc:
        raise from_workflow_error(exc) from None


def refused_now(refused: EventNotAllowed, who: Caller) -> EventNotAllowed:
    """``refused`` again, its ``allowed`` (and words) what ``who`` may send to the instance now;
    as it was when the engine did not name the instance or it is gone."""
    row = (
        None
        if refused.instance_id is None
        else queries.instance(engine_of().db, refused.instance_id)
    )
    if row is None:
        return refused
    definition = engine_of().definition(row["process"], row["definition_version"])
    bank = (row["variables"] or {}).get("bank")
    now = sendable_now(definition, row["id"], row["state"], who, bank)
    return EventNotAllowed(refused.event, row["state"], now, definition, instance_id=row["id"])


def transition_out(done: Transition) -> TransitionOut:
    return TransitionOut(**done.as_dict())


def not_sendable(
    event: str, allowed: list[str], definition: ProcessDefinition | None = None
) -> ApiError:
    """409 for an event outside systems may not send (timers and staff tasks send those),
    named by its label in ``definition``; ``allowed``: what this token may send now
    (``sendable_now``). An event ``definition`` does not have is a malformed request: 422
    ``unknown_event`` naming the field ``event`` (its value not repeated)."""
    spec = definition.events.get(event) if definition is not None else None
    if spec is None and definition is not None:
        said = field_words.NO_SUCH_EVENT
        return ApiError(
            422,
            "unknown_event",
            f"请求内容有误：event：“{definition.label.zh}”流程没有这个事件",
            f"the request is invalid: event: the “{definition.label.en}” process has no event "
            "of this name",
            allowed=allowed,
            details=[{"field": "event", "message_zh": said.zh, "message_en": said.en}],
        )
    zh, en = (f"“{spec.label.zh}”", f"“{spec.label.en}”") if spec else (event, event)
    return ApiError(
        409,
        "event_not_allowed",
        f"事件 {zh} 不能通过接口发送",
        f"event {en} cannot be sent through the API",
        allowed=allowed,
    )


def may_send(who: Caller, kinds: tuple[str, ...], bank: Any = None) -> bool:
    """Whether the token holds one of an event's ``senders:`` (``bank``: the card's own bank)."""
    if "bank" in kinds and bank is not None and bank in who.banks():
        return True
    return holds(who, *(k for k in kinds if k != "bank"))


def sendable_now(
    definition: ProcessDefinition,
    instance_id: int,
    state: str,
    who: Caller | None = None,
    bank: Any = None,
) -> list[str]:
    """The events that may leave ``state`` through the API, in file order: those with
    ``senders:`` (not a timer's, a task's or an automatic one), and of those, with ``who``, the
    ones this token may send (``may_send``). What a 409's ``allowed`` lists: only what is
    possible now, for this caller.

    Their guards are run on the instance without firing anything (``engine.guards_ahead``): an
    event a guard refuses whatever data is sent is left out (a refund in a policy year without
    refunds); one whose guard reads the event's data (a presented ID number, an amount) cannot
    be judged before the data is sent and stays listed."""
    found = []
    for name in definition.outgoing(state):
        kinds = definition.events[name].senders
        if kinds and (who is None or may_send(who, kinds, bank)):
            found.append(name)
    if not any(definition.events[name].guards for name in found):
        return found
    actor = "api" if who is None else f"api:{who.name}"
    return guards_ahead.possible_now(engine_of(), instance_id, found, actor=actor)


def senders_of(process: str, event: str) -> tuple[str, ...] | None:
    """Who may send ``event`` to ``process`` (the definition's ``senders:``); None if nobody."""
    definition = engine_of().definition(process)
    spec = definition.events.get(event)
    return spec.senders if spec is not None and spec.senders else None


def send_event(
    who: Caller,
    instance_id: int,
    body: EventRequest,
    *,
    what: str,
    admit: Callable[[Any], None],
    settle: Callable[[Any], BaseModel | None] | None = None,
) -> Any:
    """Fire the request's event as the caller, idempotently, and answer the transition.

    ``admit`` checks the instance as the engine's transaction reads it (``Engine.fire``): that it
    is a ``what`` (a card, an enrollment) the caller may send this event to. No instance at all
    is answered as ``not_found(what)``, the same answer as one the caller may not see. An event
    that would complete a task a staff member holds (claimed in the inbox, or delegated) is
    refused as ``/tasks/{id}/complete`` refuses it (409 ``task_claimed``; the engine's
    ``respect_claims``, in the firing's transaction): nothing is written and no refused attempt
    is counted. Timers and the scheduler fire without this door, and a claim never blocks them.
    ``settle(row)``: for an event the row's state refused, the domain's answer when the refusal
    changes nothing and is no error (a deduction result that no longer matters), else None."""

    seen: list[Any] = []

    def admit_and_keep(row: Any) -> None:
        admit(row)
        seen.append(row)

    def fire() -> Transition | BaseModel:
        try:
            return engine_of().fire(
                instance_id,
                body.event,
                actor=f"api:{who.name}",
                data=body.data,
                idempotency=idempotency(who),
                admit=admit_and_keep,
                respect_claims=True,
            )
        except InstanceNotFound as missing:
            if missing.instance_id != instance_id:
                raise
            raise not_found(what, instance_id) from None
        except EventNotAllowed as refused:
            if not seen:
                raise
            row = seen[-1]
            settled = settle(row) if settle is not None else None
            if settled is not None:
                return settled
            definition = engine_of().definition(row.process, row.definition_version)
            bank = (row.variables or {}).get("bank")
            now = sendable_now(definition, row.id, row.state, who, bank)
            refusal = EventNotAllowed(refused.event, row.state, now, definition)
            raise from_workflow_error(refusal) from None

    done = run(fire)
    return answer(done if isinstance(done, BaseModel) else transition_out(done))


@endpoint(
    bp,
    "GET",
    "/openapi.json",
    summary="This description",
    scopes=(),
    public=True,
    response=OpenApiDocument,
)
def openapi() -> Any:
    document = openapi_document(
        request.script_root + str(bp.url_prefix), {"process": sorted(engine_of().processes)}
    )
    return jsonify(document)


def send_to_instance_of(
    process: str,
    instance_id: int,
    body: EventRequest,
    *,
    what: str,
    settle: Callable[[Any], BaseModel | None] | None = None,
) -> Any:
    """An event to an instance of ``process`` (an enrollment, a person's record) from a token
    holding one of the event's ``senders:``. Refusals in order: 404 for no such ``what`` (as for
    one the token may not see), 409 for an event no token may send, then 403; ``settle`` as
    ``send_event`` takes it."""
    who = caller()
    kinds = senders_of(process, body.event)
    if kinds is None or not holds(who, *kinds):
        row = queries.instance(engine_of().db, instance_id)
        if row is None or row["process"] != process:
            raise not_found(what, instance_id)
        if kinds is None:
            definition = engine_of().definition(process, row["definition_version"])
            allowed = sendable_now(definition, instance_id, row["state"], who)
            raise not_sendable(body.event, allowed, definition)
        require(who, *kinds)

    def admit(row: Any) -> None:
        if row.process != process:
            raise not_found(what, row.id)

    return send_event(who, instance_id, body, what=what, admit=admit, settle=settle)
