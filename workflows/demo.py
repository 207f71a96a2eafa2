"""Demo data: people of both regions with cards and enrollment years spread over every state.

Deterministic (a seeded random generator and the engine's clock), so a demo looks the same each time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from engine.runtime import Engine
from workflows.identity import make_id_number

BANKS = ("icbc", "abc", "boc", "ccb", "foshan_rcb")
REGIONS = (("440604", "foshan-2022", "foshan"), ("350521", "huian-2023", "huian"))

# The events that lead from the initial state to each state, per process.
CARD_PATHS: dict[str, tuple[str, ...]] = {
    "applied": (),
    "produced": ("produce",),
    "awaiting_activation": ("produce", "notify_holder"),
    "active": ("produce", "notify_holder", "activate"),
    "lost": ("produce", "notify_holder", "activate", "report_loss"),
    "cancelled": ("produce", "notify_holder", "activate", "cancel"),
    "bank_account_closed": (
        "produce",
        "notify_holder",
        "activate",
        "report_loss",
        "close_bank_account",
    ),
}
ENROLLMENT_PATHS: dict[str, tuple[str, ...]] = {
    "renewal_pending": (),
    "deducted": ("deduct",),
    "deduction_failed": ("fail_deduction",),
    "lapsed": ("lapse",),
}


@dataclass(frozen=True)
class DemoSummary:
    people: int
    cards: int
    enrollments: int


def seed_demo(engine: Engine, people: int = 200, seed: int = 2022) -> DemoSummary:
    """Create ``people`` residents, each with a card and one enrollment year."""
    rng = random.Random(seed)
    cards = enrollments = 0
    for i in range(people):
        code, policy, region = REGIONS[i % len(REGIONS)]
        born = date(1940 + rng.randrange(80), 1 + rng.randrange(12), 1 + rng.randrange(28))
        person = make_id_number(code, born, 1 + i % 999)
        bank = rng.choice(BANKS)
        card_state = rng.choice(list(CARD_PATHS))
        card = engine.start(
            "card",
            business_key=person,
            actor="demo",
            variables={
                "id_number": person,
                "bank": bank,
                "region": region,
                "channel": "counter",
            },
        )
        for event in CARD_PATHS[card_state]:
            data = {"presented_id_number": person} if event == "activate" else {}
            engine.fire(card.instance_id, event, actor="demo", data=data)
        cards += 1
        enrollment_state = rng.choice(list(ENROLLMENT_PATHS))
        year = engine.start(
            "enrollment",
            business_key=f"{person}:{policy}",
            actor="demo",
            variables={"id_number": person, "policy": policy, "region": region},
        )
        for event in ENROLLMENT_PATHS[enrollment_state]:
            engine.fire(year.instance_id, event, actor="demo")
        enrollments += 1
    return DemoSummary(people=people, cards=cards, enrollments=enrollments)
