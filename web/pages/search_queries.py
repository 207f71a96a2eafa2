"""Staff search's reads: what a query is, who may see which record, and what a query finds.

A query is one of four keys (``classify``): a resident ID number (GB 11643, check character
right), a business key (it has a ``:``), a card number (it has a digit), else the start of a name.
Each is answered by index lookups only (SQLAlchemy Core, reads only):

- ID number: exact business keys on ``ix_wf_instance_business_key``: the person's record (the
  number itself), each card and extra-cards review (``<province>:<number>`` for every province
  served) and each year (``<number>:<policy>`` for every policy year); exact keys, so the
  database's collation never matters;
- card number: ``ix_wf_instance_card_number``, on ``(process, <the card's card_number>)``;
- business key: the business key index;
- name: a prefix range on ``ix_wf_instance_person_name``, on ``(process, <the person's name>)``
  in binary order (one range holds a prefix's names, whatever the database's collation).

The two expression indexes come with migration 0009; a query uses one only when it spells the
index's expression exactly, so ``json_text`` builds it per dialect.

Who sees what follows ``web.staff`` (deny by default): supervisors see every record; a clerk
(social security or medical insurance) the people, cards and years of the region they serve; a
bank teller the cards of their bank and no one's personal record; tasks as the inbox shows them
(``can_read_task``).
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    collate,
    func,
    literal_column,
    select,
)
from sqlalchemy import Engine as SqlEngine

from engine import statements as st
from web.staff import Staff, can_read_task
from workflows.identity import is_valid_id_number, validate_id_number
from workflows.regions import Regions

PERSON, CARD, ENROLLMENT = "person", "card", "enrollment"
PEOPLE_GROUPS = frozenset({"social_security_clerk", "medical_insurance_clerk"})
"""The groups that work with people's records (within their region); tellers see cards only."""
MAX_QUERY = 64
"""The longest query: an ID number is 18 characters, a business key at most 128 but never typed."""
LIMIT = 20
"""Rows per kind of result shown; a name prefix may match more (``Found.more``)."""
_ID_OR_KEY_ROWS = 200
_COLUMNS = (
    st.instances.c.id,
    st.instances.c.process,
    st.instances.c.definition_version,
    st.instances.c.business_key,
    st.instances.c.state,
    st.instances.c.variables,
)


class BadQuery(ValueError):
    """A query the search cannot take (empty, too long, control characters): ``word`` is the
    ``web.i18n`` word that says why."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


@dataclass(frozen=True)
class Query:
    kind: str
    """``id_number``, ``business_key``, ``card_number`` or ``name``."""
    text: str


@dataclass
class Found:
    query: Query
    people: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    """More records matched than are shown (a short name prefix)."""

    @property
    def total(self) -> int:
        return len(self.people) + len(self.cards) + len(self.enrollments) + len(self.tasks)


def classify(raw: str, today: date) -> Query:
    """What a typed query is (an ID number: one of someone born by ``today``, the service
    clock's date). Full-width digits, letters and colons (a Chinese input method in full-width
    mode) are read as their ASCII forms (NFKC): an ID number or a card number typed so is found.

    Raises:
        BadQuery: empty, longer than ``MAX_QUERY``, or with control characters (NUL, ...).
    """
    text = unicodedata.normalize("NFKC", raw).strip() if isinstance(raw, str) else ""
    if not text:
        raise BadQuery("search_empty")
    if len(text) > MAX_QUERY:
        raise BadQuery("search_too_long")
    if not text.isprintable():
        raise BadQuery("search_bad_characters")
    if is_valid_id_number(text, today=today):
        return Query("id_number", validate_id_number(text, today=today))
    if ":" in text:
        return Query("business_key", text)
    if any(c in string.digits for c in text):
        return Query("card_number", text)
    return Query("name", text)


# -- who may see what ------------------------------------------------------------------------


def sees_people(user: Staff) -> bool:
    """Supervisors, and clerks within their region, read people's records."""
    return user.is_supervisor or (user.group in PEOPLE_GROUPS and user.scope is not None)


def may_see(user: Staff, process: str, variables: Mapping[str, Any]) -> bool:
    """Whether ``user`` may see an instance of ``process`` with ``variables``."""
    if user.is_supervisor:
        return True
    if user.scope is None:
        return False
    if user.group in PEOPLE_GROUPS:
        return variables.get("region") == user.scope
    if user.group == "bank_teller":
        return process == CARD and variables.get("bank") == user.scope
    return False


def readable_tasks(user: Staff, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows if can_read_task(user, r)]


# -- the expressions of the indexes ----------------------------------------------------------


def json_text(dialect: str, key: str) -> ColumnElement[Any]:
    """``variables.<key>`` as text, spelt as migration 0009's indexes spell it."""
    variables = st.instances.c.variables
    if dialect == "postgresql":
        return variables.op("->>", return_type=String())(literal_column(f"'{key}'"))
    return func.json_extract(variables, literal_column(f"'$.{key}'"), type_=String())


def name_expression(dialect: str) -> ColumnElement[Any]:
    """A person's name in binary (code point) order: one range holds every name with a prefix."""
    found = json_text(dialect, "name")
    return collate(found, "C") if dialect == "postgresql" else found


def successor(prefix: str) -> str:
    """The least string after every string that starts with ``prefix`` (code point order)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:
        return successor(prefix[:-1]) if len(prefix) > 1 else "\U0010ffff"
    return prefix[:-1] + chr(last)


def _process_is(name: str) -> ColumnElement[bool]:
    """``process = '<name>'`` as a literal: the partial indexes' condition, spelt as theirs."""
    return st.instances.c.process == literal_column(f"'{name}'")


# -- the lookups -----------------------------------------------------------------------------


def keys_of_person(regions: Regions, id_number: str) -> list[str]:
    """Every business key an ID number's records may have: the person's, the cards' and reviews'
    (per province served) and the years' (per policy year)."""
    provinces = sorted({r.province for r in regions})
    policies = sorted(p.policy for r in regions for p in r.policies)
    return [
        id_number,
        *(f"{p}:{id_number}" for p in provinces),
        *(f"{id_number}:{p}" for p in policies),
    ]


def _oldest_first(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    """The rows of ``query``, sorted here: with ``ORDER BY id`` PostgreSQL may walk the primary
    key instead of the lookup's index (it has no statistics on a partial index's expression)."""
    return sorted((dict(r._mapping) for r in conn.execute(query)), key=lambda r: int(r["id"]))


def by_keys(conn: Connection, keys: Collection[str]) -> list[dict[str, Any]]:
    query = select(*_COLUMNS).where(st.instances.c.business_key.in_(list(keys)))
    return _oldest_first(conn, query.limit(_ID_OR_KEY_ROWS))


def by_card_number(conn: Connection, number: str) -> list[dict[str, Any]]:
    card_number = json_text(conn.dialect.name, "card_number")
    query = select(*_COLUMNS).where(_process_is(CARD), card_number == number)
    return _oldest_first(conn, query.limit(_ID_OR_KEY_ROWS))


def by_name(conn: Connection, user: Staff, prefix: str) -> list[dict[str, Any]]:
    """People whose name starts with ``prefix`` that ``user`` may see, by name, ``LIMIT + 1``."""
    if not sees_people(user):
        return []
    name = name_expression(conn.dialect.name)
    query = select(*_COLUMNS).where(_process_is(PERSON), name >= prefix, name < successor(prefix))
    if not user.is_supervisor:
        query = query.where(json_text(conn.dialect.name, "region") == user.scope)
    query = query.order_by(name, st.instances.c.id).limit(LIMIT + 1)
    return [dict(r._mapping) for r in conn.execute(query)]


def open_tasks_of(conn: Connection, instance_ids: Collection[int]) -> list[dict[str, Any]]:
    if not instance_ids:
        return []
    t = st.tasks
    query = (
        select(t)
        .where(t.c.instance_id.in_(list(instance_ids)), t.c.status == literal_column("'open'"))
        .order_by(t.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def search(db: SqlEngine, regions: Regions, user: Staff, query: Query) -> Found:
    """The people, cards, years and open tasks ``query`` finds that ``user`` may see."""
    with db.connect() as conn:
        if query.kind == "id_number":
            rows = by_keys(conn, keys_of_person(regions, query.text))
        elif query.kind == "business_key":
            rows = by_keys(conn, [query.text])
        elif query.kind == "card_number":
            rows = by_card_number(conn, query.text)
        else:
            rows = by_name(conn, user, query.text)
        tasks = open_tasks_of(conn, [r["id"] for r in rows])
    found = Found(query, tasks=readable_tasks(user, tasks)[:LIMIT])
    shelves = {PERSON: found.people, CARD: found.cards, ENROLLMENT: found.enrollments}
    for row in rows:
        shelf = shelves.get(row["process"])
        if shelf is not None and may_see(user, row["process"], row["variables"] or {}):
            shelf.append(row)
    found.more = any(len(s) > LIMIT for s in shelves.values())
    for shelf in shelves.values():
        del shelf[LIMIT:]
    return found
