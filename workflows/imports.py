"""Bringing a province's existing people and cards onto the books, idempotently, row by row.

A row is a person already insured elsewhere in the system (their record starts ``insured``, the
``person`` definition's initial state for imports) and, optionally, one of their cards as it
stands (any state the card definition has, with the tasks and timers that state opens: a lost card
gets its account-closing task at its bank). A person with more than one usable card in a province
gets the extra-cards review (quanzhou-huian-cards-and-2023-medical-insurance.txt, lines 7-9).
A person brought onto the books is insured as one whose registration a clerk approved: the year
whose payment period is open at the import opens for them (``workflows.people``), so they pay
it, and the renewal of the next year (默认续保) finds them, as it finds everyone else.

Each row is one transaction: applied, unchanged (imported before: same person, same card number)
or rejected with the reason; nothing of a rejected row is written. The report lists every
rejected row, and callers exit non-zero when there is one (``shebao import people``).
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import WorkflowError
from engine.runtime import Engine
from engine.transition_context import InstanceView
from engine.tx import Tx
from workflows import extra_cards
from workflows.cards import PROCESS as CARD
from workflows.cards import card_key, card_variables
from workflows.csv_files import EXTRA_CELLS, extra_cells, records, with_control_characters
from workflows.identity import mask_id_number, mask_id_numbers_in
from workflows.people import ON_BOOKS, PERSON, Registration, checked, record_of
from workflows.years import open_year_on_insurance_in

if TYPE_CHECKING:
    from workflows.domain import Domain

COLUMNS = (
    "id_number",
    "name",
    "region",
    "residence",
    "household",
    "reduction_categories",
    "flags",
    "card_number",
    "card_bank",
    "card_state",
    "card_region_code",
)
REQUIRED = ("id_number", "name", "region")
KEY_SCOPE = "import:card"
MAX_CARD_NUMBER = 32
log = logging.getLogger(__name__)


class ImportRefused(WorkflowError):
    """A row the rules refuse (the reason names the column)."""

    code = "import_refused"


@dataclass(frozen=True)
class RowResult:
    """What became of a row; a rejected one says why in English (``reason``) and Chinese, anything
    in the words that looks like a resident ID number masked (a column shift puts someone's number
    where a bank, a region or a flag belongs, and a rejection quotes what the row said): the one
    place every door's report (``shebao import people``, ``POST /imports/people``) takes them."""

    line: int
    status: str  # applied | unchanged | rejected
    reason: str | None = None
    person_id: int | None = None
    card_id: int | None = None
    review_id: int | None = None
    reason_zh: str | None = None

    def __post_init__(self) -> None:
        for name in ("reason", "reason_zh"):
            said = getattr(self, name)
            if said is not None:
                object.__setattr__(self, name, mask_id_numbers_in(said))


@dataclass
class PeopleReport:
    results: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def rejected(self) -> list[RowResult]:
        return [r for r in self.results if r.status == "rejected"]

    @property
    def reviews_opened(self) -> int:
        return sum(1 for r in self.results if r.review_id is not None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.count("applied"),
            "unchanged": self.count("unchanged"),
            "rejected": [  # reason, reason_zh: the first version's names of the messages
                {
                    "line": r.line,
                    "message_zh": r.reason_zh,
                    "message_en": r.reason,
                    "reason": r.reason,
                    "reason_zh": r.reason_zh,
                }
                for r in self.rejected
            ],
            "reviews_opened": self.reviews_opened,
        }


def read_people_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a people file, with their line numbers (``workflows.csv_files.records``).

    Raises:
        ImportRefused: a required column is missing, or the file cannot be read as CSV (a quote
            never closed, a field over ``csv.field_size_limit()``): the whole file is refused,
            naming the line, since what follows such a line cannot be told apart reliably.
    """
    return list(records(io.StringIO(text, newline=""), REQUIRED, ImportRefused))


def import_people(
    engine: Engine,
    domain: Domain,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> PeopleReport:
    """Import people (and their cards) row by row; see the module docstring."""
    report = PeopleReport()
    for line, row in rows:
        if progress:
            progress(line)

        def work(tx: Tx, line: int = line, row: Mapping[str, Any] = row) -> RowResult:
            return _row(engine, domain, tx, line, row, actor)

        report.results.append(_run_row(engine, work, line, row))
    return report


def _run_row(
    engine: Engine, work: Callable[[Tx], RowResult], line: int, row: Mapping[str, Any]
) -> RowResult:
    """One row's transaction; a refusal is a rejected row. A unique violation (the import key
    of the card number, ``uq_wf_idempotency_key_scope_key``, the only unique constraint a row
    writes: stored meanwhile by a writer that did not take the number's lock) rolls the row
    back; the row then runs once more and answers as in sequence (unchanged, or the number is
    another person's). A second one is a rejected row too: never the whole import's failure."""
    clash = engine.db.dialect.loaded_dbapi.IntegrityError
    for _ in range(2):
        try:
            return engine.transaction(work)
        except WorkflowError as exc:
            return RowResult(line, "rejected", exc.message_en, reason_zh=exc.message_zh)
        except clash as exc:
            # the constraint's name only: the driver's message shows the key's value
            log.warning("people import line %d: unique violation (%s)", line, _constraint(exc))
    return _clashed(line, row)


def _constraint(exc: Exception) -> str:
    """The violated constraint's name (PostgreSQL), or SQLite's columns (no values in them)."""
    name = getattr(getattr(exc, "diag", None), "constraint_name", None)
    return str(name) if name else str(exc).split("\n", 1)[0]


def _clashed(line: int, row: Mapping[str, Any]) -> RowResult:
    """A row that met a unique violation twice, in words (the card number masked)."""
    number = _cell(row, "card_number")
    zh, en = (
        ("社保卡号 " + mask_id_number(number), "card " + mask_id_number(number))
        if number
        else ("该居民", "this person")
    )
    return RowResult(
        line,
        "rejected",
        f"{en} was written by another import at the same time; nothing of this row was "
        "written: import the row again",
        reason_zh=f"{zh}的资料正由另一导入同时写入，本行未写入任何内容，请重新导入本行",
    )


def _cell(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def _listed(row: Mapping[str, Any], name: str) -> list[str]:
    """A cell holding several values (``low_income|dibao``; ``;`` separates them too), or a
    list of them (as the API's JSON may send them, and ``/registrations`` takes them)."""
    value = row.get(name)
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in _cell(row, name).replace(";", "|").split("|") if v.strip()]


def _row(
    engine: Engine, domain: Domain, tx: Tx, line: int, row: Mapping[str, Any], actor: str
) -> RowResult:
    if EXTRA_CELLS in row:  # a file's row with cells beyond its header's columns
        raise ImportRefused(*extra_cells(str(row[EXTRA_CELLS])))
    unknown = ", ".join(mask_id_numbers_in(c) for c in sorted(set(row) - set(COLUMNS)))
    if unknown:  # a file's header cells (a data row read as the header: ID numbers)
        raise ImportRefused(f"未知的列：{unknown}", f"unknown columns: {unknown}")
    unreadable = with_control_characters({k: _cell(row, k) for k in row})
    if unreadable:  # a NUL or a line break in a cell: never stored (PostgreSQL refuses a NUL)
        raise ImportRefused(
            f"以下列含有控制字符（如空字符、换行）：{', '.join(unreadable)}",
            f"control characters (a NUL, a line break) in: {', '.join(unreadable)}",
        )
    registration = Registration(
        id_number=_cell(row, "id_number"),
        name=_cell(row, "name"),
        region=_cell(row, "region"),
        residence=_cell(row, "residence") or "household_register",
        household=_cell(row, "household") or None,
        reduction_categories=tuple(_listed(row, "reduction_categories")),
        flags=tuple(_listed(row, "flags")),
    )
    # what does not depend on the record (its flags); the ID's birth date by the service's date
    facts = checked(domain, registration, engine.clock.now(), conditions=False)
    _lock_keys(engine, domain, tx, facts, row)
    record = record_of(engine, tx, facts["id_number"])
    if "flags" not in row and record is not None:  # a file without the column: flags on record
        held = tuple(str(f) for f in record.variables.get("flags") or ())
        registration = dataclasses.replace(registration, flags=held)
    person = checked(domain, registration, engine.clock.now())
    changed = False
    if record is None:
        definition = engine.definition(PERSON)
        [on_books] = [s for s in definition.initial if ON_BOOKS in definition.states[s].tags]
        started = engine.start_in(
            tx, definition, on_books, person["id_number"], person, actor, {"imported": True}
        )
        person_id, changed = started.instance_id, True
        # insured through this door as through a clerk's approval: the same year opens
        cause = {"instance_id": person_id, "process": PERSON, "event": "start"}
        open_year_on_insurance_in(engine, tx, domain, person, actor, cause)
    else:
        person_id = record.id
        if ON_BOOKS not in record.tags and not _cell(row, "card_number"):
            # their registration is in review: a clerk's decision makes them insured, not this
            # row; saying "unchanged" would tell the sender they are insured here already
            raise ImportRefused(
                f"该居民的参保登记正在审核中（档案 {record.id}），经办人审核通过后即为参保人",
                f"this person's registration is in review (record {record.id}): they are "
                "insured once a clerk approves it",
            )
        _same_as_record(record, person, row)
    card_id = review_id = None
    if _cell(row, "card_number"):
        card_id, card_new = _card(engine, domain, tx, person, row, actor)
        changed = changed or card_new
        region_code = str(card_variables_code(domain, person, row))
        review = extra_cards.review_if_needed(
            engine, tx, card_key(person["id_number"], region_code), person["region"], actor
        )
        if review is not None:
            review_id, changed = review.instance_id, True
    return RowResult(
        line, "applied" if changed else "unchanged", None, person_id, card_id, review_id
    )


def _lock_keys(
    engine: Engine, domain: Domain, tx: Tx, person: Mapping[str, Any], row: Mapping[str, Any]
) -> None:
    """Before the reads that decide, the locks the single paths take (``register_person``'s on
    the person, ``apply_for_card``'s on the card key), person before card: a row waits for a
    concurrent import, registration or card application of the same person, and then sees
    what it wrote (one record, one usable card or one review). Last, the card number's: a number
    imported for two people at once is then the first one's, the other row rejected as in
    sequence (taken only here, last, so no two rows wait for each other)."""
    engine.lock_key(tx, PERSON, str(person["id_number"]))
    number = _cell(row, "card_number")
    if number:
        region_code = card_variables_code(domain, person, row)
        engine.lock_key(tx, CARD, card_key(str(person["id_number"]), region_code))
        tx.lock(f"{KEY_SCOPE}:{number}")


FACT_WORDS = {
    "name": ("姓名", "name"),
    "region": ("参保地", "region"),
    "residence": ("户籍证件类型", "residence"),
    "household": ("户号", "household"),
    "reduction_categories": ("减免类别", "reduction categories"),
    "flags": ("申报的情形", "flags"),
}
"""The facts of a row compared with the person on record, in words."""


def _same_as_record(
    record: InstanceView, person: Mapping[str, Any], row: Mapping[str, Any]
) -> None:
    """A row naming a person on record must say what the record says: name, region and
    reduction categories always (none given is none), residence and household when given, flags
    when the file has the column (a file without it says nothing of them).
    Reporting "unchanged" for other facts would tell the sender their data matched.

    Raises:
        ImportRefused: naming the facts that differ (never their values: no ID number).
    """
    held = record.variables
    differ = [
        fact
        for fact in FACT_WORDS
        if (fact not in ("residence", "household") or _cell(row, fact))
        and (fact != "flags" or fact in row)
        and _fact(held.get(fact)) != _fact(person.get(fact))
    ]
    if differ:
        raise ImportRefused(
            f"与已登记的资料不一致（档案 {record.id}）："
            f"{'、'.join(FACT_WORDS[f][0] for f in differ)}；未作更改",
            f"differs from the person on record (record {record.id}) in: "
            f"{', '.join(FACT_WORDS[f][1] for f in differ)}; nothing was changed",
        )


def _fact(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    return "" if value is None else str(value).strip()


def card_variables_code(domain: Domain, person: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    return _cell(row, "card_region_code") or domain.regions.get(str(person["region"])).code


def _card(
    engine: Engine,
    domain: Domain,
    tx: Tx,
    person: Mapping[str, Any],
    row: Mapping[str, Any],
    actor: str,
) -> tuple[int, bool]:
    number = _cell(row, "card_number")
    if len(number) > MAX_CARD_NUMBER or not number.isprintable():
        raise ImportRefused("社保卡号无效", f"card_number: 1 to {MAX_CARD_NUMBER} characters")
    definition = engine.definition(CARD)
    state = _cell(row, "card_state")
    if state not in definition.states or definition.states[state].final:
        choices = ", ".join(s for s, spec in definition.states.items() if not spec.final)
        raise ImportRefused(f"card_state 应为：{choices}", f"card_state must be one of: {choices}")
    region_code = card_variables_code(domain, person, row)
    variables = card_variables(
        domain.regions,
        id_number=str(person["id_number"]),
        bank=_cell(row, "card_bank"),
        region_code=region_code,
        channel="counter",
        now=engine.clock.now(),
    )
    variables.update(card_number=number, imported=True)
    seen = tx.one(engine.sql.select_idempotency, {"scope": KEY_SCOPE, "key": number})
    if seen is not None:
        owner = (seen.response or {}).get("id_number")
        if owner != person["id_number"]:
            shown = mask_id_number(number)  # as the pages show a card number: never whole
            raise ImportRefused(
                f"社保卡号 {shown} 已属于另一居民", f"card {shown} belongs to another person"
            )
        return int(seen.response["instance_id"]), False
    key = card_key(str(person["id_number"]), region_code)
    started = engine.start_in(tx, definition, state, key, variables, actor, {"imported": True})
    tx.run(
        engine.sql.insert_key,
        {
            "scope": KEY_SCOPE,
            "key": number,
            "request_hash": "",
            "instance_id": started.instance_id,
            "response": {"instance_id": started.instance_id, "id_number": person["id_number"]},
            "created_at": engine.clock.now(),
        },
    )
    return started.instance_id, True
