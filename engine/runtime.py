"""The Engine facade: start an instance, fire an event, complete a task; one transaction each.

A firing loads the instance row, asks the definition's shared Machine whether the event may happen
(guards run there), writes the new state with ``version = version + 1 WHERE version = :seen``
(optimistic lock), appends history, closes the old state's timers and tasks, opens the new state's,
writes the notices the event declares to the outbox (``engine.notices``), and commits. A lost race
is retried from a fresh read; an event that is not allowed raises a typed error naming the events
allowed now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine as SqlEngine

from engine import follow_ups
from engine import statements as st
from engine.catalog import DefinitionCatalog
from engine.clock import Clock, SystemClock
from engine.definition import ProcessDefinition
from engine.errors import (
    ConcurrentModification,
    DataInvalid,
    EventNotAllowed,
    TransitionRefused,
)
from engine.event_data import EventData
from engine.instance_access import InstanceAccess
from engine.machine import SharedMachine
from engine.notices import NoticeWriter
from engine.outcomes import Idempotency, Transition, request_hash
from engine.registry import Registry
from engine.state_effects import StateEffects
from engine.statements import HotPath
from engine.tasks import TaskOperations
from engine.transactions import Transactions
from engine.tx import Tx
from engine.writers import Writers

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine(DefinitionCatalog, InstanceAccess, Transactions, TaskOperations, EventData):
    """Runs process instances of the loaded definitions against one database.

    Args:
        db: the SQLAlchemy engine (tables created by the migrations).
        definitions: every definition version instances may point at.
        registry: guards, actions and policy dates the definitions name.
        clock: where time comes from; the system clock unless injected.
    """

    def __init__(
        self,
        db: SqlEngine,
        definitions: Iterable[ProcessDefinition],
        registry: Registry,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.dialect: str = db.dialect.name
        self.writers = Writers(db)
        self.sql = HotPath(db.dialect)
        self._integrity_error: type[Exception] = db.dialect.loaded_dbapi.IntegrityError
        self.registry = registry
        self.clock: Clock = clock or SystemClock()
        self._definitions: dict[tuple[str, int], ProcessDefinition] = {}
        self._latest: dict[str, ProcessDefinition] = {}
        self._machines: dict[tuple[str, int], SharedMachine] = {}
        self._source = None
        self._seen = None
        self._next_look = 0.0
        self._follow_lock = threading.Lock()
        self.effects = StateEffects(registry, self.sql)
        self.notices = NoticeWriter(registry, db.dialect)
        self._rehearsal: ContextVar[Any] = ContextVar(f"rehearsal-{id(self)}", default=None)
        self.install(definitions)

    # -- start -------------------------------------------------------------------------------

    def start(
        self,
        process: str,
        *,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        actor: str = "system",
        state: str | None = None,
        data: Mapping[str, Any] | None = None,
        exclusive_in: Collection[str] = (),
    ) -> Transition:
        """Create an instance of the latest version of ``process`` in its initial state.

        Args:
            exclusive_in: refuse (``DuplicateInstance``) when an instance of ``process`` with the
                same business key is in one of these states; checked under a lock on the key.
        """
        definition = self.definition(process)
        initial = state or definition.initial[0]
        if initial not in definition.initial:
            raise EventNotAllowed(
                "start", initial, [f"start:{s}" for s in definition.initial], definition
            )
        values = dict(variables or {})
        if exclusive_in and business_key is None:
            raise ValueError("exclusive_in needs a business key")

        def work(tx: Tx) -> Transition:
            if exclusive_in:
                self.check_exclusive(tx, process, str(business_key), exclusive_in)
            return self.start_in(tx, definition, initial, business_key, values, actor, data)

        return self.transaction(work)

    def start_in(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        state: str,
        business_key: str | None,
        variables: dict[str, Any],
        actor: str,
        data: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Transition:
        """Start an instance inside the caller's transaction (bulk imports, the demo)."""
        now = now or self.clock.now()
        instance_id = tx.insert(
            self.sql.insert_instance,
            {
                "process": definition.key,
                "definition_version": definition.version,
                "business_key": business_key,
                "state": state,
                "version": 1,
                "variables": variables,
                "created_at": now,
                "updated_at": now,
                "state_entered_at": now,
            },
        )
        tx.run(
            self.sql.insert_history,
            st.history_row(
                instance_id,
                definition.key,
                "start",
                None,
                state,
                actor,
                now,
                data=self.registry.mask_data(data),
            ),
        )
        self.effects.enter(tx, definition, state, instance_id, variables, now)
        started = Transition(instance_id, definition.key, "start", None, state, 1)
        if not definition.automatic_from(state):
            return started
        moved = follow_ups.automatic(
            self, tx, definition, state, instance_id, actor, now, follow_ups.new_budget()
        )
        return started.with_followups([moved]) if moved else started

    # -- fire --------------------------------------------------------------------------------

    def fire(
        self,
        instance_id: int,
        event: str,
        *,
        actor: str = "system",
        data: Mapping[str, Any] | None = None,
        idempotency: Idempotency | None = None,
        admit: Callable[[Any], None] | None = None,
        respect_claims: bool = False,
    ) -> Transition:
        """Fire ``event`` on an instance in one transaction.

        ``admit`` is the caller's own check of the instance row as the transaction read it (its
        process, state, variables: whether this caller may send this event to it), run before
        anything else; what it raises ends the transaction with nothing written. A replayed
        delivery answers its recorded result: the check ran when it was first applied.

        ``respect_claims``: the event comes from outside (an outside system through the API) and
        is held to what completing the task would be: when it is an outcome of the open task of
        the instance's state and someone other than ``actor`` holds that task (claimed, or
        delegated), it is refused as ``complete_task`` refuses it (``TaskClaimedByOther``,
        ``TaskDelegated``), in this transaction, before the data is checked: nothing is written
        and no refused attempt is counted. Off for the engine's own firings (timers, the
        scheduler, follow-ups), which a claim never blocks.

        Raises:
            InstanceNotFound, UnknownEvent, EventNotAllowed, TransitionRefused,
            IdempotencyConflict, ConcurrentModification (after retries).
        """
        payload = dict(data or {})

        def work(tx: Tx) -> Transition:
            row = self.load(tx, instance_id)
            if admit is not None:
                admit(row)
            definition = self.allowing(row, event)
            if respect_claims:
                self.refuse_if_held(tx, row, definition, event, actor)
            spec = definition.events[event]
            where = f"{row.process}.{event}"
            values = self.clean_data(tx, row, spec.fields, payload, where, label=spec.label)
            return self.fire_in(tx, row, event, actor, values)

        try:
            if idempotency is None:
                return self.transaction(work, pipelined=True)
            return self.run_idempotent(
                idempotency,
                request_hash(instance_id, event, payload),
                work,
                ahead_under_lock=lambda tx, lock: self.read_instance_under_lock(
                    tx, instance_id, lock
                ),
            )
        except TransitionRefused as refused:
            self.record_refused_event(instance_id, event, actor, refused)
            raise
        except DataInvalid as invalid:
            if invalid.checked:  # a verification failed; malformed data changes nothing
                self.record_refused_event(instance_id, event, actor, invalid)
            raise

    def fire_in(
        self,
        tx: Tx,
        row: Any,
        event: str,
        actor: str,
        data: Mapping[str, Any],
        *,
        due_at: datetime | None = None,
        task_id: int | None = None,
        now: datetime | None = None,
        budget: list[int] | None = None,
        notify: bool = True,
    ) -> Transition:
        """Fire ``event`` on a loaded instance row inside the caller's transaction (at ``now``,
        the clock's time unless given: the timer sweep passes its own). The follow-ups its
        actions ask for (``ctx.emit``, ``ctx.start``) run here too, after it, in the same
        transaction; ``budget`` bounds how many a chain of them may run. ``notify=False``: the
        event's own notices are not written (a timer's overtaken in a catch-up,
        ``engine.timers``)."""
        ident = (row.process, row.definition_version)
        definition = self.allowing(row, event)
        state = row.state
        spec = definition.events[event]
        now = now or self.clock.now()
        ctx = self.context(tx, row, event, data, actor, now)
        variables = ctx.variables
        try:
            moved = self._machines[ident].fire(ctx)
        except TransitionRefused as refused:
            refused.guard = refused.guard or ctx.refused_by
            raise
        if not moved:
            raise TransitionRefused(
                f"条件未满足：{ctx.refused_by}",
                f"condition not met: {ctx.refused_by}",
                guard=ctx.refused_by,
            )
        target = ctx.state
        # the version check: another writer since our read makes it change no row
        if spec.actions and variables != (row.variables or {}):  # unchanged: not written again
            params = st.instance_move(row, target, now, variables)
            statement = self.sql.update_instance_with_variables
        else:
            params, statement = st.instance_move(row, target, now), self.sql.update_instance
        tx.expect(statement, params, 1, lambda: ConcurrentModification(row.id))
        tx.send(
            self.sql.insert_history,
            st.history_row(
                row.id,
                row.process,
                event,
                state,
                target,
                actor,
                now,
                data=self.registry.mask_data(data),
                due_at=due_at,
                task_id=task_id,
            ),
        )
        if target != state:
            self.effects.leave(tx, definition.states[state], row.id, event, actor, now)
            self.effects.enter(tx, definition, target, row.id, variables, now)
        if spec.notices and notify:  # the outbox: written with the transition, rolled back with it
            self.notices.write(
                tx,
                spec,
                instance_id=row.id,
                process=row.process,
                variables=variables,
                data=data,
                now=now,
            )
        done = Transition(row.id, row.process, event, state, target, row.version + 1)
        automatic = target != state and bool(definition.automatic_from(target))
        if not ctx.followups and not automatic:
            return done
        budget = budget if budget is not None else follow_ups.new_budget()
        cause = {"instance_id": row.id, "process": row.process, "event": event}
        followed = [
            done_too
            for f in ctx.followups
            if (done_too := follow_ups.follow(self, tx, f, actor, now, cause, budget)) is not None
        ]
        if automatic:
            then = follow_ups.automatic(self, tx, definition, target, row.id, actor, now, budget)
            followed += [then] if then else []
        return done.with_followups(followed)
