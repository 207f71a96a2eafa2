"""Automatic renewal (默认续保): when a payment period opens, last year's insured renew.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (line 29): people insured in the
resident scheme whose status is normal are renewed by the system without registering again. Every
policy file names the year it renews from (``renews_from``); once its payment period has begun the
scheduler's periodic job opens a year in the definition's renewal state for every person whose
previous year is in good standing (states tagged ``renews``) and whose record is still
``insured``: once per policy (``Engine.run_once``), in chunks, idempotent.

The same job opens the year of every insured person (record ``insured``) of the region who has
never had a year there: registered or imported between two periods, when no year could open
(``open_year_on_insurance_in``, as an approval opens one: ``registered``, or paid at once when a
fund pays it all). Someone whose last year was closed when they left the scheme and who registered
again counts as such (a closed year is not ``live``: nothing renews from it). People whose last
year lapsed or was refunded are not carried: they gave that year up (NOTES.md, ``lapsed``), and a
year opens for them when they pay (``pay_for_person``).

When the job runs (``opening_due``): from the start of a policy's payment period, in it, and
after it as long as no later policy of the same region has begun its period. A scheduler down
for the whole period (or a service clock that jumped over it) thus opens the years at its first
run after it, as one run inside it would have: each year lapses at once through its own timer
(its deadline is past; the scheduler sweeps again after a periodic job opened something), is
listed unpaid with what a late payment costs, and its holder is told. A downtime never loses a
year, and the job never reaches back further than the region's latest period begun: a service
first started in 2026 opens no 2022 years. Only the policy's own late-payment rules decide
whether such a year can still be paid by its holder; a year a fund pays in full is paid as of the
moment a run in the period would have opened it (``years.OPENED_AS_OF``: the period's start, or
when the person's record took its facts after it: insured, or a reduction granted), so its
benefits start as for a payment at that moment (in the period: 1 January), even after late
payments ended: a downtime costs nobody with nothing to pay a wait, and gives nobody cover from
before they held what makes the year free.

Who gets a year at the moment ``now`` the job runs at (``insured_in_time``): people whose
insurance had begun then (their record imported, or their registration approved, by ``now``),
and, after the period, before its deadline (someone insured after the period got no year in it).
A run at a moment before a person was insured (``shebao scheduler --once --now`` in the past, a
clock set back) opens no year for them, not even one a fund pays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection

from engine.runtime import Engine
from engine.statements import history, instances
from engine.tx import Tx
from workflows.payments import open_renewals
from workflows.people import ENROLLMENT, LIVE, ON_BOOKS, PERSON
from workflows.policy import Policy
from workflows.years import (
    enrollment_key,
    open_insured_year_in,
    open_year_on_insurance_in,
    opened_as_of,
)

if TYPE_CHECKING:
    from workflows.domain import Domain

PAGE = 5000
NEW_PAGE = 1000
"""Insured records read per transaction when opening the years of people who never had one."""


def people_in_good_standing(
    engine: Engine, previous: Policy, policy: Policy, now: datetime
) -> Iterator[Mapping[str, Any]]:
    """For every ``previous`` year in good standing whose person is still insured, and was at
    ``now`` for ``policy``'s year (``insured_in_time``), the person's record's variables (the
    facts a renewed year takes: a reduction granted since counts; not the flags bound to a
    person's first year, ``years.YEAR_BOUND_FLAGS``), read a page at a time (keyset on the id)."""
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
            records = conn.execute(
                select(*RECORD_COLUMNS).where(
                    instances.c.process == PERSON,
                    instances.c.business_key.in_(numbers),
                    instances.c.state.in_(insured),
                )
            ).all()
            in_time = insured_in_time(conn, records, insured, policy, now)
            on_books = {
                r.business_key: RecordFacts(r.variables, facts_since=r.state_entered_at)
                for r in records
                if r.id in in_time
            }
        for row in rows:
            record = on_books.get(str(row.variables["id_number"]))
            if record is not None:
                yield record
        if len(rows) < PAGE:
            return
        after = rows[-1].id


class RecordFacts(dict[str, Any]):
    """A person record's variables, with when the record took them (``facts_since``: when it
    last entered its insured state: imported, approved, or back from a reduction review)."""

    def __init__(self, variables: Mapping[str, Any], *, facts_since: datetime | None) -> None:
        super().__init__(variables)
        self.facts_since = facts_since


RECORD_COLUMNS = (
    instances.c.id,
    instances.c.business_key,
    instances.c.variables,
    instances.c.created_at,
    instances.c.state_entered_at,
)
"""What the job reads of a person's record: its facts and when its insurance may have begun."""


def opening_due(domain: Domain, policy: Policy, now: datetime) -> bool:
    """Whether the periodic job opens ``policy``'s years at ``now``: its payment period has
    begun, and either it is not over or no later policy of the region has begun its period
    since (catching up a period the scheduler missed; never an older one)."""
    if now < policy.date_value("payment_period.start"):
        return False
    if now < policy.deadline_instant():
        return True
    return not any(
        later.region.key == policy.region.key
        and later.year > policy.year
        and later.date_value("payment_period.start") <= now
        for later in domain.policies.values()
    )


def insured_in_time(
    conn: Connection,
    records: Sequence[Row[Any, Any, Any, Any, Any]],
    insured: Iterable[str],
    policy: Policy,
    now: datetime,
) -> set[int]:
    """The ids of ``records`` (person records now in an ``insured`` state, ``RECORD_COLUMNS``)
    whose insurance had begun at ``now`` and before ``policy``'s deadline: what a run of the job
    inside the period, at the latest at ``now``, would have found on the books. Insurance began
    when the record first entered an ``insured`` state (imported so, or approved; a record never
    comes back once it left): a record that has been in its state since then is known at once,
    the others (back from a reduction review since, or insured late) by their history."""
    deadline = policy.deadline_instant()

    def in_time(began: datetime | None) -> bool:
        return began is not None and began <= now and began < deadline

    found = list(records)
    known = {r.id for r in found if in_time(r.state_entered_at)}
    asked = [r for r in found if r.id not in known]
    if not asked:
        return known
    began = dict(
        conn.execute(
            select(history.c.instance_id, func.min(history.c.occurred_at))
            .where(
                history.c.process == PERSON,
                history.c.instance_id.in_([r.id for r in asked]),
                history.c.to_state.in_(list(insured)),
            )
            .group_by(history.c.instance_id)
        ).all()
    )
    # no history row (removed): the record's creation, the earliest it can have begun
    return known | {r.id for r in asked if in_time(began.get(r.id, r.created_at))}


class RenewalOpener:
    """The periodic job: open the years of every policy whose payment period has begun, while
    the period is open and after it until a later policy of its region begins (``opening_due``)."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain  # its regions follow ``shebao policy reload``

    def __call__(self, engine: Engine, now: datetime) -> int:
        opened = 0
        for policy in self.domain.policies.values():
            if not opening_due(self.domain, policy, now):
                continue
            previous = self.domain.regions.policy(policy.renews_from or "")
            if previous is not None:
                renew = _opener(engine, policy, previous, now)
                opened += engine.run_once("renewals", policy.policy, renew) or 0
            # after the renewals; a job of its own, so that databases whose renewals ran before
            # it existed catch up too
            first = engine.run_once(
                "first_years", policy.policy, self._first_years(engine, policy, now)
            )
            opened += first or 0
        return opened

    def _first_years(self, engine: Engine, policy: Policy, now: datetime) -> Callable[[], int]:
        def work() -> int:
            return open_first_years(engine, self.domain, policy, now)

        return work


def open_first_years(engine: Engine, domain: Domain, policy: Policy, now: datetime) -> int:
    """Open ``policy``'s year for every insured person of its region, insured in time at
    ``now`` (``insured_in_time``), whose last year there (of the latest policy they have one
    of) is not ``live``: who has none, or whose last one was closed when they left the scheme
    (``_carried``), a page of records per transaction (keyset on the id); returns how many
    opened. Idempotent: a person with a live year is skipped."""
    insured = engine.definition(PERSON).tagged(ON_BOOKS)
    live = engine.definition(ENROLLMENT).tagged(LIVE)
    region = policy.region.key
    years = {p.policy: p.year for p in domain.policies.values() if p.region.key == region}
    policies = list(years)
    after, opened = 0, 0
    while True:
        with engine.db.connect() as conn:
            rows = conn.execute(
                select(*RECORD_COLUMNS)
                .where(
                    instances.c.process == PERSON,
                    instances.c.state.in_(insured),
                    instances.c.id > after,
                )
                .order_by(instances.c.id)
                .limit(NEW_PAGE)
            ).all()
            ours = [r for r in rows if r.variables.get("region") == region]
            in_time = insured_in_time(conn, ours, insured, policy, now) if ours else set()
            people = [r for r in ours if r.id in in_time]
            keys = [enrollment_key(r.business_key, p) for r in people for p in policies]
            had = select(instances.c.business_key, instances.c.state).where(
                instances.c.process == ENROLLMENT, instances.c.business_key.in_(keys)
            )
            found = [(str(k), str(s)) for (k, s) in conn.execute(had)] if keys else []
        enrolled = _carried(found, years, live)
        first = [
            RecordFacts(r.variables, facts_since=r.state_entered_at)
            for r in people
            if r.business_key not in enrolled
        ]
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


def _opener(engine: Engine, policy: Policy, previous: Policy, now: datetime) -> Callable[[], int]:
    def work() -> int:
        people = people_in_good_standing(engine, previous, policy, now)
        # after the period, as the run at its start would have (the renewed were insured by
        # then: in good standing in the previous year; one insured again in the period got the
        # year from the door that insured them), not before each record took its facts
        late = engine.clock.now() >= policy.deadline_instant()
        start = policy.date_value("payment_period.start")
        return open_renewals(engine, policy, people, as_of=start if late else None)

    return work


def _open_each(
    engine: Engine,
    tx: Tx,
    *,
    domain: Domain,
    policy: Policy,
    people: list[RecordFacts],
) -> int:
    """Inside ``tx``, open the year an approval would open now for each of ``people`` (their
    records' variables, and since when the records hold them): ``policy``'s; after its period
    (the job catching it up), ``policy``'s all the same, as of when a run in the period would
    have opened it (its start, or when the record took its facts after it:
    ``years.OPENED_AS_OF``); a live year already: skipped."""
    now = engine.clock.now()
    start = policy.date_value("payment_period.start")
    count = 0
    for person in people:
        if now >= policy.deadline_instant():
            as_of = opened_as_of(start, person.facts_since)
            opened = open_insured_year_in(
                engine, tx, domain, person, policy, "renewal", "first_year", as_of=as_of
            )
        else:
            # only=policy: when another year of the region is the one open now, none opens
            opened = open_year_on_insurance_in(
                engine, tx, domain, person, "renewal", "first_year", only=policy
            )
        if opened:
            count += 1
    return count
