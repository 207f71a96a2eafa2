"""API endpoints for enrollment years: a person's paid and unpaid years, payments, events."""

from __future__ import annotations

from typing import Any

from engine import queries
from web.api import (
    answer,
    as_id,
    bp,
    caller,
    idempotency,
    int_param,
    not_sendable,
    person_number,
    policies,
    run,
    send_event,
    str_param,
    transition_out,
)
from web.api_errors import ApiError
from web.api_models import (
    EventRequest,
    Label,
    PaymentOut,
    PaymentRequest,
    TransitionOut,
    YearList,
    YearOut,
)
from web.api_spec import endpoint
from web.api_tokens import require
from web.app import engine_of
from workflows.identity import mask_id_number
from workflows.payments import enrollment_years, pay_enrollment
from workflows.policy import Policy

ENROLLMENT_EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "deduct": ("tax",),
    "fail_deduction": ("tax",),
    "request_refund": ("channel",),
}


@endpoint(
    bp,
    "GET",
    "/people/{id_number}/enrollments",
    summary="A person's paid and unpaid years with amounts (缴费情况查询)",
    scopes=("channel", "tax", "read"),
    response=YearList,
    parameters=(str_param("id_number"),),
)
def person_enrollments(id_number: str) -> Any:
    require(caller(), "channel", "tax", "read")
    person = person_number(id_number)
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
    parameters=(int_param("enrollment_id"),),
)
def pay(enrollment_id: str, body: PaymentRequest) -> Any:
    who = caller()
    require(who, "tax", "channel")
    ident = as_id(enrollment_id, "enrollment")
    policy = _enrollment_policy(ident)
    paid = run(
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
            transition=transition_out(paid.transition),
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
    parameters=(int_param("enrollment_id"),),
)
def enrollment_event(enrollment_id: str, body: EventRequest) -> Any:
    who = caller()
    ident = as_id(enrollment_id, "enrollment")
    _enrollment_policy(ident)
    kinds = ENROLLMENT_EVENT_SCOPES.get(body.event)
    if kinds is None:
        raise not_sendable(body.event, sorted(ENROLLMENT_EVENT_SCOPES))
    require(who, *kinds)
    return send_event(who, ident, body)
