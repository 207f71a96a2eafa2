"""The staff's daily inbox work: every working day clerks and tellers look at their inboxes, and a
task that has waited ``MIN_TASK_AGE`` is done that day with its kind's probability, at some time in
office hours, so recent work, and some older work, is still open at the demo date.

Tellers activate the cards of holders who come in and close bank accounts; social-security clerks
resolve extra-card reviews (keeping the oldest usable card); medical-insurance clerks verify
registrations (an approval leads to a payment and a card application) and review refund requests.
``Staff`` is the layer over ``Residents`` and ``Years`` that does it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.errors import TaskNotOpen, WorkflowError
from engine.runtime import Engine
from engine.statements import instances, tasks
from workflows.cards import PROCESS as CARD
from workflows.demo.parameters import (
    APPLIES_FOR_CARD,
    HOLDER_COMES_IN,
    MIN_TASK_AGE,
    OFFICE_HOURS,
    PAYS_AFTER_REGISTRATION,
    REFUND_APPROVED,
    REGISTRATION_APPROVED,
    STAFF_PICKS_UP,
)
from workflows.demo.residents import Residents
from workflows.demo.years import Years

if TYPE_CHECKING:
    from workflows.domain import Domain


class Staff(Residents, Years):
    """The staff's decisions on their tasks (see the module docstring)."""

    def __init__(
        self, engine: Engine, domain: Domain, *, people: int, at: datetime, seed: int
    ) -> None:
        super().__init__(engine, domain, people=people, at=at, seed=seed)
        # Task name -> (the chance it is done on a working day, who does it and how).
        self.handlers: dict[str, tuple[float, Callable[[Any], None]]] = {
            "activate_card": (HOLDER_COMES_IN, self._holder_comes_in),
            "close_bank_account": (STAFF_PICKS_UP, self._close_account),
            "resolve_extra_cards": (STAFF_PICKS_UP, self._resolve_extra_cards),
            "verify_residence": (STAFF_PICKS_UP, self._verify_residence),
            "review_refund": (STAFF_PICKS_UP, self._review_refund),
        }

    def _rounds(self) -> None:
        """Staff look at their inboxes (working days): each task that waited ``MIN_TASK_AGE``
        is done today with its kind's probability, at some time in office hours."""
        now = self.clock.now()
        if now.astimezone(self.zone).weekday() < 5:
            query = (
                select(
                    tasks.c.id,
                    tasks.c.name,
                    tasks.c.scope,
                    tasks.c.instance_id,
                    instances.c.business_key,
                    instances.c.variables,
                )
                .join(instances, instances.c.id == tasks.c.instance_id)
                .where(tasks.c.status == "open", tasks.c.created_at <= now - MIN_TASK_AGE)
                .order_by(tasks.c.id)
            )
            with self.engine.db.connect() as conn:
                waiting = conn.execute(query).all()
            closing = self.local(self.day_of(now), OFFICE_HOURS[1])
            for task in waiting:
                chance, handler = self.handlers.get(task.name, (0.0, None))
                if handler is not None and self.rng.random() < chance:
                    self.later(self.some_time(now, closing), handler, task)
        self.later(now + timedelta(days=1), self._rounds)

    def _complete(
        self, task: Any, actor: str, outcome: str, data: dict[str, Any] | None = None
    ) -> bool:
        try:
            self.engine.complete_task(task.id, actor=actor, data=data or {}, outcome=outcome)
        except TaskNotOpen:
            return False  # its instance moved on since the morning (a timer, another event)
        except WorkflowError as exc:
            self.refused.append(f"{self.clock.now().date()} task {task.id}: {exc.message_en}")
            return False
        return True

    def _holder_comes_in(self, task: Any) -> None:
        """The holder comes to the bank with the ID used to apply; the teller activates."""
        resident = self.by_number.get(str(task.variables.get("id_number")))
        if resident is not None and resident.collects:
            data = {"presented_id_number": resident.id_number}
            self._complete(task, f"teller_{task.scope}", "activate", data)

    def _close_account(self, task: Any) -> None:
        self._complete(task, f"teller_{task.scope}", "close_bank_account")

    def _resolve_extra_cards(self, task: Any) -> None:
        cards = self._instances(CARD, key=str(task.variables["card_key"]))
        usable = [c.id for c in cards if c.state in self.usable]
        if usable:  # keep the oldest usable card: the one used for local services
            self._complete(task, f"ss_{task.scope}", "resolve", {"keep_card_id": usable[0]})

    def _verify_residence(self, task: Any) -> None:
        resident = self.by_number[str(task.variables["id_number"])]
        actor = f"mi_{task.scope}"
        data = {"document_kind": resident.residence}
        if self.rng.random() >= REGISTRATION_APPROVED:
            reason = "证件与申报信息不一致 / the document does not match the declaration"
            self._complete(task, actor, "reject_registration", {"reason": reason})
            return
        if not self._complete(task, actor, "approve_registration", data):
            return
        now = self.clock.now()
        if self.rng.random() < PAYS_AFTER_REGISTRATION:
            self.later(self.after(now, 1, 10), self._pay_as_newcomer, resident)
        if self.rng.random() < APPLIES_FOR_CARD:
            self.later(self.after(now, 2, 20), self._apply, resident)

    def _review_refund(self, task: Any) -> None:
        actor = f"mi_{task.scope}"
        if self.rng.random() < REFUND_APPROVED:
            self._complete(task, actor, "approve_refund", {"note": "符合退费条件 / refund due"})
        else:
            reason = "职工医保参保时间不重叠 / the employee insurance does not overlap"
            self._complete(task, actor, "reject_refund", {"reason": reason})
