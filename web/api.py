"""The JSON API under /api/v1 for citizen channels and outside systems (banks, tax, factories).

Thin views: authenticate the bearer token, check its scope, call one operation of the domain or the
engine, answer JSON. State-changing requests accept an ``Idempotency-Key`` header.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from pydantic import BaseModel
from sqlalchemy import select

from engine import queries
from engine.errors import WorkflowError
from engine.runtime import Idempotency, Transition, request_hash
from engine.statements import tasks as task_table
from web import api_errors
from web.api_errors import ApiError, from_invalid_id, from_workflow_error
from web.api_models import (
    CardApplication,
    CardApplied,
    CardList,
    CardOut,
    Counts,
    EventRequest,
    Label,
    OpenApiDocument,
    PaymentOut,
    PaymentRequest,
    ProgressStepOut,
    TaskCompletion,
    TaskList,
    TaskOut,
    TransitionOut,
    YearList,
    YearOut,
)
from web.api_spec import endpoint, openapi_document
from web.api_tokens import Caller, authenticate, require
from web.app import engine_of
from workflows import cards as card_rules
from workflows.identity import InvalidIdNumber, mask_id_number, validate_id_number
from workflows.payments import enrollment_years, pay_enrollment
from workflows.policy import Policy, load_policies

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ID = 2**53
CARD_EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "produce": ("factory",),
    "notify_holder": ("bank",),
    "activate": ("bank",),
    "close_bank_account": ("bank",),
    "report_loss": ("channel", "bank"),
    "revoke_loss": ("channel", "bank"),
    "cancel": ("channel",),
}
ENROLLMENT_EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "deduct": ("tax",),
    "fail_deduction": ("tax",),
    "request_refund": ("channel",),
}


def _int_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def _str_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    }


def _as_id(value: str, what: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise ApiError(404, "not_found", f"{what} 不存在：{value}", f"no such {what}: {value}")
    return int(value)


def _person(value: str) -> str:
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


def policies() -> dict[str, Policy]:
    cache = current_app.extensions.setdefault("shebao.policies", {})
    if not cache:
        cache.update(load_policies(current_app.config["SHEBAO_POLICIES"]))
    return cache  # type: ignore[no-any-return]


def answer(model: BaseModel, status: int = 200) -> Any:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def _run(operation: Any) -> Any:
    try:
        return operation()
    except WorkflowError as exc:
        raise from_workflow_error(exc) from None


def _transition(done: Transition) -> TransitionOut:
    return TransitionOut(**done.as_dict())


# -- cards -----------------------------------------------------------------------------------


def _card_out(card_id: int) -> CardOut:
    engine = engine_of()
    row = queries.instance(engine.db, card_id)
    if row is None or row["process"] != "card":
        raise ApiError(404, "not_found", f"社保卡不存在：{card_id}", f"no such card: {card_id}")
    definition = engine.definition("card", row["definition_version"])
    label = definition.states[row["state"]].label
    variables = row["variables"]
    return CardOut(
        id=row["id"],
        state=row["state"],
        state_label=Label(zh=label.zh, en=label.en),
        id_number_masked=mask_id_number(str(variables.get("id_number", ""))),
        bank=variables.get("bank"),
        channel=variables.get("channel"),
        region_code=variables.get("region_code"),
        electronic_card=card_rules.electronic_card_status(row["state"]),  # type: ignore[arg-type]
        version=row["version"],
        allowed_events=list(definition.outgoing(row["state"])),
        progress=[
            ProgressStepOut(
                step=s.step, label=Label(zh=s.label_zh, en=s.label_en), done_at=s.done_at
            )
            for s in card_rules.production_progress(engine, card_id)
        ],
    )


def _may_see_card(who: Caller, card: CardOut) -> None:
    if who.scopes & {"channel", "factory", "read"}:
        return
    if card.bank in who.banks():
        return
    raise ApiError(
        403,
        "forbidden",
        "该令牌不能访问其他银行的社保卡",
        "this token may not act on another bank's cards",
    )


@endpoint(
    bp,
    "POST",
    "/cards",
    summary="Apply for a card (申领社保卡)",
    scopes=("channel",),
    body=CardApplication,
    response=CardApplied,
    status=201,
)
def apply_card(body: CardApplication) -> Any:
    who = caller()
    require(who, "channel")
    done = _run(
        lambda: card_rules.apply_for_card(
            engine_of(),
            id_number=body.id_number,
            channel=body.channel,
            bank=body.bank,
            region_code=body.region_code,
            outlet=body.outlet,
            actor=f"api:{who.name}",
            idempotency=idempotency(who),
        )
    )
    return answer(CardApplied(transition=_transition(done), card=_card_out(done.instance_id)), 201)


@endpoint(
    bp,
    "GET",
    "/cards/{card_id}",
    summary="A card's status and production progress (制卡进度)",
    scopes=("channel", "factory", "read", "bank:<code>"),
    response=CardOut,
    parameters=(_int_param("card_id"),),
)
def get_card(card_id: str) -> Any:
    who = caller()
    card = _card_out(_as_id(card_id, "card"))
    _may_see_card(who, card)
    return answer(card)


@endpoint(
    bp,
    "POST",
    "/cards/{card_id}/events",
    summary="Send an event to a card",
    scopes=("factory", "channel", "bank:<code>"),
    body=EventRequest,
    response=TransitionOut,
    parameters=(_int_param("card_id"),),
)
def card_event(card_id: str, body: EventRequest) -> Any:
    who = caller()
    card = _card_out(_as_id(card_id, "card"))
    kinds = CARD_EVENT_SCOPES.get(body.event)
    if kinds is None:
        raise ApiError(
            409,
            "event_not_allowed",
            f"事件 {body.event} 不能通过接口发送",
            f"event {body.event} cannot be sent through the API",
            allowed=card.allowed_events,
        )
    if not (
        ("bank" in kinds and card.bank in who.banks())
        or any(k in who.scopes for k in kinds if k != "bank")
    ):
        raise ApiError(
            403,
            "forbidden",
            f"令牌不能发送事件 {body.event}",
            f"this token may not send {body.event} to this card",
        )
    done = _run(
        lambda: engine_of().fire(
            card.id,
            body.event,
            actor=f"api:{who.name}",
            data=body.data,
            idempotency=idempotency(who),
        )
    )
    return answer(_transition(done))


@endpoint(
    bp,
    "GET",
    "/people/{id_number}/cards",
    summary="A person's cards",
    scopes=("channel", "read"),
    response=CardList,
    parameters=(_str_param("id_number"),),
)
def person_cards(id_number: str) -> Any:
    require(caller(), "channel", "read")
    person = _person(id_number)
    found = card_rules.cards_of(engine_of(), person)
    return answer(
        CardList(id_number_masked=mask_id_number(person), cards=[_card_out(c["id"]) for c in found])
    )


# -- enrollments -----------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    "/people/{id_number}/enrollments",
    summary="A person's paid and unpaid years with amounts (缴费情况查询)",
    scopes=("channel", "tax", "read"),
    response=YearList,
    parameters=(_str_param("id_number"),),
)
def person_enrollments(id_number: str) -> Any:
    require(caller(), "channel", "tax", "read")
    person = _person(id_number)
    engine = engine_of()
    states = engine.definition("enrollment").states
    years = [
        YearOut(
            enrollment_id=y.enrollment_id,
            policy=y.policy,
            year=y.year,
            state=y.state,
            state_label=Label(zh=states[y.state].label.zh, en=states[y.state].label.en),
            paid=y.paid,
            amount_due=None if y.amount_due is None else str(y.amount_due),
            amount_paid=None if y.amount_paid is None else str(y.amount_paid),
            paid_at=y.paid_at,
            benefit_start=y.benefit_start,
        )
        for y in enrollment_years(engine, policies(), person)
    ]
    return answer(
        YearList(
            id_number_masked=mask_id_number(person),
            paid=[y for y in years if y.paid],
            unpaid=[y for y in years if not y.paid],
        )
    )


def _enrollment_policy(enrollment_id: int) -> Policy:
    row = queries.instance(engine_of().db, enrollment_id)
    if row is None or row["process"] != "enrollment":
        raise ApiError(
            404,
            "not_found",
            f"参保记录不存在：{enrollment_id}",
            f"no such enrollment: {enrollment_id}",
        )
    found = policies().get(row["variables"].get("policy"))
    if found is None:
        raise ApiError(
            409,
            "unknown_policy",
            "参保记录的地区政策未加载",
            "the enrollment's policy is not loaded",
        )
    return found


@endpoint(
    bp,
    "POST",
    "/enrollments/{enrollment_id}/payments",
    summary="Pay an enrollment year",
    scopes=("tax", "channel"),
    body=PaymentRequest,
    response=PaymentOut,
    parameters=(_int_param("enrollment_id"),),
)
def pay(enrollment_id: str, body: PaymentRequest) -> Any:
    who = caller()
    require(who, "tax", "channel")
    ident = _as_id(enrollment_id, "enrollment")
    policy = _enrollment_policy(ident)
    paid = _run(
        lambda: pay_enrollment(
            engine_of(),
            policy,
            ident,
            amount=body.amount,
            payer_kind=body.payer_kind,
            payer=body.payer,
            channel=body.channel,
            actor=f"api:{who.name}",
            paid_at=body.paid_at,
            idempotency=idempotency(who),
        )
    )
    return answer(
        PaymentOut(
            transition=_transition(paid.transition),
            amount=str(paid.amount),
            benefit_start=paid.benefit_start,
        )
    )


@endpoint(
    bp,
    "POST",
    "/enrollments/{enrollment_id}/events",
    summary="Send an event to an enrollment (deduction results, refund requests)",
    scopes=("tax", "channel"),
    body=EventRequest,
    response=TransitionOut,
    parameters=(_int_param("enrollment_id"),),
)
def enrollment_event(enrollment_id: str, body: EventRequest) -> Any:
    who = caller()
    ident = _as_id(enrollment_id, "enrollment")
    _enrollment_policy(ident)
    kinds = ENROLLMENT_EVENT_SCOPES.get(body.event)
    if kinds is None:
        raise ApiError(
            409,
            "event_not_allowed",
            f"事件 {body.event} 不能通过接口发送",
            f"event {body.event} cannot be sent through the API",
            allowed=sorted(ENROLLMENT_EVENT_SCOPES),
        )
    require(who, *kinds)
    done = _run(
        lambda: engine_of().fire(
            ident, body.event, actor=f"api:{who.name}", data=body.data, idempotency=idempotency(who)
        )
    )
    return answer(_transition(done))


# -- tasks and counts --------------------------------------------------------------------------


def _task_filter(who: Caller) -> Any:
    from sqlalchemy import and_, or_

    clauses = [
        and_(task_table.c.candidate_group == "bank_teller", task_table.c.scope == bank)
        for bank in sorted(who.banks())
    ]
    clauses += [
        and_(
            task_table.c.candidate_group.in_(("medical_insurance_clerk", "social_security_clerk")),
            task_table.c.scope == region,
        )
        for region in sorted(who.regions())
    ]
    if not clauses:
        raise ApiError(
            403,
            "forbidden",
            "令牌没有任务权限（bank:<code> 或 clerk:<region>）",
            "the token has no task scope (bank:<code> or clerk:<region>)",
        )
    return or_(*clauses)


@endpoint(
    bp,
    "GET",
    "/tasks",
    summary="Open tasks of the token's bank or region",
    scopes=("bank:<code>", "clerk:<region>"),
    response=TaskList,
    parameters=(
        {
            "name": "after_id",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        },
    ),
)
def list_tasks() -> Any:
    who = caller()
    where = _task_filter(who)
    after = request.args.get("after_id", "0")
    limit = request.args.get("limit", "100")
    if not (
        after.isdigit() and int(after) <= MAX_ID and limit.isdigit() and 1 <= int(limit) <= 500
    ):
        raise ApiError(422, "invalid_request", "分页参数无效", "after_id/limit out of range")
    query = (
        select(task_table)
        .where(where, task_table.c.status == "open", task_table.c.id > int(after))
        .order_by(task_table.c.id)
        .limit(int(limit))
    )
    with engine_of().db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    items = [TaskOut(**{k: r[k] for k in TaskOut.model_fields}) for r in rows]
    next_after = items[-1].id if len(items) == int(limit) else None
    return answer(TaskList(tasks=items, next_after_id=next_after))


@endpoint(
    bp,
    "POST",
    "/tasks/{task_id}/complete",
    summary="Complete a task done at a counter",
    scopes=("bank:<code>", "clerk:<region>"),
    body=TaskCompletion,
    response=TransitionOut,
    parameters=(_int_param("task_id"),),
)
def complete_task(task_id: str, body: TaskCompletion) -> Any:
    who = caller()
    ident = _as_id(task_id, "task")
    with engine_of().db.connect() as conn:
        visible = conn.execute(
            select(task_table.c.id).where(task_table.c.id == ident, _task_filter(who))
        ).first()
        exists = (
            visible or conn.execute(select(task_table.c.id).where(task_table.c.id == ident)).first()
        )
    if exists is None:
        raise ApiError(404, "not_found", f"任务不存在：{ident}", f"no such task: {ident}")
    if visible is None:
        raise ApiError(
            403,
            "forbidden",
            "该任务不属于令牌的银行或地区",
            "the task is outside the token's bank or region",
        )
    done = _run(
        lambda: engine_of().complete_task(
            ident,
            actor=f"api:{who.name}",
            data=body.data,
            outcome=body.outcome,
            idempotency=idempotency(who),
        )
    )
    return answer(_transition(done))


@endpoint(
    bp,
    "GET",
    "/processes/{process}/counts",
    summary="Instances per state",
    scopes=("read", "channel", "tax", "factory", "bank:<code>", "clerk:<region>"),
    response=Counts,
    parameters=(_str_param("process"),),
)
def counts(process: str) -> Any:
    caller()
    engine = engine_of()
    definition = _run(lambda: engine.definition(process))
    found = queries.counts_by_state(engine.db, process)
    states = {s: found.get(s, 0) for s in definition.states}
    return answer(Counts(process=process, states=states, total=sum(states.values())))


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
    app.register_blueprint(bp)
