"""What the residents do, and what happens to their cards: the import of the existing population
with their cards (before the first period), registrations, card applications (at the counter,
online, at a fast-issuance outlet) and the card's production and notification, losses and
reissues, the replacement and the loss of the last weeks at every demo bank, and the extra cards
the province's one-card check finds.

``Residents`` is the stage's layer of these steps; ``story`` schedules them, ``staff`` calls
``_apply`` when a registration is approved.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine import queries
from engine.statements import instances
from workflows.cards import FAST_ISSUANCE, apply_for_card, card_key
from workflows.cards import PROCESS as CARD
from workflows.demo.parameters import (
    APPLIES_FOR_CARD,
    CARD_AWAITING_COLLECTION,
    CARD_REPORTED_LOST,
    EXTRA_CARD,
    FACTORY,
    FAST_ISSUANCE_SHARE,
    IMPORT,
    NO_CARD_YET,
    ONLINE_SHARE,
    PRODUCTION_DAYS,
    REISSUE_AFTER_LOSS,
)
from workflows.demo.population import Resident, import_row
from workflows.demo.stage import Stage
from workflows.extra_cards import PROCESS as CARD_REVIEW
from workflows.imports import import_people
from workflows.people import Registration, register_person
from workflows.regions import RegionInfo


class Residents(Stage):
    """The residents' steps and their cards' (see the module docstring)."""

    def _import_population(self) -> None:
        rng, now = self.rng, self.clock.now()
        rows: list[tuple[Resident, dict[str, Any]]] = []
        for resident in self.residents:
            if resident.newcomer:
                continue
            draw = rng.random()
            if draw < NO_CARD_YET:
                state = None
                if rng.random() < APPLIES_FOR_CARD:
                    self.later(self.after(now, 10, 400), self._apply, resident)
            elif draw < NO_CARD_YET + CARD_AWAITING_COLLECTION:
                state = self.awaiting
            elif draw < NO_CARD_YET + CARD_AWAITING_COLLECTION + CARD_REPORTED_LOST:
                state = self.lost
                if rng.random() < REISSUE_AFTER_LOSS:
                    self.later(self.after(now, 3, 40), self._apply, resident)
            else:
                state = self.active
            rows.append((resident, import_row(resident, state, resident.bank, self.card_numbers)))
            if state == self.active and rng.random() < EXTRA_CARD:
                other = self._other_bank(resident)
                rows.append((resident, import_row(resident, state, other, self.card_numbers)))
        report = import_people(
            self.engine,
            self.domain,
            ((i + 1, row) for i, (_, row) in enumerate(rows)),
            actor=IMPORT,
        )
        for (resident, _), result in zip(rows, report.results, strict=True):
            if result.status == "rejected":
                self.refused.append(f"import line {result.line}: {result.reason}")
            elif result.card_id is not None and resident.card_id is None:
                resident.card_id = result.card_id

    def _other_bank(self, resident: Resident) -> str:
        banks = [b for b in self.banks[resident.region] if b != resident.bank]
        return self.rng.choice(banks) if banks else resident.bank

    def _register(self, resident: Resident) -> None:
        registration = Registration(
            id_number=resident.id_number,
            name=resident.name,
            region=resident.region,
            residence=resident.residence,
            household=resident.household,
            reduction_categories=resident.reductions,
        )
        self._do(register_person, self.engine, self.domain, registration, actor="counter")

    def _apply(
        self,
        resident: Resident,
        channel: str | None = None,
        produced: datetime | None = None,
        notified: datetime | None = None,
    ) -> None:
        key = card_key(resident.id_number, resident.region_code)
        if any(c.state in self.usable for c in self._instances(CARD, key=key)):
            return  # one person one card per province: they still hold one
        if channel is None:
            draw = self.rng.random()
            channel = (
                FAST_ISSUANCE
                if draw < FAST_ISSUANCE_SHARE
                else "online"
                if draw < FAST_ISSUANCE_SHARE + ONLINE_SHARE
                else "counter"
            )
        done = self._do(
            apply_for_card,
            self.engine,
            self.domain.regions,
            id_number=resident.id_number,
            channel=channel,
            bank=resident.bank,
            region_code=resident.region_code,
            actor=f"channel:{channel}",
        )
        if done is None:
            return
        resident.card_id = done.instance_id
        if channel == FAST_ISSUANCE:
            return
        now = self.clock.now()
        produced = produced or self.after(now, *PRODUCTION_DAYS)
        notified = notified or self.after(produced, 1, 3)
        self.later(produced, self._card_event, done.instance_id, "produce", FACTORY)
        self.later(notified, self._card_event, done.instance_id, "notify_holder", "bank")

    def _card_event(self, card_id: int, event: str, actor: str) -> None:
        self._do(self.engine.fire, card_id, event, actor=actor)

    def _card_state(self, resident: Resident) -> str | None:
        card = None if resident.card_id is None else self._instance(resident.card_id)
        return None if card is None else str(card.state)

    def _loss(self, resident: Resident, by_chance: bool) -> bool:
        """The holder reports the active card lost by 12333 (a temporary report); by chance (not
        one of the last weeks' stories), they come to the bank in person a few days later to
        make it formal, and apply for a reissue after that. Otherwise the report lapses."""
        if by_chance and resident.id_number in self.busy:
            return False
        if self._card_state(resident) != self.active:
            return False
        assert resident.card_id is not None
        done = self._do(self.engine.fire, resident.card_id, "report_loss", actor="channel:12333")
        if done is not None and by_chance and self.rng.random() < REISSUE_AFTER_LOSS:
            self.later(self.after(self.clock.now(), 1, 3), self._formal_loss, resident, True)
        return done is not None

    def _formal_loss(self, resident: Resident, reissue_later: bool, *apply: Any) -> bool:
        """The holder comes to the bank with their ID: the teller completes the card's task and
        the loss is formal (正式挂失). Then the holder applies for a reissue (补领): a few days
        later (``reissue_later``) or in the same visit (with ``apply``'s channel and dates)."""
        if self._card_state(resident) != self.loss_reported:
            return False
        assert resident.card_id is not None
        [task] = queries.tasks_of(self.engine.db, resident.card_id, "open")
        done = self._do(
            self.engine.complete_task,
            task["id"],
            actor=f"teller_{task['scope']}",
            data={"presented_id_number": resident.id_number},
            outcome="report_loss_formally",
        )
        if done is None:
            return False
        if reissue_later:
            self.later(self.after(self.clock.now(), 1, 10), self._apply, resident)
        else:
            self._apply(resident, *apply)
        return True

    def _holders(self, region: RegionInfo, bank: str) -> list[Resident]:
        """Residents of ``region`` whose current card is active at ``bank``, free for a story."""
        active = self._active_cards()
        return [
            r
            for r in self.residents
            if r.region == region.key
            and r.bank == bank
            and r.card_id in active
            and r.id_number not in self.busy
        ]

    def _replacement_waiting(self, region: RegionInfo, bank: str) -> None:
        """A holder reports a loss, makes it formal at the bank the next day and applies there
        and then; the new card waits at the bank."""
        holders = self._holders(region, bank)
        if not holders:
            return
        resident = self.rng.choice(holders)
        self.busy.add(resident.id_number)
        if self._loss(resident, False):
            self.later(
                self.after(self.clock.now(), 1, 1),
                self._formal_loss,
                resident,
                False,
                "counter",
                self.at - timedelta(days=7),
                self.at - timedelta(days=3),
            )

    def _fresh_loss(self, region: RegionInfo, bank: str) -> None:
        """One holder comes to the bank and reports the card lost formally there and then (its
        account waits to be closed); another reports a loss by 12333 (temporary, its formal
        report waits at the bank)."""
        holders = self._holders(region, bank)
        if holders:
            resident = self.rng.choice(holders)
            self.busy.add(resident.id_number)
            self._do(
                self.engine.fire,
                resident.card_id,
                "report_loss_formally",
                actor=f"teller_{bank}",
                data={"presented_id_number": resident.id_number},
            )
        holders = self._holders(region, bank)
        if holders:
            resident = self.rng.choice(holders)
            self.busy.add(resident.id_number)
            self._loss(resident, False)

    def _extra_cards_found(
        self, regions: list[RegionInfo], share: float, at_least_one: bool
    ) -> None:
        """The province's one-card check finds cards issued elsewhere to people who hold one
        here: imported, each opens an extra-card review (``at_least_one`` per region)."""
        active = self._active_cards()
        query = select(instances.c.business_key).where(
            instances.c.process == CARD_REVIEW, instances.c.state.in_(self.live_review)
        )
        with self.engine.db.connect() as conn:
            reviewed = set(conn.scalars(query))
        rows: list[tuple[int, dict[str, Any]]] = []
        for region in regions:
            holders = [
                r
                for r in self.residents
                if r.region == region.key
                and r.card_id in active
                and r.id_number not in self.busy
                and card_key(r.id_number, r.region_code) not in reviewed
            ]
            found = [r for r in holders if self.rng.random() < share]
            if at_least_one and not found and holders:
                found = [self.rng.choice(holders)]
            for resident in found:
                self.busy.add(resident.id_number)
                bank = self._other_bank(resident)
                row = import_row(resident, self.active, bank, self.card_numbers)
                rows.append((len(rows) + 1, row))
        report = import_people(self.engine, self.domain, rows, actor=IMPORT)
        for result in report.rejected:
            self.refused.append(f"extra card, line {result.line}: {result.reason}")
