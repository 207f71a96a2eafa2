"""Demo data: people of both regions with cards and enrollment years spread over every state.

Every candidate group gets open tasks: cards awaiting activation and lost cards (bank tellers of each
demo bank), registrations awaiting review and duplicate-payment refund reviews (medical-insurance
clerks of each region), extra-card reviews (social-security clerks, when ``card_review`` is loaded). Deterministic (a seeded random generator and the engine's clock), so a demo
looks the same each time; people are written a chunk per transaction, so thousands take seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from engine.clock import SimulatedClock
from engine.runtime import Engine
from engine.sqlexec import Tx
from workflows.cards import EVENTS_TO, card_key
from workflows.identity import make_id_number

BANKS = ("icbc", "abc", "boc", "ccb", "foshan_rcb")  # keys of workflows.cards.BANKS
REGIONS = (("440604", "foshan-2022", "foshan"), ("350521", "huian-2023", "huian"))

# How often each card state is drawn (weights, in the order of EVENTS_TO): most cards are
# active, a good share wait for activation at the bank.
CARD_PATHS = EVENTS_TO
CARD_WEIGHTS = (2, 2, 4, 8, 2, 1, 1)
# (initial state, events after it)
ENROLLMENT_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "renewal_pending": ("renewal_pending", ()),
    "deducted": ("renewal_pending", ("deduct",)),
    "deduction_failed": ("renewal_pending", ("fail_deduction",)),
    "lapsed": ("renewal_pending", ("lapse",)),
    "registration_review": ("registration_review", ()),
    "registered": ("registration_review", ("approve_registration",)),
    "registration_rejected": ("registration_review", ("reject_registration",)),
}
ENROLLMENT_WEIGHTS = (3, 6, 2, 2, 2, 2, 1)
# Refunds are only accepted within a policy's refund window: those instances are written with a
# clock inside Foshan 2022's window (its refund applications closed at the end of February 2022).
REFUND_POLICY = ("440604", "foshan-2022", "foshan")
REFUND_MOMENT = datetime(2022, 2, 15, 2, 0, tzinfo=UTC)
REFUND_SHARE = 40  # one person in this many of Foshan's also asks for a refund
REVIEW_EVERY = 59  # one person in this many holds extra cards a social-security clerk reviews


@dataclass(frozen=True)
class DemoSummary:
    people: int
    cards: int
    enrollments: int
    refunds: int = 0


@dataclass(frozen=True)
class _Person:
    id_number: str
    region_code: str
    policy: str
    region: str
    bank: str
    card_state: str
    enrollment_state: str
    refund: bool


def _people(count: int, seed: int) -> list[_Person]:
    rng = random.Random(seed)
    found = []
    for i in range(count):
        code, policy, region = REGIONS[i % len(REGIONS)]
        born = date(1940 + rng.randrange(80), 1 + rng.randrange(12), 1 + rng.randrange(28))
        found.append(
            _Person(
                id_number=make_id_number(code, born, 1 + i % 999),
                region_code=code,
                policy=policy,
                region=region,
                bank=rng.choice(BANKS),
                card_state=rng.choices(list(CARD_PATHS), CARD_WEIGHTS)[0],
                enrollment_state=rng.choices(list(ENROLLMENT_PATHS), ENROLLMENT_WEIGHTS)[0],
                refund=policy == REFUND_POLICY[1] and rng.randrange(REFUND_SHARE) == 0,
            )
        )
    return found


def _walk(
    engine: Engine,
    tx: Tx,
    process: str,
    start: str,
    key: str,
    variables: dict[str, object],
    events: tuple[str, ...],
    data: dict[str, dict[str, str]],
) -> None:
    """Start one instance in ``start`` and fire ``events`` on it, inside ``tx``."""
    definition = engine.definition(process)
    started = engine.start_in(tx, definition, start, key, variables, "demo")
    for event in events:
        row = engine.load(tx, started.instance_id)
        engine.fire_in(tx, row, event, "demo", data.get(event, {}))


def _write_person(engine: Engine, tx: Tx, person: _Person) -> None:
    _walk(
        engine,
        tx,
        "card",
        "applied",
        card_key(person.id_number, person.region_code),
        {
            "id_number": person.id_number,
            "bank": person.bank,
            "region_code": person.region_code,
            "province": person.region_code[:2],
            "region": person.region,
            "channel": "counter",
            "electronic_card": True,
        },
        CARD_PATHS[person.card_state],
        {"activate": {"presented_id_number": person.id_number}},
    )
    start, events = ENROLLMENT_PATHS[person.enrollment_state]
    _walk(
        engine,
        tx,
        "enrollment",
        start,
        f"{person.id_number}:{person.policy}",
        {"id_number": person.id_number, "policy": person.policy, "region": person.region},
        events,
        {},
    )


def _write_refund(engine: Engine, tx: Tx, person: _Person) -> None:
    _walk(
        engine,
        tx,
        "enrollment",
        "renewal_pending",
        f"{person.id_number}:{person.policy}:refund",
        {"id_number": person.id_number, "policy": person.policy, "region": person.region},
        ("deduct", "request_refund"),
        {},
    )


def _write_review(engine: Engine, tx: Tx, person: _Person) -> None:
    _walk(
        engine,
        tx,
        "card_review",
        "review",
        card_key(person.id_number, person.region_code),
        {"id_number": person.id_number, "region": person.region},
        (),
        {},
    )


def seed_demo(
    engine: Engine, people: int = 2000, seed: int = 2022, chunk: int = 250
) -> DemoSummary:
    """Create ``people`` residents, each with a card and one enrollment year, plus a few refunds.

    Args:
        engine: the engine to write through (its clock dates everything but the refunds).
        people: how many residents, alternating between Foshan and Hui'an.
        seed: the random generator's seed.
        chunk: residents per transaction.
    """
    everyone = _people(people, seed)
    for start in range(0, len(everyone), chunk):
        batch = everyone[start : start + chunk]

        def work(tx: Tx, batch: list[_Person] = batch) -> None:
            for person in batch:
                _write_person(engine, tx, person)

        engine.transaction(work)
    if "card_review" in engine.processes:  # extra cards found in imported data: a clerk's task
        reviews = everyone[::REVIEW_EVERY]

        def write_reviews(tx: Tx) -> None:
            for person in reviews:
                _write_review(engine, tx, person)

        engine.transaction(write_reviews)
    refunds = [p for p in everyone if p.refund]
    if refunds:
        past = Engine(
            engine.db,
            engine.processes.values(),
            engine.registry,
            clock=SimulatedClock(REFUND_MOMENT),
        )

        def write_refunds(tx: Tx) -> None:
            for person in refunds:
                _write_refund(past, tx, person)

        past.transaction(write_refunds)
    return DemoSummary(
        people=people, cards=people, enrollments=people + len(refunds), refunds=len(refunds)
    )
