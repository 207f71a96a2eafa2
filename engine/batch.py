"""Apply events to many instances set-based (batch files: the tax authority's deduction results).

``BatchFire.apply_in(tx, items, actor=..., scope=...)`` does, inside the caller's
transaction, what ``Engine.fire(instance_id, event, data=..., idempotency=Idempotency(scope, key))``
does for each item, and writes the same rows; only the writes are set-based:

1. the items' instances are read (and locked on PostgreSQL) by one statement, their idempotency
   keys by another: a key used before replays its first result, or (another request) is refused
   with ``IdempotencyConflict``, exactly as ``Engine.run_idempotent`` answers;
2. each item runs through the same rules as a firing, in memory: ``Engine.allowing`` (the event
   must leave the current state), ``Engine.clean_data`` (the event's fields) and the definition's
   shared Machine (its guards, then its actions, which may change the variables). One rule path:
   there is no second, SQL-only version of a guard that could disagree with the first;
3. the items that moved are written together: one ``UPDATE ... FROM`` of the instances (the
   optimistic version check included), the history by ``COPY`` (``executemany`` on SQLite), the
   left states' pending timers cancelled and open tasks closed by one statement per state, the
   entered states' timers and tasks inserted by ``COPY`` (``engine.set_effects``, shared with the
   timer sweep), the event's notices, the idempotency keys.

Items of one call that share an instance or an idempotency key are applied in waves, in their
order, so a file that names the same person twice (a failed deduction, then a successful one) ends
as firing its rows one by one would. An item whose actions ask for follow-up events (``ctx.emit``,
``ctx.start``), or whose target state has ``automatic`` events to try, cannot be written
set-based: it is fired through ``Engine.fire_in`` in the same transaction, under a savepoint
(``BatchFire.fallbacks`` counts them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from engine import outcomes
from engine import statements as st
from engine.bulk import BulkSql
from engine.definition import EventSpec, ProcessDefinition
from engine.errors import (
    ConcurrentModification,
    IdempotencyConflict,
    InstanceNotFound,
    TransitionRefused,
    WorkflowError,
)
from engine.machine import SharedMachine
from engine.outcomes import Idempotency, Transition, request_hash
from engine.runtime import Engine
from engine.set_effects import SetEffects
from engine.sweep_statements import SweepSql
from engine.transition_context import TransitionContext
from engine.tx import Tx

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class BatchItem:
    """An event to fire on ``instance_id`` with ``data``; ``ref`` is the caller's (a line)."""

    ref: int
    instance_id: int
    event: str
    data: dict[str, Any]
    key: str | None = None
    """The idempotency key within the batch's scope (None: none)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What became of one item: a transition (applied, or replayed) or the error it met."""

    ref: int
    instance_id: int
    event: str
    state: str | None
    """The instance's state when the event was tried (None when it was replayed or missing)."""
    transition: Transition | None = None
    error: WorkflowError | None = None


@dataclass(slots=True)
class _Move:
    item: BatchItem
    row: Any
    definition: ProcessDefinition
    ctx: TransitionContext
    values: dict[str, Any]
    digest: str


class BatchFire:
    """Fires events on many instances of ``engine``'s database, writing set-based."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.bulk = BulkSql(engine.db.dialect, engine.sql)
        self.effects = SetEffects(engine.effects, SweepSql(engine.db.dialect))
        self._machines: dict[tuple[str, int], SharedMachine] = {}
        self._integrity_error: type[Exception] = engine.db.dialect.loaded_dbapi.IntegrityError
        self.fallbacks = 0  # counted as it goes: exact when one thread applies at a time

    def transaction(self, work: Callable[[Tx], T]) -> T:
        """``Engine.transaction``, run again once when another process wrote one of the same
        idempotency keys meanwhile (the second run replays them)."""
        try:
            return self.engine.transaction(work)
        except self._integrity_error:
            log.info("an idempotency key of the batch was written meanwhile; running it again")
            return self.engine.transaction(work)

    def apply_in(
        self,
        tx: Tx,
        items: Sequence[BatchItem],
        *,
        actor: str,
        scope: str | None = None,
        now: datetime | None = None,
        locked: Callable[[], None] | None = None,
    ) -> list[BatchResult]:
        """Fire every item's event inside ``tx``; the results in the items' order. ``locked`` is
        called as soon as every item's instance is locked (PostgreSQL: read ``FOR UPDATE``; with
        one wave, before any rule runs): a caller overlapping batches lets the next one lock its
        instances then."""
        now = now or self.engine.clock.now()
        results: dict[int, BatchResult] = {}
        pending = list(enumerate(items))
        loaded: set[int] = set()
        while pending:
            wave: list[tuple[int, BatchItem]] = []
            later: list[tuple[int, BatchItem]] = []
            seen_ids: set[int] = set()
            seen_keys: set[str] = set()
            for pos, item in pending:
                clash = item.instance_id in seen_ids or (
                    item.key is not None and item.key in seen_keys
                )
                seen_ids.add(item.instance_id)
                if item.key is not None:
                    seen_keys.add(item.key)
                (later if clash else wave).append((pos, item))
            # ``locked`` once the waves so far have read (locked) every instance of the call.
            loaded.update(item.instance_id for _, item in wave)
            ready = locked if locked and all(i.instance_id in loaded for _, i in later) else None
            for pos, result in self._wave(tx, wave, actor, scope, now, ready):
                results[pos] = result
            if ready is not None:
                locked = None
            pending = later
        if locked is not None:  # no items
            locked()
        return [results[pos] for pos in range(len(items))]

    # -- one wave: every instance and key at most once ----------------------------------------

    def _wave(
        self,
        tx: Tx,
        wave: list[tuple[int, BatchItem]],
        actor: str,
        scope: str | None,
        now: datetime,
        locked: Callable[[], None] | None = None,
    ) -> list[tuple[int, BatchResult]]:
        rows = self.bulk.load_instances(tx, [item.instance_id for _, item in wave])
        if locked is not None:  # ``apply_in``: the call's instances are all read now
            locked()
        wanted = [item.key for _, item in wave if item.key is not None]
        known = self.bulk.known_keys(tx, scope, wanted) if scope is not None else {}
        results: list[tuple[int, BatchResult]] = []
        moves: list[tuple[int, _Move]] = []
        fallback: list[tuple[int, _Move]] = []
        for pos, item in wave:
            digest = request_hash(item.instance_id, item.event, item.data)
            if scope is not None and item.key is not None and item.key in known:
                results.append((pos, self._replay(item, digest, known[item.key])))
                continue
            row = rows.get(item.instance_id)
            if row is None:
                error = InstanceNotFound(item.instance_id)
                results.append(
                    (pos, BatchResult(item.ref, item.instance_id, item.event, None, error=error))
                )
                continue
            try:
                move = self._decide(tx, row, item, actor, now, digest)
            except WorkflowError as exc:
                results.append(
                    (pos, BatchResult(item.ref, row.id, item.event, row.state, error=exc))
                )
                continue
            # follow-ups and automatic events run on the single-instance path (Engine.fire_in)
            one_by_one = move.ctx.followups or (
                move.ctx.state != row.state and move.definition.automatic_from(move.ctx.state)
            )
            (fallback if one_by_one else moves).append((pos, move))
        done = self._write(tx, [m for _, m in moves], actor, scope, now)
        results += [(pos, result) for (pos, _), result in zip(moves, done, strict=True)]
        results += [(pos, self._fire_one(tx, m, actor, scope, now)) for pos, m in fallback]
        return results

    def _replay(self, item: BatchItem, digest: str, found: tuple[str, Any]) -> BatchResult:
        stored, response = found
        if stored != digest:
            error = IdempotencyConflict(str(item.key))
            return BatchResult(item.ref, item.instance_id, item.event, None, error=error)
        response = dict(response)
        response["followups"] = tuple(response.get("followups") or ())
        replayed = Transition(**{**response, "replayed": True})
        return BatchResult(item.ref, item.instance_id, item.event, None, transition=replayed)

    def _machine(self, definition: ProcessDefinition) -> SharedMachine:
        ident = (definition.key, definition.version)
        machine = self._machines.get(ident)
        if machine is None:
            machine = self._machines[ident] = SharedMachine(definition, self.engine.registry)
        return machine

    def _decide(
        self,
        tx: Tx,
        row: Any,
        item: BatchItem,
        actor: str,
        now: datetime,
        digest: str,
    ) -> _Move:
        """The rules of ``Engine.fire`` for one item, in memory: allowed now, the data clean,
        the guards passed and the actions run (they may change ``ctx.variables``)."""
        engine, event = self.engine, item.event
        definition = engine.allowing(row, event)
        spec = definition.events[event]
        where = f"{row.process}.{event}"
        values = engine.clean_data(tx, row, spec.fields, item.data, where, label=spec.label)
        ctx = engine.context(tx, row, event, values, actor, now)
        try:
            moved = self._machine(definition).fire(ctx)
        except TransitionRefused as refused:
            refused.guard = refused.guard or ctx.refused_by
            raise
        if not moved:
            raise TransitionRefused(
                f"条件未满足：{ctx.refused_by}",
                f"condition not met: {ctx.refused_by}",
                guard=ctx.refused_by,
            )
        return _Move(item, row, definition, ctx, values, digest)

    # -- the set-based writes -----------------------------------------------------------------

    def _write(
        self,
        tx: Tx,
        moves: list[_Move],
        actor: str,
        scope: str | None,
        now: datetime,
    ) -> list[BatchResult]:
        if not moves:
            return []
        groups: dict[tuple[str, int, str], list[_Move]] = {}
        for move in moves:
            ident = (move.definition.key, move.definition.version, move.item.event)
            groups.setdefault(ident, []).append(move)
        for (_, _, event), members in groups.items():
            self._write_group(tx, event, members, actor, now)
        keys = []
        results = []
        for move in moves:
            row, target, event = move.row, move.ctx.state, move.item.event
            done = Transition(row.id, row.process, event, row.state, target, row.version + 1)
            results.append(BatchResult(move.item.ref, row.id, event, row.state, transition=done))
            if scope is not None and move.item.key is not None:
                keys.append(
                    outcomes.key_row(Idempotency(scope, move.item.key), move.digest, done, now)
                )
        self.bulk.insert(tx, self.engine.sql.insert_key, "wf_idempotency_key", keys)
        return results

    def _write_group(
        self, tx: Tx, event: str, moves: list[_Move], actor: str, now: datetime
    ) -> None:
        definition = moves[0].definition
        spec = definition.events[event]
        with_variables = bool(spec.actions)
        updates = []
        history = []
        for move in moves:
            row, target = move.row, move.ctx.state
            variables = move.ctx.variables if with_variables else None
            updates.append(st.instance_move(row, target, now, variables))
            history.append(
                st.history_row(
                    row.id,
                    row.process,
                    event,
                    row.state,
                    target,
                    actor,
                    now,
                    data=self.engine.registry.mask_data(move.values),
                )
            )
        changed = self.bulk.update_instances(tx, updates, with_variables)
        if changed != len(updates):  # the rows are locked: only a foreign writer gets here
            raise ConcurrentModification(updates[0]["iid"])
        self.bulk.insert(tx, self.engine.sql.insert_history, "wf_history", history)
        moved = [m for m in moves if m.ctx.state != m.row.state]
        self._leave(tx, definition, event, moved, actor, now)
        self._enter(tx, definition, moved, now)
        if spec.notices:
            self._notify(tx, spec, moves, now)

    def _leave(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        event: str,
        moved: list[_Move],
        actor: str,
        now: datetime,
    ) -> None:
        """The left states' pending timers cancelled, their open tasks closed: per state."""
        by_state: dict[str, list[int]] = {}
        for move in moved:
            by_state.setdefault(move.row.state, []).append(move.row.id)
        for state, iids in by_state.items():
            self.effects.leave(tx, definition.states[state], iids, event, actor, now)

    def _enter(
        self, tx: Tx, definition: ProcessDefinition, moved: list[_Move], now: datetime
    ) -> None:
        """The entered states' timers and tasks, from the variables after the actions."""
        entered = ((m.row.id, m.ctx.state, m.ctx.variables) for m in moved)
        timer_rows, task_rows = self.effects.entered_rows(definition, entered, now)
        self.bulk.insert(tx, self.engine.sql.insert_timer, "wf_timer", timer_rows)
        self.bulk.insert(tx, self.engine.sql.insert_task, "wf_task", task_rows)

    def _notify(self, tx: Tx, spec: EventSpec, moves: list[_Move], now: datetime) -> None:
        """The event's notices, as ``Engine.fire_in`` writes them (they may show its data)."""
        for move in moves:
            self.engine.notices.write(
                tx,
                spec,
                instance_id=move.row.id,
                process=move.row.process,
                variables=move.ctx.variables,
                data=move.values,
                now=now,
            )

    def _fire_one(
        self, tx: Tx, move: _Move, actor: str, scope: str | None, now: datetime
    ) -> BatchResult:
        """An item whose actions asked for follow-ups: ``Engine.fire_in`` under a savepoint."""
        self.fallbacks += 1
        item, row = move.item, move.row
        tx.cursor.execute("SAVEPOINT shebao_batch")
        try:
            done = self.engine.fire_in(tx, row, item.event, actor, move.values, now=now)
            if scope is not None and item.key is not None:
                idem = Idempotency(scope, item.key)
                outcomes.remember(tx, self.engine.sql, idem, move.digest, done, now)
        except WorkflowError as exc:
            tx.cursor.execute("ROLLBACK TO SAVEPOINT shebao_batch")
            tx.cursor.execute("RELEASE SAVEPOINT shebao_batch")
            return BatchResult(item.ref, row.id, item.event, row.state, error=exc)
        tx.cursor.execute("RELEASE SAVEPOINT shebao_batch")
        return BatchResult(item.ref, row.id, item.event, row.state, transition=done)


__all__ = ["DEFAULT_CHUNK", "BatchFire", "BatchItem", "BatchResult"]
