"""Where a card waiting for collection now is, in words: at its bank's branch, or at the card
centre once taken back from the branch uncollected (NOTES.md, practice; the region's
``card.uncollected_card_returned_after``, the ``take_back_uncollected`` timer of
``definitions/card.yaml``).

The states in which a card waits for collection are those the take-back's events leave, read
from the card's own definition version; the place is the variable the take-back action records
(``workflows.cards.COLLECTION_PLACE``), the bank's branch until then. Every door that shows a
card (the JSON API, the supervisors' instance page, the search record page) asks here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.specs import Label, ProcessDefinition
from workflows.cards import CARD_CENTRE, COLLECTION_PLACE, TAKE_BACK
from workflows.regions import Regions

BANK_BRANCH = "bank_branch"
PLACES = (BANK_BRANCH, CARD_CENTRE)
_WORDS = {
    BANK_BRANCH: ("{bank}网点（待本人领取）", "a branch of {bank} (waiting to be collected)"),
    CARD_CENTRE: (
        "社保卡中心：已从{bank}网点逾期未领收回，集中保管（领卡地点可致电12333查询）",
        "the card centre: taken back from the {bank} branch, not collected in time, and kept "
        "there for safekeeping (call 12333 to ask where to collect it)",
    ),
}


@dataclass(frozen=True)
class CollectionPlace:
    """Where a card waiting for collection is: ``place`` (one of ``PLACES``) and its words."""

    place: str
    label: Label


def waiting_states(definition: ProcessDefinition) -> frozenset[str]:
    """The states in which a card waits for collection: those the take-back's events leave."""
    return frozenset(
        state
        for event in definition.events.values()
        if TAKE_BACK in event.actions
        for state in event.sources
    )


def collection_place(
    definition: ProcessDefinition, regions: Regions, state: str, variables: Mapping[str, Any]
) -> CollectionPlace | None:
    """Where the card in ``state`` with ``variables`` waits for collection, with the name of its
    bank; None when it waits for none (not made yet, with its holder, or ended)."""
    if state not in waiting_states(definition):
        return None
    place = str(variables.get(COLLECTION_PLACE) or BANK_BRANCH)
    zh, en = _WORDS.get(place, _WORDS[CARD_CENTRE])
    bank = _bank(regions, variables.get("bank"))
    return CollectionPlace(
        place if place in PLACES else CARD_CENTRE,
        Label(zh=zh.format(bank=bank.zh), en=en.format(bank=bank.en)),
    )


def _bank(regions: Regions, code: Any) -> Label:
    """A partner bank's name (its code when no region lists it)."""
    if not code:
        return Label(zh="发卡银行", en="the card's bank")
    found = regions.bank_label(str(code))
    return Label(zh=found.zh, en=found.en) if found else Label(zh=str(code), en=str(code))
