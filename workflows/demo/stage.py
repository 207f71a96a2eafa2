"""The simulation's stage: what every part of the story shares.

``Stage`` holds the simulated clock and the engine that runs on it, the seeded random generator,
the agenda (actions in time order, never after the demo date), the states the story needs (named
by the definitions' events and tags, never by hand), the demo's banks and residents, the
operations the rules refused, and the reads of instances the story's steps decide on. The steps
themselves are in ``residents``, ``years``, ``staff`` and ``story``, each a layer over this one.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.clock import SimulatedClock
from engine.errors import WorkflowError
from engine.runtime import Engine
from engine.statements import instances
from engine.timers import TimerSweep
from workflows.cards import PROCESS as CARD
from workflows.cards import USABLE
from workflows.demo.parameters import BANKS_PER_REGION, OFFICE_HOURS, check_demo, story_start
from workflows.demo.population import draw_population
from workflows.extra_cards import PROCESS as CARD_REVIEW
from workflows.people import ENROLLMENT, LIVE, ON_BOOKS, PERSON
from workflows.regions import RegionInfo

if TYPE_CHECKING:
    from workflows.domain import Domain

Action = Callable[[], object]


class Stage:
    """The shared state of a simulation and the agenda it runs (see the module docstring)."""

    def __init__(
        self, engine: Engine, domain: Domain, *, people: int, at: datetime, seed: int
    ) -> None:
        check_demo(domain, people=people, at=at)
        self.domain = domain
        self.regions: list[RegionInfo] = list(domain.regions)
        self.start = story_start(domain)
        self.at = at
        self.zone = ZoneInfo(self.regions[0].latest().timezone)
        self.rng = random.Random(seed)
        self.clock = SimulatedClock(self.start)
        self.engine = Engine(engine.db, engine.processes.values(), engine.registry, self.clock)
        self.sweeper = TimerSweep(self.engine, name="demo")  # the same data from the same seed
        self.agenda: list[tuple[datetime, int, Action]] = []
        self.sequence = itertools.count()
        self.card_numbers = itertools.count(1)
        self.refused: list[str] = []
        # States named by the definitions' events and tags, never by hand.
        card = engine.definition(CARD)
        self.active = card.events["activate"].target
        self.loss_reported = card.events["report_loss"].target  # temporary (临时挂失)
        self.lost = card.events["report_loss_formally"].target  # formal (正式挂失)
        self.awaiting = card.events["notify_holder"].target
        self.usable = card.tagged(USABLE)
        year = engine.definition(ENROLLMENT)
        self.payable = year.tagged("payable")
        self.failed = year.events["fail_deduction"].target
        self.lapsed = year.events["lapse"].target
        self.refundable = year.events["request_refund"].sources
        self.live_year = year.tagged(LIVE)
        self.insured = engine.definition(PERSON).tagged(ON_BOOKS)
        self.live_review = engine.definition(CARD_REVIEW).tagged(LIVE)
        self.banks = {
            region.key: tuple(
                self.rng.sample(list(region.banks), min(BANKS_PER_REGION, len(region.banks)))
            )
            for region in self.regions
        }
        self.residents, self.last_newcomers = draw_population(
            self.rng, self.regions, self.banks, people, (self.start.date(), at.date())
        )
        self.by_number = {r.id_number: r for r in self.residents}
        # People a story of the last weeks has taken (chance events leave them alone).
        self.busy: set[str] = {r.id_number for r in self.last_newcomers.values()}

    # -- the agenda ------------------------------------------------------------------------

    def later(self, moment: datetime, action: Callable[..., object], *args: Any) -> None:
        """Do ``action(*args)`` at ``moment`` (not before now); never after the demo date."""
        moment = max(moment, self.clock.now())
        if moment <= self.at:
            entry: tuple[datetime, int, Action] = (
                moment,
                next(self.sequence),
                partial(action, *args),
            )
            heapq.heappush(self.agenda, entry)

    def local(self, day: date, hour: int = 9, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), self.zone)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def some_time(self, first: datetime, last: datetime) -> datetime:
        """A moment in office hours on a day from ``first`` to ``last`` (clamped to them)."""
        days = (self.day_of(last) - self.day_of(first)).days
        day = self.day_of(first) + timedelta(days=self.rng.randint(0, max(days, 0)))
        moment = self.local(day, self.rng.randrange(*OFFICE_HOURS), self.rng.randrange(60))
        return min(max(moment, first), last)

    def after(self, moment: datetime, low: int, high: int) -> datetime:
        """Office hours, ``low`` to ``high`` days after ``moment``."""
        day = self.day_of(moment) + timedelta(days=self.rng.randint(low, high))
        return self.local(day, self.rng.randrange(*OFFICE_HOURS), self.rng.randrange(60))

    def _do(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a domain operation; a refusal is recorded (the storyline should cause none)."""
        try:
            return operation(*args, **kwargs)
        except WorkflowError as exc:
            self.refused.append(f"{self.clock.now().date()} {exc.message_en}")
            return None

    # -- reading -----------------------------------------------------------------------------

    def _active_cards(self) -> set[int]:
        query = select(instances.c.id).where(
            instances.c.process == CARD, instances.c.state == self.active
        )
        with self.engine.db.connect() as conn:
            return set(conn.scalars(query))

    def _instance(self, instance_id: int) -> Any:
        """One instance (id, business key, state, variables), or None."""
        query = select(
            instances.c.id, instances.c.business_key, instances.c.state, instances.c.variables
        ).where(instances.c.id == instance_id)
        with self.engine.db.connect() as conn:
            return conn.execute(query).first()

    def _instances(
        self,
        process: str,
        *,
        key: str | None = None,
        key_suffix: str | None = None,
        states: Iterable[str] | None = None,
    ) -> list[Any]:
        """Instances of ``process`` (id, business key, state, variables), oldest first."""
        query = select(
            instances.c.id, instances.c.business_key, instances.c.state, instances.c.variables
        ).where(instances.c.process == process)
        if key is not None:
            query = query.where(instances.c.business_key == key)
        if key_suffix is not None:
            query = query.where(instances.c.business_key.like(f"%{key_suffix}"))
        if states is not None:
            query = query.where(instances.c.state.in_(list(states)))
        with self.engine.db.connect() as conn:
            return list(conn.execute(query.order_by(instances.c.id)).all())
