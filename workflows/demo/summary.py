"""What a demo run reports: ``DemoSummary`` (the counts, the open tasks per group and scope, the
refusals), read from the database at the demo date, and the lines the commands print."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from engine.runtime import Engine
from engine.statements import instances, tasks
from workflows.cards import PROCESS as CARD
from workflows.people import ENROLLMENT, PERSON
from workflows.regions import RegionInfo


@dataclass(frozen=True)
class DemoSummary:
    """What the simulation left at the demo date."""

    at: datetime
    people: int
    """Person records (insured, in review, rejected)."""
    cards: int
    enrollments: int
    """Enrollment years, of every policy."""
    open_tasks: Mapping[str, Mapping[str, int]]
    """Open tasks per candidate group and scope (a bank or a region)."""
    banks: tuple[str, ...]
    """The partner banks the demo's cards are at (a teller account per bank)."""
    regions: tuple[str, ...]
    refused: tuple[str, ...] = ()
    """Operations the rules refused (none in a consistent storyline)."""
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The summary as the commands print it."""
        local = self.at.isoformat(timespec="minutes")
        found = [
            f"demo data at {local} ({self.seconds:.1f} s): {self.people} people, "
            f"{self.cards} cards, {self.enrollments} enrollment years"
        ]
        for group, scopes in sorted(self.open_tasks.items()):
            each = ", ".join(f"{scope} {count}" for scope, count in sorted(scopes.items()))
            found.append(f"  open tasks {group}: {sum(scopes.values())} ({each})")
        if self.refused:
            found.append(f"  refused by the rules: {len(self.refused)} (first: {self.refused[0]})")
        return found


def summarise(
    engine: Engine,
    *,
    at: datetime,
    banks: Mapping[str, tuple[str, ...]],
    regions: Iterable[RegionInfo],
    refused: Iterable[str],
    seconds: float,
) -> DemoSummary:
    """The summary of what ``engine``'s database holds (``banks``: the demo's banks per region)."""
    with engine.db.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                select(instances.c.process, func.count()).group_by(instances.c.process)
            ).all()
        )
        open_rows = conn.execute(
            select(tasks.c.candidate_group, tasks.c.scope, func.count())
            .where(tasks.c.status == "open")
            .group_by(tasks.c.candidate_group, tasks.c.scope)
        ).all()
    open_tasks: dict[str, dict[str, int]] = {}
    for group, scope, count in open_rows:
        open_tasks.setdefault(str(group), {})[str(scope or "*")] = int(count)
    used = {bank for each in banks.values() for bank in each}
    return DemoSummary(
        at=at,
        people=int(counts.get(PERSON, 0)),
        cards=int(counts.get(CARD, 0)),
        enrollments=int(counts.get(ENROLLMENT, 0)),
        open_tasks=open_tasks,
        banks=tuple(sorted(used)),
        regions=tuple(r.key for r in regions),
        refused=tuple(refused),
        seconds=seconds,
    )
