"""Automatic renewal (默认续保): when a payment period opens, last year's insured renew.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (line 29): people insured in the
resident scheme whose status is normal are renewed by the system without registering again. Every
policy file names the year it renews from (``renews_from``); once its payment period has begun (and
until it ends) the scheduler's periodic job opens a year in the definition's renewal state for
every person whose previous year is in good standing (states tagged ``renews``) and whose record is
still ``insured``: once per policy (``Engine.run_once``), in chunks, idempotent. A scheduler that
was down when the period began does it at its first tick after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.runtime import Engine
from engine.statements import instances
from workflows.payments import open_renewals
from workflows.people import ENROLLMENT, ON_BOOKS, PERSON
from workflows.policy import Policy

if TYPE_CHECKING:
    from workflows.domain import Domain

PAGE = 5000


def people_in_good_standing(engine: Engine, previous: Policy) -> Iterator[Mapping[str, Any]]:
    """The variables of every ``previous`` year in good standing whose person is still insured,
    read a page at a time (keyset on the id)."""
    renews = engine.definition(ENROLLMENT).tagged("renews")
    insured = engine.definition(PERSON).tagged(ON_BOOKS)
    after = 0
    while True:
        query = (
            select(instances.c.id, instances.c.variables)
            .where(
                instances.c.process == ENROLLMENT,
                instances.c.business_key.like(f"%:{previous.policy}"),
                instances.c.state.in_(renews),
                instances.c.id > after,
            )
            .order_by(instances.c.id)
            .limit(PAGE)
        )
        with engine.db.connect() as conn:
            rows = conn.execute(query).all()
            numbers = [str(r.variables["id_number"]) for r in rows]
            on_books = {
                key
                for (key,) in conn.execute(
                    select(instances.c.business_key).where(
                        instances.c.process == PERSON,
                        instances.c.business_key.in_(numbers),
                        instances.c.state.in_(insured),
                    )
                )
            }
        for row in rows:
            if str(row.variables["id_number"]) in on_books:
                yield row.variables
        if len(rows) < PAGE:
            return
        after = rows[-1].id


class RenewalOpener:
    """The periodic job: open the renewals of every policy whose payment period has begun."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain  # its regions follow ``shebao policy reload``

    def __call__(self, engine: Engine, now: datetime) -> int:
        opened = 0
        for policy in self.domain.policies.values():
            previous = self.domain.regions.policy(policy.renews_from or "")
            if previous is None:
                continue
            if not policy.date_value("payment_period.start") <= now < policy.deadline_instant():
                continue
            done = engine.run_once("renewals", policy.policy, _opener(engine, policy, previous))
            opened += done or 0
        return opened


def _opener(engine: Engine, policy: Policy, previous: Policy) -> Callable[[], int]:
    def work() -> int:
        return open_renewals(engine, policy, people_in_good_standing(engine, previous))

    return work
