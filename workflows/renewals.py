"""Automatic renewal (默认续保): when a payment period opens, last year's insured renew.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (line 29): people insured in the
resident scheme whose status is normal are renewed by the system without registering again. Every
policy file names the year it renews from (``renews_from``); once its payment period has begun (and
until it ends) the scheduler's periodic job opens a year in the definition's renewal state for
every person whose previous year is in good standing (states tagged ``renews``) and whose record is
still ``insured``: once per policy (``Engine.run_once``), in chunks, idempotent. A scheduler that
was down when the period began does it at its first tick after.

The same job opens the year of every insured person (record ``insured``) of the region who has
never had a year there: registered or imported between two periods, when no year could open
(``open_year_on_insurance_in``, as an approval opens one: ``registered``, or paid at once when a
fund pays it all). Someone whose last year was closed when they left the scheme and who registered
again counts as such (a closed year is not ``live``: nothing renews from it). People whose last
year lapsed or was refunded are not carried: they gave that year up (NOTES.md, ``lapsed``), and a
year opens for them when they pay (``pay_for_person``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.runtime import Engine
from engine.statements import instances
from engine.tx import Tx
from workflows.payments import open_renewals
from workflows.people import ENROLLMENT, LIVE, ON_BOOKS, PERSON
from workflows.policy import Policy
from workflows.years import enrollment_key, open_year_on_insurance_in

if TYPE_CHECKING:
    from workflows.domain import Domain

PAGE = 5000
NEW_PAGE = 1000
"""Insured records read per transaction when opening the years of people who never had one."""


def people_in_good_standing(engine: Engine, previous: Policy) -> Iterator[Mapping[str, Any]]:
    """For every ``previous`` year in good standing whose person is still insured, the person's
    record's variables (the facts a renewed year takes: a reduction granted since counts; not the
    flags bound to a person's first year, ``years.YEAR_BOUND_FLAGS``), read a page at a time
    (keyset on the id)."""
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
                key: facts
                for (key, facts) in conn.execute(
                    select(instances.c.business_key, instances.c.variables).where(
                        instances.c.process == PERSON,
                        instances.c.business_key.in_(numbers),
                        instances.c.state.in_(insured),
                    )
                )
            }
        for row in rows:
            record = on_books.get(str(row.variables["id_number"]))
            if record is not None:
                yield record
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
            if not policy.date_value("payment_period.start") <= now < policy.deadline_instant():
                continue
            previous = self.domain.regions.policy(policy.renews_from or "")
            if previous is not None:
                done = engine.run_once("renewals", policy.policy, _opener(engine, policy, previous))
                opened += done or 0
            # after the renewals; a job of its own, so that databases whose renewals ran before
            # it existed catch up too
            first = engine.run_once("first_years", policy.policy, self._first_years(engine, policy))
            opened += first or 0
        return opened

    def _first_years(self, engine: Engine, policy: Policy) -> Callable[[], int]:
        def work() -> int:
            return open_first_years(engine, self.domain, policy)

        return work


def open_first_years(engine: Engine, domain: Domain, policy: Policy) -> int:
    """Open ``policy``'s year for every insured person of its region whose last year there (of
    the latest policy they have one of) is not ``live``: who has none, or whose last one was
    closed when they left the scheme (``_carried``), a page of records per transaction (keyset
    on the id); returns how many opened. Idempotent: a person with a live year is skipped."""
    insured = engine.definition(PERSON).tagged(ON_BOOKS)
    live = engine.definition(ENROLLMENT).tagged(LIVE)
    region = policy.region.key
    years = {p.policy: p.year for p in domain.policies.values() if p.region.key == region}
    policies = list(years)
    after, opened = 0, 0
    while True:
        with engine.db.connect() as conn:
            rows = conn.execute(
                select(instances.c.id, instances.c.business_key, instances.c.variables)
                .where(
                    instances.c.process == PERSON,
                    instances.c.state.in_(insured),
                    instances.c.id > after,
                )
                .order_by(instances.c.id)
                .limit(NEW_PAGE)
            ).all()
            people = [r for r in rows if r.variables.get("region") == region]
            keys = [enrollment_key(r.business_key, p) for r in people for p in policies]
            had = select(instances.c.business_key, instances.c.state).where(
                instances.c.process == ENROLLMENT, instances.c.business_key.in_(keys)
            )
            found = [(str(k), str(s)) for (k, s) in conn.execute(had)] if keys else []
        enrolled = _carried(found, years, live)
        first = [dict(r.variables) for r in people if r.business_key not in enrolled]
        if first:
            opened += engine.transaction(
                partial(_open_each, engine, domain=domain, policy=policy, people=first)
            )
        if len(rows) < NEW_PAGE:
            return opened
        after = rows[-1].id


def _carried(
    found: Iterable[tuple[str, str]], years: Mapping[str, int], live: Iterable[str]
) -> set[str]:
    """The ID numbers whose last year (of the latest policy year among ``found``, their years'
    business keys and states; ``years``: policy id -> year) is in a ``live`` state: theirs, to be
    renewed, paid or given up; an earlier year does not count (registering again starts anew)."""
    alive = frozenset(live)
    last: dict[str, tuple[int, bool]] = {}
    for key, state in found:
        number, policy_id = key.split(":", 1)
        year, is_live = years[policy_id], state in alive
        seen = last.get(number)
        if seen is None or year > seen[0]:
            last[number] = (year, is_live)
        elif year == seen[0]:
            last[number] = (year, seen[1] or is_live)
    return {number for number, (_, is_live) in last.items() if is_live}


def _opener(engine: Engine, policy: Policy, previous: Policy) -> Callable[[], int]:
    def work() -> int:
        return open_renewals(engine, policy, people_in_good_standing(engine, previous))

    return work


def _open_each(
    engine: Engine, tx: Tx, *, domain: Domain, policy: Policy, people: list[dict[str, Any]]
) -> int:
    """Inside ``tx``, open the year an approval would open now for each of ``people`` (their
    records' variables): ``policy``'s, as its period is open; a live year already: skipped."""
    count = 0
    for person in people:
        # only=policy: when another year of the region is the one open now, none opens
        if open_year_on_insurance_in(
            engine, tx, domain, person, "renewal", "first_year", only=policy
        ):
            count += 1
    return count
