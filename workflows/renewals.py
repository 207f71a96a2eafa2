"""Automatic renewal (默认续保): when a payment period opens, last year's insured renew.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (line 29): people insured in the
resident scheme whose status is normal are renewed by the system without registering again. A
policy file names the year it renews from (``renews_from``); when its payment period starts, the
scheduler's periodic job opens a ``renewal_pending`` year for every person whose previous year was
paid (in the period or late), once per policy, in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy import select

from engine.runtime import Engine
from engine.statements import instances
from workflows.enrollment import EnrollmentRules
from workflows.payments import Person, open_renewals
from workflows.policy import Policy

GOOD_STANDING = ("deducted", "paid_late")
PAGE = 5000


def people_in_good_standing(engine: Engine, previous: Policy) -> Iterator[Person]:
    """Everyone whose ``previous`` year is paid, read a page at a time (keyset on the id)."""
    after = 0
    while True:
        query = (
            select(instances.c.id, instances.c.variables)
            .where(
                instances.c.process == "enrollment",
                instances.c.business_key.like(f"%:{previous.policy}"),
                instances.c.state.in_(GOOD_STANDING),
                instances.c.id > after,
            )
            .order_by(instances.c.id)
            .limit(PAGE)
        )
        with engine.db.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            v = row.variables
            yield Person(
                str(v["id_number"]),
                str(v.get("region", "")),
                tuple(v.get("reduction_categories", ())),
                tuple(v.get("flags", ())),
            )
        if len(rows) < PAGE:
            return
        after = rows[-1].id


class RenewalOpener:
    """The periodic job: open the renewals of every policy whose payment period has begun."""

    def __init__(self, rules: EnrollmentRules) -> None:
        self.rules = rules  # its policies follow ``shebao policy reload``

    def __call__(self, engine: Engine, now: datetime) -> int:
        opened = 0
        policies = self.rules.policies
        for policy in policies.values():
            previous = policies.get(policy.renews_from or "")
            if previous is None:
                continue
            if not policy.date_value("payment_period.start") <= now < policy.deadline_instant():
                continue
            done = engine.run_once(
                "renewals", policy.policy, self._opener(engine, policy, previous)
            )
            opened += done or 0
        return opened

    @staticmethod
    def _opener(engine: Engine, policy: Policy, previous: Policy) -> Callable[[], int]:
        def work() -> int:
            return open_renewals(engine, policy, people_in_good_standing(engine, previous))

        return work
