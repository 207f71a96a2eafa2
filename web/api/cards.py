"""API endpoints for cards: apply, status and production progress, events, a person's cards.

A bank's token sees only its bank's cards: another bank's card answers 404, as a card that does
not exist does, so the token cannot learn that it exists or what state it is in (the attempt is a
``permission_denied`` security event)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select

from engine import interventions, queries
from engine import statements as st
from web.api.answer_models import CardApplied, CardList, CardOut, ProgressStepOut, TransitionOut
from web.api.common import (
    answer,
    as_id,
    bp,
    caller,
    hidden,
    idempotency,
    int_param,
    not_found,
    not_sendable,
    person_number,
    run,
    send_event,
    sendable_now,
    senders_of,
    transition_out,
)
from web.api.errors import ApiError
from web.api.model_types import Label
from web.api.request_models import CardApplication, EventRequest, PersonQuery
from web.api.spec import endpoint
from web.api.tokens import Caller
from web.extensions import domain_of, engine_of
from web.reads import reader
from workflows import card_collection, card_status
from workflows import cards as card_rules
from workflows.identity import mask_id_number


def _card_out(card_id: int) -> CardOut:
    engine = engine_of()
    row = queries.instance(engine.db, card_id)
    if row is None or row["process"] != "card":
        raise not_found("card", card_id)
    definition = engine.definition("card", row["definition_version"])
    label = interventions.label_of(definition, row["state"])
    variables = row["variables"]
    return CardOut(
        id=row["id"],
        state=row["state"],
        state_label=Label(zh=label.zh, en=label.en),
        id_number_masked=mask_id_number(str(variables.get("id_number", ""))),
        bank=variables.get("bank"),
        channel=variables.get("channel"),
        region_code=variables.get("region_code"),
        electronic_card=card_status.electronic_card_status(
            engine, row["state"], row["definition_version"]
        ),
        version=row["version"],
        definition_version=row["definition_version"],
        replaces_card_id=variables.get(card_rules.REPLACES),
        **_collection(definition, row["state"], variables),
        allowed_events=sendable_now(definition, card_id, row["state"]),
        progress=[
            ProgressStepOut(
                step=s.step, label=Label(zh=s.label_zh, en=s.label_en), done_at=s.done_at
            )
            for s in card_status.production_progress(engine, card_id, row["definition_version"])
        ],
    )


def _collection(definition: Any, state: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The card's ``collection_place`` and its words, while it waits to be collected."""
    found = card_collection.collection_place(definition, domain_of().regions, state, variables)
    if found is None:
        return {}
    label = Label(zh=found.label.zh, en=found.label.en)
    return {"collection_place": found.place, "collection_place_label": label}


SEES_EVERY_CARD = frozenset({"channel", "factory", "read"})


def _may_see(who: Caller, bank: Any) -> bool:
    """Any card for the channel, the factory and readers; its own bank's cards for a bank."""
    return bool(who.scopes & SEES_EVERY_CARD) or bank in who.banks()


def _visible_card(who: Caller, card_id: int) -> CardOut:
    """The card, if the token may see it (``_may_see``). Otherwise 404, the same answer as for
    no card at all (``hidden``: the attempt is a security event)."""
    card = _card_out(card_id)
    if _may_see(who, card.bank):
        return card
    raise hidden("card", card_id)


def _card_head() -> Select[Any]:
    instances = st.instances
    return select(
        instances.c.id,
        instances.c.process,
        instances.c.definition_version,
        instances.c.state,
        instances.c.variables,
    ).where(instances.c.id == bindparam("card_id"))


class CardHead(NamedTuple):
    id: int
    definition_version: int
    state: str
    bank: Any


def _visible_card_head(who: Caller, card_id: int) -> CardHead:
    """What an event's checks need of the card (its bank, state and definition version), if the
    token may see it; else 404, as ``_visible_card``. One indexed read, one statement: the
    card's progress (its history) is not needed to send it an event."""
    found = reader(engine_of().db)
    row = found.one(found.prepared("card_head", _card_head), {"card_id": card_id})
    if row is None or row.process != card_rules.PROCESS:
        raise not_found("card", card_id)
    bank = (row.variables or {}).get("bank")
    if not _may_see(who, bank):
        raise hidden("card", card_id)
    return CardHead(row.id, row.definition_version, row.state, bank)


@endpoint(
    bp,
    "POST",
    "/cards",
    summary="Apply for a card (申领社保卡)",
    scopes=("channel",),
    body=CardApplication,
    response=CardApplied,
    status=201,
    links={
        "GetCard": ("get_card", {"card_id": "$response.body#/card/id"}),
        "SendCardEvent": ("card_event", {"card_id": "$response.body#/card/id"}),
    },
)
def apply_card(body: CardApplication) -> Any:
    who = caller()
    person_number(body.id_number)  # 422 as at every endpoint, before the rules
    done = run(
        lambda: card_rules.apply_for_card(
            engine_of(),
            domain_of().regions,
            id_number=body.id_number,
            channel=body.channel,
            bank=body.bank,
            region_code=body.region_code,
            outlet=body.outlet,
            replacement_reason=body.replacement_reason,
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
    return answer(_visible_card(caller(), as_id(card_id, "card")))


@endpoint(
    bp,
    "POST",
    "/cards/{card_id}/events",
    summary="Send an event to a card",
    scopes=("factory", "channel", "bank:<code>"),
    body=EventRequest,
    response=TransitionOut,
    parameters=(int_param("card_id"),),
    links={"GetCard": ("get_card", {"card_id": "$response.body#/instance_id"})},
)
def card_event(card_id: str, body: EventRequest) -> Any:
    who = caller()
    ident = as_id(card_id, "card")
    kinds = senders_of(card_rules.PROCESS, body.event)
    if kinds is None:
        card = _visible_card_head(who, ident)  # 404 before 409, as for every refusal
        definition = engine_of().definition(card_rules.PROCESS, card.definition_version)
        allowed = sendable_now(definition, card.id, card.state, who, card.bank)
        raise not_sendable(body.event, allowed, definition)
    return send_event(who, ident, body, what="card", admit=_sender_check(who, body.event, kinds))


def _sender_check(who: Caller, event: str, kinds: tuple[str, ...]) -> Callable[[Any], None]:
    """The check of a card event's sender, on the card as the engine's transaction reads it
    (``Engine.fire``'s ``admit``): 404 for a card the token may not see (or no card), as
    ``_visible_card`` (another bank's card is written to the security event log); 403 for an
    event its scopes may not send to this card (a bank's events only to its own bank's cards)."""

    def admit(row: Any) -> None:
        bank = (row.variables or {}).get("bank")
        if row.process != card_rules.PROCESS:
            raise not_found("card", row.id)
        if not _may_see(who, bank):
            raise hidden("card", row.id)
        if not (
            ("bank" in kinds and bank in who.banks())
            or any(k in who.scopes for k in kinds if k != "bank")
        ):
            raise ApiError(
                403,
                "forbidden",
                f"令牌不能发送事件 {event}",
                f"this token may not send {event} to this card",
            )

    return admit


@endpoint(
    bp,
    "POST",
    "/people/cards",
    summary="A person's cards (the ID number in the body, never in the URL)",
    scopes=("channel", "read"),
    body=PersonQuery,
    response=CardList,
    idempotent=False,
)
def person_cards(body: PersonQuery) -> Any:
    person = person_number(body.id_number)
    found = card_status.cards_of(engine_of(), person)
    return answer(
        CardList(id_number_masked=mask_id_number(person), cards=[_card_out(c["id"]) for c in found])
    )
