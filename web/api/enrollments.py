"""API endpoints for enrollment years: a person's paid and unpaid years, payments, events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine import queries
from engine.outcomes import Transition
from web.api.answer_models import EventOut, PaymentOut, TransitionOut, YearList, YearOut
from web.api.common import (
    answer,
    as_id,
    bp,
    caller,
    idempotency,
    int_param,
    not_found,
    person_number,
    run,
    run_as,
    send_to_instance_of,
    sendable_now,
    transition_out,
)
from web.api.errors import ApiError
from web.api.model_types import Label
from web.api.request_models import (
    EventRequest,
    PaymentRequest,
    PersonPayment,
    PersonQuery,
    YearRequest,
)
from web.api.spec import endpoint
from web.api.tokens import Caller
from web.extensions import domain_of, engine_of
from workflows import payments
from workflows.deduction_rows import Rejected, Unchanged, refused_result
from workflows.identity import mask_id_number
from workflows.people import ENROLLMENT
from workflows.years import ended_year_refusal, open_year

TRUSTED_TIME = "tax"
"""The one scope whose word on when a payment happened is taken (the tax authority)."""


def state_label(states: Any, state: str) -> Label:
    """The state's label in the latest version (a state an older version alone has: its name)."""
    spec = states.get(state)
    return Label(zh=spec.label.zh, en=spec.label.en) if spec else Label(zh=state, en=state)


@endpoint(
    bp,
    "POST",
    "/people/enrollments",
    summary="A person's years with amounts (缴费情况查询): paid, unpaid, refunded, and closed "
    "when the person left the scheme; the ID number in the body, never in the URL",
    scopes=("channel", "tax", "read"),
    body=PersonQuery,
    response=YearList,
    idempotent=False,
)
def person_enrollments(body: PersonQuery) -> Any:
    person = person_number(body.id_number)
    engine = engine_of()
    states = engine.definition("enrollment").states
    # ended (a refund given, the person left): nothing due; a refunded year has its own list
    ended = {name for name, spec in states.items() if ended_year_refusal(spec.tags)}
    years = [
        YearOut(
            enrollment_id=y.enrollment_id,
            policy=y.policy,
            year=y.year,
            state=y.state,
            state_label=state_label(states, y.state),
            paid=y.paid,
            amount_due=None if y.amount_due is None else str(y.amount_due),
            amount_paid=None if y.amount_paid is None else str(y.amount_paid),
            paid_at=y.paid_at,
            payer_kind=y.payer_kind,
            payer_id_number_masked=y.payer_masked,
            channel=y.channel,
            benefit_start=y.benefit_start,
            refunded=y.refunded,
            refund_amount=None if y.refund_amount is None else str(y.refund_amount),
            refunded_at=y.refunded_at,
        )
        for y in payments.enrollment_years(engine, domain_of(), person)
    ]
    return answer(
        YearList(
            id_number_masked=mask_id_number(person),
            paid=[y for y in years if y.paid],
            unpaid=[y for y in years if not y.paid and not y.refunded and y.state not in ended],
            refunded=[y for y in years if y.refunded],
            closed=[y for y in years if y.state in ended and not y.refunded],
        )
    )


def _enrollment(enrollment_id: int) -> None:
    row = queries.instance(engine_of().db, enrollment_id)
    if row is None or row["process"] != ENROLLMENT:
        raise not_found("enrollment", enrollment_id)


def _payment_request(who: Caller, body: PaymentRequest) -> payments.PaymentRequest:
    """The payment the body asks for; 422 for a time of payment from anyone but the tax
    authority, or a payer's ID number that fails its check (as ``id_number`` at every door)."""
    if body.paid_at is not None and TRUSTED_TIME not in who.scopes:
        zh = "只有税务机关可以指定缴费时间，其他渠道以系统时间为准"
        en = "only the tax authority may say when a payment happened; others pay now"
        detail = {"field": "paid_at", "message_zh": zh, "message_en": en}
        raise ApiError(
            422,
            "paid_at_not_allowed",
            zh,
            en,
            details=[{**detail, "loc": ["paid_at"], "msg": "set by the service clock"}],
        )
    if body.payer_id_number is not None:
        person_number(body.payer_id_number, "payer_id_number")
    return payments.PaymentRequest(
        amount=body.amount,
        payer_kind=body.payer_kind,
        payer_id_number=body.payer_id_number,
        channel=body.channel,
        paid_at=body.paid_at,
    )


def _payment_out(paid: payments.Payment) -> PaymentOut:
    return PaymentOut(
        transition=transition_out(paid.transition),
        amount=str(paid.amount),
        benefit_start=paid.benefit_start,
    )


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
    ident = as_id(enrollment_id, "enrollment")
    _enrollment(ident)
    return _pay(
        who,
        _payment_request(who, body),
        lambda request, **doors: payments.pay_enrollment(
            engine_of(), domain_of(), ident, request, **doors
        ),
    )


def _pay(
    who: Caller, request: payments.PaymentRequest, operation: Callable[..., payments.Payment]
) -> Any:
    """Run a payment ``operation(request, actor=, idempotency=)`` as the caller and answer it."""
    paid = run_as(
        who, lambda: operation(request, actor=f"api:{who.name}", idempotency=idempotency(who))
    )
    return answer(_payment_out(paid))


@endpoint(
    bp,
    "POST",
    "/payments",
    summary="Pay a person's year by ID number (the year opens if the person is registered)",
    scopes=("tax", "channel"),
    body=PersonPayment,
    response=PaymentOut,
    links={
        "SendYearEvent": (
            "enrollment_event",
            {"enrollment_id": "$response.body#/transition/instance_id"},
        ),
    },
)
def pay_person(body: PersonPayment) -> Any:
    who = caller()
    person_number(body.id_number)  # 422 as at every endpoint, before the rules
    return _pay(
        who,
        _payment_request(who, body),
        lambda request, **doors: payments.pay_for_person(
            engine_of(), domain_of(), body.id_number, body.policy, request, **doors
        ),
    )


@endpoint(
    bp,
    "POST",
    "/enrollments",
    summary="Open a policy year for an insured person",
    scopes=("channel",),
    body=YearRequest,
    response=TransitionOut,
    status=201,
    links={
        "PayYear": ("pay", {"enrollment_id": "$response.body#/instance_id"}),
        "SendYearEvent": ("enrollment_event", {"enrollment_id": "$response.body#/instance_id"}),
    },
)
def open_enrollment(body: YearRequest) -> Any:
    who = caller()
    person_number(body.id_number)  # 422 as at every endpoint, before the rules
    done = run(
        lambda: open_year(
            engine_of(),
            domain_of(),
            body.id_number,
            body.policy,
            actor=f"api:{who.name}",
            idempotency=idempotency(who),
        )
    )
    return answer(transition_out(done), 201)


@endpoint(
    bp,
    "POST",
    "/enrollments/{enrollment_id}/events",
    summary="Send an event to an enrollment (deduction results, refund requests); a deduction "
    "result that no longer matters is answered 200 with `unchanged`, as a deduction file reports it",
    scopes=("tax", "channel"),
    body=EventRequest,
    response=EventOut,
    parameters=(int_param("enrollment_id"),),
)
def enrollment_event(enrollment_id: str, body: EventRequest) -> Any:
    ident = as_id(enrollment_id, "enrollment")

    def settle(row: Any) -> EventOut | None:
        """A deduction result the year's state refused: the file's verdict, unchanged and why,
        or rejected with the file's words (a duplicate payment to refund). Malformed data is
        the data's 422 ``invalid_data`` naming the field (``refused_result`` raises it) before
        any of these, as for a year that takes the result."""
        verdict = refused_result(engine_of(), domain_of(), row, body.event, body.data)
        if isinstance(verdict, Rejected):  # what may be sent now listed, as for any 409
            definition = engine_of().definition(row.process, row.definition_version)
            allowed = sendable_now(definition, row.id, row.state, caller())
            raise ApiError(
                409, "deduction_refused", verdict.reason_zh, verdict.reason, allowed=allowed
            )
        if not isinstance(verdict, Unchanged):
            return None
        words = verdict.words
        stayed = Transition(row.id, row.process, body.event, row.state, row.state, row.version)
        return EventOut(**stayed.as_dict(), unchanged=Label(zh=words.zh, en=words.en))

    return send_to_instance_of(ENROLLMENT, ident, body, what="enrollment", settle=settle)
