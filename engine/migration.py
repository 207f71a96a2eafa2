"""Instance migration: moving a process's running instances from one definition version to
another on purpose, as Camunda's migration API does.

``plan`` (``engine.migration_plan``) says, for every state of the source version that holds instances, where they go (the same
state name in the target unless ``mapping`` says otherwise) and what happens to their open task
and pending timers: **kept** when the target state declares the same task (name and group) or the
same timers (event and when), otherwise **recreated** by the target version's rules as on entering
the state (the old ones closed and cancelled). A plan with a populated state that has no target is
refused, naming the states; so is a plan from a version to itself (nothing to migrate: moving
instances between states is a supervisor's move). A target before the source is allowed on
purpose: moving instances back from a version that proved wrong is a migration like any other.

``migrate`` applies a plan set-based, a chunk of instances per transaction: the instances move
(``definition_version``, ``state``, ``version + 1``), each gets one history row (event
``migrate``, with both versions), and their tasks and timers follow the plan. A migration is no
business step: ``state_entered_at`` stays what the event that entered the state set, also when
the map renames the state (it is the same state under its new name), and the readers of the
history see through the ``migrate`` rows (``engine.state_entries``). A chunk selects only
instances still on the source version, so a run that was killed half-way is resumed by running it
again: every instance is migrated exactly once.

**Move checks.** An instance whose state changes (``mapping``) is moved as a supervisor's move
moves one, so the domain's move checks run for it (``engine.migration_checks``): the plan counts
their warnings per code (``MigrationPlan.warnings``), and ``migrate`` refuses a plan with a
warning whose code is not in ``confirmed`` before moving anything (``ConfirmationNeeded``). Each
chunk runs the checks again in its transaction, under the business keys' locks: a warning that
appeared since the plan and is not confirmed stops the run there, that chunk unmoved (the chunks
before it stay moved; running it again resumes). An instance moved with confirmed warnings keeps
their codes in its history row (``confirmed``), as a supervisor's confirmed move does.

**Skipped events.** A map that sends instances downstream of their state, past events they never
took (``--map produced=active``: cards never handed over nor activated, put into use), is a
warning of the plan too, code ``skipped_events``, naming the events (``engine.migration_skips``);
it is confirmed, refused and kept in the history rows as the move checks' warnings are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, literal, select, update

from engine.migration_checks import MigratedView, Unconfirmed, candidates
from engine.migration_plan import (
    EVENT,
    ConfirmationNeeded,
    MigrationPlan,
    MigrationRefused,
    StateMove,
    plan,
)
from engine.migration_skips import SKIPPED_EVENTS
from engine.models import History, Instance, Task, Timer
from engine.runtime import Engine
from engine.specs import ProcessDefinition
from engine.statements import TIMER_COLUMNS

INSTANCES: Table = Instance.__table__  # type: ignore[assignment]
HISTORY: Table = History.__table__  # type: ignore[assignment]
TASKS: Table = Task.__table__  # type: ignore[assignment]
TIMERS: Table = Timer.__table__  # type: ignore[assignment]
DEFAULT_CHUNK = 5000


@dataclass
class MigrationReport:
    migrated: int = 0
    chunks: int = 0
    seconds: float = 0.0
    confirmed: dict[str, int] = field(default_factory=dict)
    """Per confirmed warning code, the instances migrated with it."""


def migrate(
    engine: Engine,
    migration: MigrationPlan,
    *,
    actor: str,
    chunk: int = DEFAULT_CHUNK,
    on_chunk: Callable[[int], None] | None = None,
    max_chunks: int | None = None,
    confirmed: Collection[str] = (),
) -> MigrationReport:
    """Apply ``migration`` chunk by chunk (resumable: see the module docstring).

    Args:
        confirmed: the codes of the move checks' warnings the operator accepts.

    Raises:
        MigrationRefused: a populated state has no target state.
        ConfirmationNeeded: a move check warns with a code not in ``confirmed`` (in the plan:
            nothing moved; in a chunk: that chunk not moved, the ones before it moved).
    """
    if migration.unmapped:
        states = ", ".join(sorted(migration.unmapped))
        raise MigrationRefused(
            f"{states} 在目标版本中没有对应状态，请用 --map 旧状态=新状态 指定 / "
            f"no target state for {states}: map them with --map OLD=NEW"
        )
    if pending := migration.unconfirmed(confirmed):
        raise ConfirmationNeeded(pending)
    source = engine.definition(migration.process, migration.source_version)
    target = engine.definition(migration.process, migration.target_version)
    view = MigratedView(engine, source, target, migration.targets, EVENT)
    report = MigrationReport()
    began = time.perf_counter()
    for move in migration.moves:
        after = 0  # keyset: each chunk starts past the last id of the one before
        while max_chunks is None or report.chunks < max_chunks:
            try:
                moved, last, codes = _chunk(engine, view, move, actor, chunk, after, confirmed)
            except Unconfirmed as exc:
                raise ConfirmationNeeded(exc.warnings, migrated=report.migrated) from None
            if last == after:
                break
            after = last
            for code in (code for found in codes.values() for code in found):
                report.confirmed[code] = report.confirmed.get(code, 0) + 1
            if moved:
                report.migrated += moved
                report.chunks += 1
                if on_chunk is not None:
                    on_chunk(moved)
    report.seconds = time.perf_counter() - began
    return report


def _chunk(
    engine: Engine,
    view: MigratedView,
    move: StateMove,
    actor: str,
    size: int,
    after: int,
    confirmed: Collection[str],
) -> tuple[int, int, dict[int, list[str]]]:
    """Move one chunk; the number moved, the last id looked at (``after`` when none was left)
    and the confirmed codes of each instance moved with warnings."""
    source, target = view.source, view.target
    now = engine.clock.now()
    codes: dict[int, list[str]] = {}
    with engine.db.begin() as conn:
        if view.checks_state(move.source):
            rows, last, codes = view.checked_chunk(
                conn, move.source, after, size, actor, now, confirmed
            )
        else:
            query = candidates(source, move.source, after, size)
            rows = list(conn.execute(query.with_for_update(skip_locked=True)).all())
            last = rows[-1].id if rows else after
        if not rows:
            return 0, last, codes
        ids = [row.id for row in rows]
        if move.skips and SKIPPED_EVENTS in confirmed:  # the plan's warning, confirmed
            codes = {iid: sorted({*codes.get(iid, ()), SKIPPED_EVENTS}) for iid in ids}
        conn.execute(
            update(INSTANCES)
            .where(INSTANCES.c.id.in_(ids), INSTANCES.c.definition_version == source.version)
            .values(
                definition_version=target.version,
                state=move.target,
                version=INSTANCES.c.version + 1,
                updated_at=now,
                # ``state_entered_at`` stays: a migration enters no state, renamed or not (the
                # same business state under its new name: ``engine.state_entries``)
            )
        )
        _audit(conn, source, target, move, ids, actor, now, codes)
        _follow(conn, engine, target, move, list(rows), actor, now)
    return len(ids), last, codes


def _audit(
    conn: Connection,
    source: ProcessDefinition,
    target: ProcessDefinition,
    move: StateMove,
    ids: list[int],
    actor: str,
    now: datetime,
    confirmed: Mapping[int, list[str]],
) -> None:
    """One history row per instance; ``confirmed`` beside the versions for the instances moved
    with confirmed warnings."""
    base = {"from_version": source.version, "to_version": target.version}
    groups: dict[tuple[str, ...], list[int]] = {}
    for iid in ids:
        groups.setdefault(tuple(confirmed.get(iid, ())), []).append(iid)
    for codes, members in groups.items():
        data = {**base, "confirmed": list(codes)} if codes else base
        conn.execute(
            insert(HISTORY).from_select(
                ["instance_id", "process", "event", "from_state", "to_state", "actor"]
                + ["occurred_at", "data"],
                select(
                    INSTANCES.c.id,
                    literal(source.key),
                    literal(EVENT),
                    literal(move.source),
                    literal(move.target),
                    literal(actor),
                    literal(now, type_=HISTORY.c.occurred_at.type),
                    literal(data, type_=HISTORY.c.data.type),
                ).where(INSTANCES.c.id.in_(members)),
            )
        )


def _follow(
    conn: Connection,
    engine: Engine,
    target: ProcessDefinition,
    move: StateMove,
    rows: list[Any],
    actor: str,
    now: datetime,
) -> None:
    """The instances' tasks and timers, as the plan says."""
    ids = [row.id for row in rows]
    if move.task == "kept" and move.source != move.target:
        conn.execute(
            update(TASKS)
            .where(TASKS.c.instance_id.in_(ids), TASKS.c.status == "open")
            .values(state=move.target)
        )
    elif move.task in ("recreated", "closed"):
        conn.execute(
            update(TASKS)
            .where(TASKS.c.instance_id.in_(ids), TASKS.c.status == "open")
            .values(status="cancelled", closed_at=now, closed_by=actor, outcome=EVENT)
        )
    if move.timers == "kept" and move.source != move.target:
        conn.execute(
            update(TIMERS)
            .where(TIMERS.c.instance_id.in_(ids), TIMERS.c.status == "pending")
            .values(state=move.target)
        )
    elif move.timers in ("recreated", "cancelled"):
        conn.execute(
            update(TIMERS)
            .where(TIMERS.c.instance_id.in_(ids), TIMERS.c.status == "pending")
            .values(status="cancelled")
        )
    effects = engine.effects
    if move.task == "recreated":
        tasks = [
            task
            for row in rows
            if (task := effects.task_row(target, move.target, row.id, row.variables or {}, now))
        ]
        if tasks:
            conn.execute(insert(TASKS), tasks)
    if move.timers == "recreated":
        timers = [
            {name: timer[name] for name in TIMER_COLUMNS}
            for row in rows
            for timer in effects.timer_rows(target, move.target, row.id, row.variables or {}, now)
        ]
        if timers:
            conn.execute(insert(TIMERS), timers)


__all__ = [
    "DEFAULT_CHUNK",
    "EVENT",
    "ConfirmationNeeded",
    "MigrationPlan",
    "MigrationRefused",
    "MigrationReport",
    "StateMove",
    "migrate",
    "plan",
]
