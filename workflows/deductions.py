"""Batch deduction results from the tax authority (CSV) applied to enrollments, idempotently.

One row per insured person: ``id_number, policy_year, amount, result, reason`` and optionally
``paid_at`` (when the authority deducted; the service clock otherwise). A success fires ``deduct``,
a failure ``fail_deduction`` (Foshan document, lines 57-58): the same events, with the same guards
(the payment period, the amount due), as the tax authority's API calls. Every row carries an
idempotency key, so importing the same file twice changes nothing the second time. Bad rows are
reported with their line numbers and skipped; good rows are applied. Reading the file (its
encoding, its records, the rows rejected before matching) is ``workflows.deduction_file``'s; a
file refused as a whole applies nothing.

A province's file has millions of rows, so it is applied set-based (``import_deductions``): the
file streams into a staging table (``workflows.deduction_staging``), is matched to the enrollments
in SQL, and each chunk of rows goes through ``engine.batch.BatchFire``, which runs every row's
rules as a firing does and writes the transitions, history, timers, tasks and idempotency keys of
the chunk together. On PostgreSQL two chunks are in flight at once, on two connections
(``_overlapped``): one is written and committed by the database while the next is matched and
run through the rules in Python. ``import_deductions_row_by_row`` fires the engine once per row:
the reference the set-based path is tested against (the same rows written, the same report).
What became of each row (the report, a duplicate payment) is ``workflows.deduction_rows``'s.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from threading import Event, Lock
from typing import Any, TypeVar

from engine import queries
from engine.batch import DEFAULT_CHUNK, BatchFire, BatchItem, BatchResult
from engine.definition import ProcessDefinition
from engine.errors import EventNotAllowed, WorkflowError
from engine.runtime import Engine, Idempotency
from engine.tx import Tx
from workflows import deduction_reasons as because
from workflows.deduction_file import (
    DeductionFileError,
    Row,
    count_lines,
    open_file,
    parse_rows,
    read_text,
)
from workflows.deduction_rows import (
    ImportReport,
    Rejected,
    classify,
    count_no_live_year,
    count_refused,
    malformed,
    objection_to,
)
from workflows.deduction_staging import StagedRow, Staging
from workflows.people import ENROLLMENT, LIVE
from workflows.policy import Label, Policy
from workflows.service_date import service_today
from workflows.years import enrollment_key

T = TypeVar("T")

__all__ = [  # what callers read a file with, from here as before the file's module was apart
    "DeductionFileError",
    "count_lines",
    "import_deductions",
    "import_deductions_row_by_row",
    "open_file",
    "parse_rows",
    "read_text",
    "staged_rows",
]


def _key(id_number: str, event: str, data: dict[str, str]) -> str:
    """A row's idempotency key: the person, the result, the amount and when the authority
    deducted, so that the same row imported again is unchanged while a later attempt (a second
    failure on the next run) is a row of its own."""
    return f"{id_number}:{event}:{data.get('amount', '')}:{data.get('paid_at', '')}"


def staged_rows(rows: Iterable[Row], policy: Policy) -> Iterator[StagedRow]:
    """The good rows as the staging table keeps them, with their enrollment's business key."""
    for row in rows:
        data = row.data
        yield StagedRow(
            row.line,
            row.id_number,
            row.event,
            data.get("amount"),
            data.get("reason"),
            data.get("paid_at"),
            enrollment_key(row.id_number, policy.policy),
        )


# The cyclic garbage collector while a file is imported: a chunk allocates some hundred thousand
# objects (rows, contexts, results), none of them in cycles worth collecting early, and with the
# default thresholds (700, 10, 10) the collector runs so often that it takes a third of the
# import's CPU. ``_fewer_collections`` raises the first threshold for the import's duration and
# puts the previous thresholds back when the last import running in the process ends.
GC_THRESHOLD = 20_000
_gc_lock = Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = (0, 0, 0)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            first, *rest = _gc_saved
            if first:  # 0: collection is off; leave it so
                gc.set_threshold(max(first, GC_THRESHOLD), *rest)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


def import_deductions(
    engine: Engine,
    policy: Policy,
    path: str | Path,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> ImportReport:
    """Apply a deduction result file for ``policy`` set-based, ``chunk`` rows per transaction;
    returns what was applied, unchanged and rejected (rejected rows in line order)."""
    report = ImportReport()
    scope = f"deductions:{policy.policy}"
    definition = engine.definition(ENROLLMENT)
    live = definition.tagged(LIVE)
    batch = BatchFire(engine)

    checks = engine.registry.field_checks()

    def apply(
        tx: Tx, lo: int, hi: int, after: Event | None, locked: Event | None
    ) -> tuple[list[BatchResult], list[_Missing], int, dict[int, Label | None]]:
        items, missing, last = [], [], 0
        for row in stage.matched(tx, lo, hi, ENROLLMENT, live):
            last = row.line
            if row.instance_id is None:
                # rare: a row for a year no longer live (closed on leaving, ...), or none
                bkey = enrollment_key(row.id_number, policy.policy)
                found = tx.all(engine.sql.select_by_business_key, _by_key(bkey))
                newest = (int(found[-1].id), str(found[-1].state)) if found else None
                missing.append(_Missing(row.line, row.id_number, row.event, row.data, newest))
                continue
            key = _key(row.id_number, row.event, row.data)
            items.append(BatchItem(row.line, row.instance_id, row.event, row.data, key))
        if after is not None:
            after.wait()  # the chunk before has locked its instances: a person in both waits
        signal = None if locked is None else locked.set
        results = batch.apply_in(tx, items, actor=actor, scope=scope, locked=signal)
        # the refused rows: malformed? a success for a year already paid: is it the deduction on
        # record? (rare: read each)
        data = {item.ref: item.data for item in items}

        def objection(r: BatchResult) -> Label | None:
            return objection_to(
                definition,
                checks,
                policy,
                r.instance_id,
                r.state,
                r.event,
                data[r.ref],
                lambda: engine.load(tx, r.instance_id).variables.get("payment"),
            )

        objections = {r.ref: objection(r) for r in results if isinstance(r.error, EventNotAllowed)}
        return results, missing, last, objections

    def chunk_in_turn(
        lo: int, hi: int, after: Event | None = None, locked: Event | None = None
    ) -> tuple[list[BatchResult], list[_Missing], int, dict[int, Label | None]]:
        try:
            return batch.transaction(lambda tx: apply(tx, lo, hi, after, locked))
        finally:
            if locked is not None:
                locked.set()

    with _fewer_collections(), Staging(engine) as stage:
        with open_file(Path(path)) as stream:
            stage.load(
                staged_rows(
                    parse_rows(stream, policy, report, today=service_today(engine.clock.now())),
                    policy,
                )
            )
        if stage.postgres and not engine.rehearsing:
            chunks = _overlapped(stage.ranges(chunk), chunk_in_turn)
        else:
            chunks = (chunk_in_turn(lo, hi) for lo, hi in stage.ranges(chunk))
        for results, missing, last, objections in chunks:
            for m in missing:
                objection = _objection_without_live_year(
                    engine, policy, definition, m.event, m.data, m.newest
                )
                count_no_live_year(
                    report, m.line, policy, definition, m.id_number, m.event, m.newest, objection
                )
            for result in results:
                classify(report, result, definition, objections)
            if progress:
                progress(last)
    report.rejected.sort(key=lambda r: r.line)
    return report


def _objection_without_live_year(
    engine: Engine,
    policy: Policy,
    definition: ProcessDefinition,
    event: str,
    data: dict[str, str],
    newest: tuple[int, str] | None,
) -> Label | None:
    """``objection_to`` a row that names no live year, for the newest year of its person
    (``newest``; None: none, then only malformed data objects): a year closed on leaving
    takes no deduction, in the words every door says (rare: its payment read apart)."""
    checks = engine.registry.field_checks()
    if newest is None:
        return malformed(definition, checks, event, data)
    instance_id, state = newest
    return objection_to(
        definition,
        checks,
        policy,
        instance_id,
        state,
        event,
        data,
        lambda: _payment_of(engine, instance_id),
    )


def _payment_of(engine: Engine, instance_id: int) -> Any:
    """The payment on record of an enrollment (None: none), read in a transaction of its own."""
    return ((queries.instance(engine.db, instance_id) or {}).get("variables") or {}).get("payment")


@dataclass(frozen=True, slots=True)
class _Missing:
    """A row that names no live year: its line, person, event and (a failure's) the newest
    instance of the person's year in any state (``count_no_live_year``)."""

    line: int
    id_number: str
    event: str
    data: dict[str, str]
    newest: tuple[int, str] | None


def _by_key(bkey: str) -> dict[str, str]:
    return {"process": ENROLLMENT, "bkey": bkey}


def _overlapped(
    ranges: Iterable[tuple[int, int]], run: Callable[[int, int, Event, Event], T]
) -> Iterator[T]:
    """``run(lo, hi, after, locked)`` of each range, two at a time on two threads (each its own
    connection and transaction), the results in order.

    While one chunk's rows are written and committed (the database's work), the next is matched,
    locked and run through the rules (Python's): the two overlap on two cores. Chunk k+1 locks its
    instances only once chunk k has locked its own (``after``), so a person named in both is
    applied in file order: chunk k+1 waits for chunk k's commit and reads what it wrote. The
    matching of chunk k+1 may read an enrollment before chunk k's commit: the import's events
    (``deduct``, ``fail_deduction``) keep an enrollment live, so it matches the same one. If a chunk
    fails, the import stops with its error; the chunk after it may have been committed (importing
    the file again applies the rest and replays what was applied). A chunk run again (another
    writer changed one of its instances, or wrote one of its keys, meanwhile) has let go of its
    locks, so the next chunk may apply a person named in both first: a rare race of the same kind
    as the foreign writer's own.
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="deductions") as pool:
        previous = Event()
        previous.set()
        in_flight: deque[Future[T]] = deque()
        for lo, hi in ranges:
            locked = Event()
            in_flight.append(pool.submit(run, lo, hi, previous, locked))
            previous = locked
            if len(in_flight) == 2:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def import_deductions_row_by_row(
    engine: Engine,
    policy: Policy,
    path: str | Path,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """The reference: one ``Engine.fire`` per row (what ``import_deductions`` must equal)."""
    report = ImportReport()
    scope = f"deductions:{policy.policy}"
    definition = engine.definition(ENROLLMENT)
    live = definition.tagged(LIVE)
    with open_file(Path(path)) as stream:  # read whole first: a file refused applies nothing
        rows = list(parse_rows(stream, policy, report, today=service_today(engine.clock.now())))
    for row in rows:
        if progress:
            progress(row.line)
        _fire_row(engine, policy, row, scope, actor, live, definition, report)
    report.rejected.sort(key=lambda r: r.line)
    return report


def _fire_row(
    engine: Engine,
    policy: Policy,
    row: Row,
    scope: str,
    actor: str,
    live: tuple[str, ...],
    definition: ProcessDefinition,
    report: ImportReport,
) -> None:
    key = enrollment_key(row.id_number, policy.policy)
    years = queries.by_business_key(engine.db, ENROLLMENT, key)
    found = next(((i, s) for i, s in years if s in live), None)
    if found is None:
        newest = years[-1] if years else None
        objection = _objection_without_live_year(
            engine, policy, definition, row.event, row.data, newest
        )
        count_no_live_year(
            report, row.line, policy, definition, row.id_number, row.event, newest, objection
        )
        return
    instance_id, state = found
    idem = Idempotency(scope, _key(row.id_number, row.event, row.data))
    try:
        done = engine.fire(instance_id, row.event, actor=actor, data=row.data, idempotency=idem)
    except EventNotAllowed:
        objection = objection_to(
            definition,
            engine.registry.field_checks(),
            policy,
            instance_id,
            state,
            row.event,
            row.data,
            lambda: _payment_of(engine, instance_id),
        )
        count_refused(report, row.line, definition, instance_id, state, row.event, objection)
        return
    except WorkflowError as exc:
        report.rejected.append(Rejected(row.line, because.refused(exc)))
        return
    if done.replayed:
        report.pass_over()
    else:
        report.applied += 1
