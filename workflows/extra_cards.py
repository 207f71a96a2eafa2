"""People holding several cards in one province (imported data): the review a clerk resolves.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 7-9). When a person has more
than one usable card in a province, a ``card_review`` opens for a social-security clerk of the
region. Resolving it keeps one usable card (the form's reference field offers only those); the
``cancel_extra_cards`` action then emits ``cancel`` to every other usable card in the same
transaction, and each cancelled card opens the account-closing task at its own bank. Cards already
lost or cancelled keep the account-closing task they have. The same happens whichever door the
resolution comes through (inbox, tasks API).

A supervisor's move (``engine.interventions``) runs no event and so no guard: the move check
``second_usable_card`` warns when a move would bring a card back into use beside another usable
card of its holder, and the move is refused unless the supervisor confirms it knowingly.
"""

from __future__ import annotations

from typing import Any

from engine.errors import TransitionRefused
from engine.registry import Move, MoveWarning, Registry
from engine.runtime import Engine, Transition
from engine.transition_context import TransitionContext
from engine.tx import Tx
from workflows.cards import PROCESS as CARD
from workflows.cards import REPLACES, USABLE
from workflows.identity import mask_id_number

PROCESS = "card_review"
REASON = "省内一人一卡，核查后注销 / one person one card per province: cancelled on review"


def cancel_extra_cards(ctx: TransitionContext) -> None:
    """Keep ``keep_card_id``; emit ``cancel`` to the person's other usable cards.

    The cards are read under the card key's lock (the one a card application, replacement or
    import of the person takes): a card imported meanwhile is then either among the cards read
    here (and cancelled) or imported after this review is resolved (and opens a new one), as in
    sequence; never a usable card that neither this review nor a new one sees."""
    keep = ctx.data.get("keep_card_id")
    key = str(ctx.variables["card_key"])
    ctx.lock_key(CARD, key)
    cards = [c for c in ctx.find(CARD, key) if USABLE in c.tags]
    if keep not in {c.id for c in cards}:
        raise TransitionRefused(
            f"卡 {keep} 不是该居民的可用社保卡", f"card {keep} is not a usable card of this person"
        )
    for card in cards:
        if card.id != keep:
            ctx.emit("cancel", card.id, {"reason": REASON})


OTHER_USABLE_CARD = "other_usable_card"


def second_usable_card(ctx: TransitionContext, move: Move) -> MoveWarning | None:
    """A supervisor's move that brings a card back into use (a cancelled or lost card moved to
    a usable state) while its holder has another usable card in the province: one person one
    card would no longer hold, so the move needs the supervisor's knowing confirmation. A card
    and its replacement in progress (换领) count as one."""
    if USABLE in move.source_tags or USABLE not in move.target_tags or not ctx.business_key:
        return None
    others = [
        c
        for c in ctx.find(CARD, ctx.business_key)
        if c.id != ctx.instance_id
        and USABLE in c.tags
        and c.variables.get(REPLACES) != ctx.instance_id
        and ctx.variables.get(REPLACES) != c.id
    ]
    if not others:
        return None
    other = others[0]
    zh, en = (other.label.zh, other.label.en) if other.label else (other.state, other.state)
    person = mask_id_number(str(ctx.variables.get("id_number", "")))
    return MoveWarning(
        OTHER_USABLE_CARD,
        f"省内一人一卡：该居民（{person}）已有另一张可用社保卡（卡 {other.id}，状态：{zh}），"
        "移动后将同时持有两张可用社保卡",
        f"one person one card per province: this person ({person}) already has another usable "
        f"card (card {other.id}, {en}); after this move they would hold two usable cards",
        f"我已知悉该居民另有可用社保卡（卡 {other.id}），仍要移动",
        f"I know the person has another usable card (card {other.id}) and still move this one",
    )


def register(registry: Registry) -> None:
    registry.add_action("cancel_extra_cards", cancel_extra_cards)
    registry.add_move_check(CARD, second_usable_card)


def review_if_needed(
    engine: Engine, tx: Tx, key: str, region: str, actor: str
) -> Transition | None:
    """Open a review when the person (card business ``key``) holds more than one usable card
    and no review of theirs is open; None when none was needed."""
    usable = [c for c in engine.find(tx, CARD, key) if USABLE in c.tags]
    # a card with its replacement (换领) in progress is one card: it stops when the new one works
    replaced = {c.variables.get(REPLACES) for c in usable}
    usable = [c for c in usable if c.id not in replaced]
    if len(usable) < 2:
        return None
    if any("live" in r.tags for r in engine.find(tx, PROCESS, key)):
        return None
    definition = engine.definition(PROCESS)
    variables: dict[str, Any] = {
        "card_key": key,
        "id_number": usable[0].variables.get("id_number"),
        "province": key.split(":", 1)[0],
        "region": region,
        "cards_found": len(usable),
    }
    return engine.start_in(tx, definition, definition.initial[0], key, variables, actor)
