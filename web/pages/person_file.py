"""The person page's read: one person's record, cards, policy years with their payments, open
tasks and the history of each, as the staff member asking may see them (``web.pages.search_queries``).
A year's amounts (due, paid, refunded) are those the API's year list answers
(``payments.enrollment_years``), from the same summary of the same row.

Reads only, by index: the person by id, then the exact business keys of their cards, reviews and
years (``search_queries.keys_of_person``), their open tasks and histories by instance id.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy import Engine as SqlEngine

from engine import statements as st
from engine.specs import ProcessDefinition
from web.pages import search_queries as sq
from web.staff import Staff
from workflows.payments import year_summary  # what the API's year list says of a year
from workflows.regions import Regions
from workflows.years import ended_year_refusal


class NotAllowed(Exception):
    """The record is outside what the user may see (HTTP 404, as for an unknown one)."""


@dataclass(frozen=True)
class Year:
    """One policy year of the person as the API's year list tells it (``payments.YearSummary``):
    what is due, what was paid, what was given back and when."""

    row: dict[str, Any]
    year: int | None
    paid: bool
    ended: bool
    """Refunded, or closed when the person left the scheme: nothing is due."""
    refunded: bool
    amount_due: Decimal | None
    amount_paid: Decimal | None
    paid_at: datetime | None
    payer_masked: str | None
    channel: str | None
    refund_amount: Decimal | None
    refunded_at: datetime | None


@dataclass(frozen=True)
class PersonFile:
    person: dict[str, Any]
    cards: list[dict[str, Any]]
    years: list[Year]
    reviews: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    histories: dict[int, list[dict[str, Any]]]


def instance(conn: Connection, instance_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(st.instances).where(st.instances.c.id == instance_id)).first()
    return dict(row._mapping) if row else None


def histories(conn: Connection, ids: Collection[int]) -> dict[int, list[dict[str, Any]]]:
    """The transitions of each instance, oldest first (one query)."""
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return found
    h = st.history
    query = select(h).where(h.c.instance_id.in_(list(ids))).order_by(h.c.instance_id, h.c.id)
    for row in conn.execute(query):
        found[row.instance_id].append(dict(row._mapping))
    return found


def year_of(
    row: dict[str, Any], regions: Regions, enrollment: ProcessDefinition, now: datetime
) -> Year:
    """A year's payment facts as the API's year list has them: its summary from its variables, its
    region's policy and its state's tags in the latest ``enrollment`` definition."""
    policy = regions.policy(str((row["variables"] or {}).get("policy", "")))
    spec = enrollment.states.get(row["state"])
    ended = ended_year_refusal(spec.tags if spec is not None else ()) is not None
    if policy is None:  # a policy the service does not know: nothing to tell
        return _untold(row, None, ended)
    try:
        summary = year_summary(
            row["id"], row["state"], row["variables"] or {}, policy, enrollment, now
        )
    except ValueError:  # variables the policy cannot read: the year can no longer be paid
        return _untold(row, policy.year, ended)
    return Year(
        row=row,
        year=summary.year,
        paid=summary.paid,
        ended=ended,
        refunded=summary.refunded,
        amount_due=summary.amount_due,
        amount_paid=summary.amount_paid,
        paid_at=summary.paid_at,
        payer_masked=summary.payer_masked,
        channel=summary.channel,
        refund_amount=summary.refund_amount,
        refunded_at=summary.refunded_at,
    )


def _untold(row: dict[str, Any], year: int | None, ended: bool) -> Year:
    """A year whose amounts cannot be told: nothing paid, refunded or payable shown."""
    return Year(row, year, False, ended, False, None, None, None, None, None, None, None)


def person_file(
    db: SqlEngine,
    regions: Regions,
    user: Staff,
    person_id: int,
    *,
    enrollment: ProcessDefinition,
    now: datetime,
) -> PersonFile | None:
    """The person ``person_id`` as ``user`` may see them; None when no such person.
    ``enrollment``: the latest definition of a year, whose tags say what a state owes.

    Raises:
        NotAllowed: the user may not read this person's record.
    """
    with db.connect() as conn:
        person = instance(conn, person_id)
        if person is None or person["process"] != sq.PERSON:
            return None
        variables = person["variables"] or {}
        if not sq.sees_people(user) or not sq.may_see(user, sq.PERSON, variables):
            raise NotAllowed(person_id)
        number = str(variables.get("id_number", ""))
        related = [
            r
            for r in sq.by_keys(conn, sq.keys_of_person(regions, number))
            if r["id"] != person_id and sq.may_see(user, r["process"], r["variables"] or {})
        ]
        ids = [person_id, *(r["id"] for r in related)]
        tasks = sq.readable_tasks(user, sq.open_tasks_of(conn, ids))
        found = histories(conn, ids)
    by_process: dict[str, list[dict[str, Any]]] = {}
    for row in related:
        by_process.setdefault(row["process"], []).append(row)
    years = [year_of(r, regions, enrollment, now) for r in by_process.get(sq.ENROLLMENT, [])]
    return PersonFile(
        person=person,
        cards=by_process.get(sq.CARD, []),
        years=sorted(years, key=lambda y: (y.year or 0, y.row["id"]), reverse=True),
        reviews=by_process.get("card_review", []),
        tasks=tasks,
        histories=found,
    )


def record(db: SqlEngine, user: Staff, instance_id: int) -> dict[str, Any] | None:
    """One instance (a card, a year, a review) with its history and readable open tasks, for
    ``user``; None when there is none.

    Raises:
        NotAllowed: the user may not see it.
    """
    with db.connect() as conn:
        row = instance(conn, instance_id)
        if row is None:
            return None
        if not sq.may_see(user, row["process"], row["variables"] or {}):
            raise NotAllowed(instance_id)
        row["history"] = histories(conn, [instance_id])[instance_id]
        row["tasks"] = sq.readable_tasks(user, sq.open_tasks_of(conn, [instance_id]))
    return row
