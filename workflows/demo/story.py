"""The story's timeline: ``seed_demo`` and the ``Simulation`` it runs.

The simulation plans the story (the import before the first period; per policy the years opened,
the deduction batches, the late payers and the refund requests; newcomers' registrations and
chance losses; the province's check; the last weeks' work for every demo account), then runs its
agenda in time order on the simulated clock, with the real timer sweep and the periodic jobs once
a day and the staff's rounds every morning, and sweeps once more at the demo date.
"""

from __future__ import annotations

import heapq
import time as timing
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.runtime import Engine
from engine.scheduler import run_periodic
from workflows.demo.parameters import (
    DEDUCTION_BATCHES,
    DEFAULT_PEOPLE,
    DEFAULT_SEED,
    DEMO_AT,
    EXTRA_CARD_FOUND,
    LOSES_CARD,
    LOSS_WINDOW,
    PROVINCIAL_CHECK,
    REFUND_WINDOW,
    REGISTRATION_WINDOW,
    ROUNDS_AT,
)
from workflows.demo.staff import Staff
from workflows.demo.summary import DemoSummary, summarise
from workflows.policy import Policy

if TYPE_CHECKING:
    from workflows.domain import Domain


def seed_demo(
    engine: Engine,
    domain: Domain,
    *,
    people: int = DEFAULT_PEOPLE,
    at: datetime = DEMO_AT,
    seed: int = DEFAULT_SEED,
) -> DemoSummary:
    """Simulate the service from ``story_start`` up to ``at`` with ``people`` residents.

    Args:
        engine: the service's engine (its database, definitions and registry; its own clock is
            left alone: the simulation runs an engine of its own on a simulated clock).
        domain: the domain whose regions and policies the story follows.
        people: how many residents (alternating between the regions).
        at: the demo date (aware), at least ``MIN_SPAN`` after ``story_start``.
        seed: the random generator's seed; the same seed gives the same data.

    Raises:
        ValueError: as ``check_demo``.
    """
    began = timing.perf_counter()
    simulation = Simulation(engine, domain, people=people, at=at, seed=seed)
    simulation.run()
    return simulation.summary(timing.perf_counter() - began)


class Simulation(Staff):
    """The story's agenda, run in time order on a simulated clock (see the package docstring)."""

    def run(self) -> None:
        self._plan()
        first_day = self.day_of(self.start) + timedelta(days=1)
        self.later(self.local(first_day, 0), self._sweep)
        self.later(self.local(first_day, ROUNDS_AT.hour, ROUNDS_AT.minute), self._rounds)
        while self.agenda:
            moment, _, action = heapq.heappop(self.agenda)
            self.clock.set(moment)
            action()
        self.clock.set(self.at)
        self._sweep_now()

    def summary(self, seconds: float) -> DemoSummary:
        return summarise(
            self.engine,
            at=self.at,
            banks=self.banks,
            regions=self.regions,
            refused=self.refused,
            seconds=seconds,
        )

    # -- the plan --------------------------------------------------------------------------

    def _plan(self) -> None:
        rng = self.rng
        self.later(self.start, self._import_population)
        for policy in sorted(self.domain.policies.values(), key=lambda p: p.policy):
            self._plan_year(policy)
        window = max(self.start, self.at - REGISTRATION_WINDOW)
        for resident in self.residents:
            if resident.newcomer and resident.id_number not in self.busy:
                self.later(
                    self.some_time(window, self.at - timedelta(days=3)), self._register, resident
                )
            elif not resident.newcomer and rng.random() < LOSES_CARD:
                first = max(self.start + timedelta(days=7), self.at - LOSS_WINDOW)
                self.later(self.some_time(first, self.at), self._loss, resident, True)
        self.later(
            self.at - PROVINCIAL_CHECK,
            self._extra_cards_found,
            self.regions,
            EXTRA_CARD_FOUND,
            False,
        )
        self._plan_last_weeks()

    def _plan_year(self, policy: Policy) -> None:
        opens = policy.date_value("payment_period.start")
        if not self.start <= opens <= self.at:
            return
        deadline = policy.deadline_instant()
        self.later(self.local(self.day_of(opens) + timedelta(days=1)), self._open_years, policy)
        for n, offset in enumerate(DEDUCTION_BATCHES):
            run = self.local(self.day_of(opens + offset), 10)
            if run < deadline:
                self.later(run, self._deduction_batch, policy, n == 0)
        if policy.late_payment.accepted:
            self.later(self.local(self.day_of(deadline), 9), self._late_payers, policy)
        if policy.refund.duplicate_with_employee_insurance is not None:
            until = policy.date_value("refund.duplicate_with_employee_insurance.accepted_until")
            self.later(self.local(self.day_of(until - REFUND_WINDOW)), self._refunds, policy)

    def _plan_last_weeks(self) -> None:
        """Fresh work for every demo account at the demo date (see the package docstring)."""
        for region in self.regions:
            for bank in self.banks[region.key]:
                self.later(self.at - timedelta(days=20), self._replacement_waiting, region, bank)
                self.later(self.at - timedelta(days=2), self._fresh_loss, region, bank)
            newcomer = self.last_newcomers[region.key]
            self.later(self.at - timedelta(days=2), self._register, newcomer)
            self.later(self.at - timedelta(days=2), self._fresh_refund, region)
            self.later(self.at - timedelta(days=2), self._extra_cards_found, [region], 0.0, True)

    # -- the clock's work ------------------------------------------------------------------

    def _sweep_now(self) -> None:
        """What ``engine.scheduler.run_once`` does (the due timers, then the periodic jobs),
        with one sweeper kept for the whole simulation."""
        now = self.clock.now()
        self.sweeper.sweep(now)
        run_periodic(self.engine, now)

    def _sweep(self) -> None:
        self._sweep_now()
        self.later(self.clock.now() + timedelta(days=1), self._sweep)
