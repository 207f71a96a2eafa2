"""The story's people: ``Resident`` (who a person is and what the story decided about them), the
drawing of the population (ID numbers, names, banks, households, family members), and the import
rows that bring a person and a card into the service.

Residents alternate between the regions; neighbours in the list share a household
(``HOUSEHOLD_SIZE``) and each pays for the next one when a family member pays. The last person of
each region is kept for the demo's last days: a newcomer who registers two days before the demo
date (``draw_population`` returns them per region).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from workflows.demo.parameters import (
    GIVEN,
    HOLDS_REDUCTION,
    HOUSEHOLD_SIZE,
    IN_DEDUCTION_AGREEMENT,
    NEVER_COLLECTS,
    NEWCOMER,
    RESIDENCE_PERMIT,
    SURNAMES,
)
from workflows.identity import age_on, make_id_number
from workflows.people import RESIDENCE_DOCUMENTS
from workflows.regions import RegionInfo


@dataclass
class Resident:
    """One person of the story and what the story decided about them."""

    id_number: str
    name: str
    region: str
    region_code: str
    bank: str
    household: str
    residence: str
    reductions: tuple[str, ...]
    newcomer: bool
    in_agreement: bool
    collects: bool
    family: str | None = None
    card_id: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    """The variables the amount due depends on (as the person's years carry them)."""


def draw_population(
    rng: random.Random,
    regions: Sequence[RegionInfo],
    banks: Mapping[str, tuple[str, ...]],
    count: int,
    story: tuple[date, date],
) -> tuple[list[Resident], dict[str, Resident]]:
    """``count`` residents alternating between ``regions`` (cards at the region's ``banks``),
    and the last of each region (a newcomer of the demo's last days), by region key; a
    resident holds a reduction category only if they meet its condition (an age) from the
    story's first day to its last."""
    found: list[Resident] = []
    seen: set[str] = set()
    per_region: dict[str, int] = {}
    for i in range(count):
        region = regions[i % len(regions)]
        nth = per_region[region.key] = per_region.get(region.key, -1) + 1
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        sequence = rng.randrange(1000)
        number = make_id_number(region.code, born, sequence)
        while number in seen:
            sequence = (sequence + 1) % 1000
            number = make_id_number(region.code, born, sequence)
        seen.add(number)
        reductions = [
            r
            for r in region.latest().reductions
            if all(r.applies(age_on(number, day), frozenset()) for day in story)
        ]  # a category the registration or import refuses would break the story
        held = (
            (rng.choice(reductions).category,)
            if reductions and rng.random() < HOLDS_REDUCTION
            else ()
        )
        at_banks = banks[region.key]
        found.append(
            Resident(
                id_number=number,
                name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
                region=region.key,
                region_code=region.code,
                bank=at_banks[nth % len(at_banks)],
                household=f"{region.key[:2].upper()}-{nth // HOUSEHOLD_SIZE:06d}",
                residence=(
                    RESIDENCE_DOCUMENTS[1]
                    if rng.random() < RESIDENCE_PERMIT
                    else RESIDENCE_DOCUMENTS[0]
                ),
                reductions=held,
                newcomer=rng.random() < NEWCOMER,
                in_agreement=rng.random() < IN_DEDUCTION_AGREEMENT,
                collects=rng.random() >= NEVER_COLLECTS,
            )
        )
    # The last person of each region registers in the demo's last days (a newcomer).
    last_newcomers: dict[str, Resident] = {}
    for region in regions:
        last = next(r for r in reversed(found) if r.region == region.key)
        last.newcomer = True
        last_newcomers[region.key] = last
    households: dict[str, list[Resident]] = {}
    for resident in found:
        households.setdefault(resident.household, []).append(resident)
        resident.facts = {
            "id_number": resident.id_number,
            "reduction_categories": list(resident.reductions),
            "flags": [],
        }
    for members in households.values():
        for i, resident in enumerate(members):
            others = members[i + 1 :] + members[:i]
            resident.family = others[0].id_number if others else None
    return found, last_newcomers


def import_row(
    resident: Resident, card_state: str | None, bank: str, card_numbers: Iterator[int]
) -> dict[str, Any]:
    """The import row of ``resident``, with a card in ``card_state`` at ``bank`` unless None
    (its number the next of ``card_numbers``)."""
    row: dict[str, Any] = {
        "id_number": resident.id_number,
        "name": resident.name,
        "region": resident.region,
        "residence": resident.residence,
        "household": resident.household,
        "reduction_categories": "|".join(resident.reductions),
    }
    if card_state is not None:
        row.update(
            card_number=f"{resident.region_code[:2]}{next(card_numbers):010d}",
            card_bank=bank,
            card_state=card_state,
            card_region_code=resident.region_code,
        )
    return row
