"""API endpoints for cards: apply, status and production progress, events, a person's cards."""

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
    run,
    send_event,
    senders_of,
    str_param,
    transition_out,
)
from web.api_errors import ApiError
from web.api_models import (
    CardApplication,
    CardApplied,
    CardList,
    CardOut,
    EventRequest,
    Label,
    ProgressStepOut,
    TransitionOut,
)
from web.api_spec import endpoint
from web.api_tokens import Caller, require
from web.extensions import domain_of, engine_of
from workflows import cards as card_rules
from workflows.identity import mask_id_number


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
        electronic_card=card_rules.electronic_card_status(engine, row["state"]),  # type: ignore[arg-type]
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
    done = run(
        lambda: card_rules.apply_for_card(
            engine_of(),
            domain_of().regions,
            id_number=body.id_number,
            channel=body.channel,
            bank=body.bank,
            region_code=body.region_code,
            outlet=body.outlet,
            actor=f"api:{who.name}",
            idempotency=idempotency(who),
        )
    )
    return answer(
        CardApplied(transition=transition_out(done), card=_card_out(done.instance_id)), 201
    )


@endpoint(
    bp,
    "GET",
    "/cards/{card_id}",
    summary="A card's status and production progress (制卡进度)",
    scopes=("channel", "factory", "read", "bank:<code>"),
    response=CardOut,
    parameters=(int_param("card_id"),),
)
def get_card(card_id: str) -> Any:
    who = caller()
    card = _card_out(as_id(card_id, "card"))
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
    parameters=(int_param("card_id"),),
)
def card_event(card_id: str, body: EventRequest) -> Any:
    who = caller()
    card = _card_out(as_id(card_id, "card"))
    kinds = senders_of(card_rules.PROCESS, body.event)
    if kinds is None:
        raise not_sendable(body.event, card.allowed_events)
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
    return send_event(who, card.id, body)


@endpoint(
    bp,
    "GET",
    "/people/{id_number}/cards",
    summary="A person's cards",
    scopes=("channel", "read"),
    response=CardList,
    parameters=(str_param("id_number"),),
)
def person_cards(id_number: str) -> Any:
    require(caller(), "channel", "read")
    person = person_number(id_number)
    found = card_rules.cards_of(engine_of(), person)
    return answer(
        CardList(id_number_masked=mask_id_number(person), cards=[_card_out(c["id"]) for c in found])
    )
