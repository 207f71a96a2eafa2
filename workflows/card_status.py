"""What a card's holder and its channels are told of it: its production progress (制卡进度), whether
its electronic card works, and every card of a person.

Sources: foshan-card-one-card-and-2022-medical-insurance.txt (line 34: production progress; lines
36-40: the electronic card issued alongside a third-generation card). Which states are steps of
production progress and in which the electronic card works are tags of ``definitions/card.yaml``,
read from the card's own definition version, which every caller passes (a card left on an older
version is judged by that version's tags, not the latest's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from engine import queries
from engine.runtime import Engine
from engine.state_entries import entries
from engine.statements import instances
from workflows.cards import PROCESS
from workflows.identity import validate_id_number
from workflows.service_date import service_today

PROGRESS = "progress"
ELECTRONIC_CARD = "electronic_card"


@dataclass(frozen=True)
class ProgressStep:
    step: str
    label_zh: str
    label_en: str
    done_at: datetime | None


def production_progress(engine: Engine, card_id: int, version: int) -> list[ProgressStep]:
    """The card's production progress (制卡进度, Foshan document line 34): the states tagged
    ``progress`` in its own definition ``version``, in order, each done when
    the card first reached it or a later step: by the business event that entered it, a
    migration (which may have renamed the state) being no step (``engine.state_entries``)."""
    definition = engine.definition(PROCESS, version)
    steps = definition.tagged(PROGRESS)
    reached: dict[str, datetime] = {}
    for row, entered in entries(queries.history(engine.db, card_id)):
        reached.setdefault(row["to_state"], entered["occurred_at"])
    found = []
    for i, step in enumerate(steps):
        times = [reached[s] for s in steps[i:] if s in reached]
        label = definition.states[step].label
        found.append(ProgressStep(step, label.zh, label.en, min(times) if times else None))
    return found


def electronic_card_status(
    engine: Engine, card_state: str, version: int
) -> Literal["usable", "unusable"]:
    """The electronic card follows the physical one: usable in the states tagged for it in the
    card's own definition ``version``."""
    tagged = engine.definition(PROCESS, version).tagged(ELECTRONIC_CARD)
    return "usable" if card_state in tagged else "unusable"


def cards_of(engine: Engine, id_number: str) -> Sequence[dict[str, Any]]:
    """Every card of a person, in any province, oldest first."""
    person = validate_id_number(id_number, today=service_today(engine.clock.now()))
    query = (
        select(
            instances.c.id,
            instances.c.business_key,
            instances.c.state,
            instances.c.variables,
            instances.c.created_at,
        )
        .where(instances.c.process == PROCESS, instances.c.business_key.like(f"%:{person}"))
        .order_by(instances.c.id)
    )
    with engine.db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
