"""People holding several cards in one province (imported data): find them, let a clerk resolve.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 7-9). The clerk keeps one card;
every other usable card of that person in the province is cancelled (its bank account is then
closed at the bank's counter, a bank-teller task the card process opens); cards already lost or
cancelled keep their own account-closing task.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from engine import queries
from engine.errors import DuplicateInstance, WorkflowError
from engine.runtime import Engine, Transition
from engine.sqlexec import Tx
from engine.statements import instances
from workflows.cards import EVENTS_TO, USABLE_STATES, card_key

REGIONS_BY_PROVINCE = {"44": "foshan", "35": "huian"}


class ExtraCardsRefused(WorkflowError):
    code = "extra_cards_refused"


def import_card(
    engine: Engine,
    *,
    id_number: str,
    bank: str,
    region_code: str,
    state: str,
    actor: str = "import",
) -> int:
    """Record a card from another system as it stands (no one-card check: this is the past)."""
    if state not in USABLE_STATES:
        raise ValueError(f"imported cards are one of {', '.join(USABLE_STATES)}: {state}")
    card = engine.start(
        "card",
        business_key=card_key(id_number, region_code),
        actor=actor,
        variables={
            "id_number": id_number,
            "bank": bank,
            "channel": "counter",
            "region_code": region_code,
            "province": region_code[:2],
            "electronic_card": True,
            "imported": True,
        },
    )
    for event in EVENTS_TO[state]:
        data = {"presented_id_number": id_number} if event == "activate" else {}
        engine.fire(card.instance_id, event, actor=actor, data=data)
    return card.instance_id


def open_reviews(engine: Engine, actor: str = "import") -> int:
    """Start a clerk review for every person with more than one usable card in a province."""
    query = (
        select(instances.c.business_key, func.count())
        .where(instances.c.process == "card", instances.c.state.in_(USABLE_STATES))
        .group_by(instances.c.business_key)
        .having(func.count() > 1)
    )
    with engine.db.connect() as conn:
        keys = [row[0] for row in conn.execute(query)]
    opened = 0
    for key in keys:
        province = key.split(":", 1)[0]
        try:
            engine.start(
                "card_review",
                business_key=key,
                actor=actor,
                exclusive_in=("review",),
                variables={
                    "card_key": key,
                    "province": province,
                    "region": REGIONS_BY_PROVINCE.get(province, province),
                },
            )
        except DuplicateInstance:
            continue
        opened += 1
    return opened


def usable_cards(engine: Engine, key: str) -> list[tuple[int, str]]:
    return [
        (i, s) for i, s in queries.by_business_key(engine.db, "card", key) if s in USABLE_STATES
    ]


def resolve_extra_cards(engine: Engine, task_id: int, keep_card_id: int, actor: str) -> Transition:
    """Complete the review keeping ``keep_card_id``; cancel the person's other usable cards.

    All in one transaction: the review ends and every other card moves to ``cancelled``, which
    opens a bank-teller task at each card's bank to close its account.
    """

    def work(tx: Tx) -> Transition:
        task = tx.one(engine.sql.select_task, {"tid": task_id})
        if task is None or task.status != "open":
            raise ExtraCardsRefused("核查任务不存在或已处理", "no open review task with that id")
        review = engine.load(tx, task.instance_id)
        key = review.variables["card_key"]
        cards = {
            row.id: row.state
            for row in tx.all(engine.sql.select_by_business_key, {"process": "card", "bkey": key})
        }
        if cards.get(keep_card_id) not in USABLE_STATES:
            raise ExtraCardsRefused(
                f"卡 {keep_card_id} 不是该居民的可用社保卡",
                f"card {keep_card_id} is not a usable card of this person",
            )
        for card_id, state in cards.items():
            if card_id != keep_card_id and state in USABLE_STATES:
                _cancel(engine, tx, card_id, actor)
        data: dict[str, Any] = {"keep_card_id": str(keep_card_id)}
        return engine.fire_in(tx, review, "resolve", actor, data, task_id=task_id)

    return engine.transaction(work)


def _cancel(engine: Engine, tx: Tx, card_id: int, actor: str) -> None:
    data = {"reason": "one person one card per province"}
    engine.fire_in(tx, engine.load(tx, card_id), "cancel", actor, data)
