"""Set-based firing of one group of due timers: the timer sweep's fast path.

A group is the claimed timers of one wave (at most one per instance, ``engine.timer_order``) of
one (process, definition version, state, event) whose event has no guard and no action
(``engine.timers`` groups them and fires the others one by one). The whole group fires in a
handful of statements inside the sweep's transaction: one UPDATE of the instances still in the
timer's state, one ``INSERT INTO wf_history ... SELECT`` (due time and firing time), the timers
marked fired, the source state's other timers and open task closed and the target state's timers
and task created by ``executemany`` (``engine.set_effects``, shared with the batch files), and the
event's notices (``engine.notices``) written by one ``executemany``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.definition import EventSpec, ProcessDefinition
from engine.errors import ConcurrentModification
from engine.runtime import Engine
from engine.set_effects import SetEffects
from engine.sweep_statements import SweepSql
from engine.tx import Tx


class SetFiring:
    """Fires groups of due timers set-based, for one sweep (its statements and actor)."""

    def __init__(self, engine: Engine, sql: SweepSql, actor: str) -> None:
        self.engine = engine
        self.sql = sql
        self.actor = actor
        self.effects = SetEffects(engine.effects, sql)

    def fire(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        spec: EventSpec,
        state: str,
        live: list[Any],
        now: datetime,
        quiet: frozenset[int] = frozenset(),
    ) -> list[int]:
        """Fire ``spec`` on the instances of ``live`` (claimed timer rows whose instance is in
        ``state``, one per instance); returns the ids of the timers fired. The timers of
        ``quiet`` (ids) write no notices (overtaken in a catch-up, ``engine.timers``).

        Raises:
            ConcurrentModification: an instance was not in ``state`` after all (the claim locked
                them: only a bug or a writer outside the engine gets here).
        """
        if not live:
            return []
        iids, tids, target = [r.instance_id for r in live], [r.id for r in live], spec.target
        moved = tx.run(
            self.sql.move_instances,
            {"iids": iids, "b_from": state, "b_state": target, "b_now": now},
        )
        if moved != len(iids):
            raise ConcurrentModification(iids[0])
        base = {"b_event": spec.name, "b_from": state, "b_state": target, "b_now": now}
        tx.run(self.sql.insert_history, {**base, "tids": tids, "b_actor": self.actor})
        tx.run(self.sql.fire_timers, {"tids": tids, "b_now": now})
        if target != state:
            self._leave(tx, definition, state, spec.name, iids, now)
            self._enter(tx, definition, target, iids, now)
        told = [r.instance_id for r in live if r.id not in quiet] if quiet else iids
        if spec.notices and told:
            self._notify(tx, definition, spec, told, now)
        return tids

    def _notify(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        spec: EventSpec,
        iids: list[int],
        now: datetime,
    ) -> None:
        """The event's notices for the whole group: one read of the variables, one insert."""
        variables = {r.id: r.variables or {} for r in tx.all(self.sql.variables, {"iids": iids})}
        self.engine.notices.write_batch(tx, spec, definition.key, variables, now)

    def _leave(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        state: str,
        event: str,
        iids: list[int],
        now: datetime,
    ) -> None:
        source = definition.states[state]
        # With one timer, the one just fired (marked fired already) was its only pending one.
        self.effects.leave(
            tx, source, iids, event, self.actor, now, cancel_timers=len(source.timers) > 1
        )

    def _enter(
        self, tx: Tx, definition: ProcessDefinition, target: str, iids: list[int], now: datetime
    ) -> None:
        spec = definition.states[target]
        if not spec.timers and spec.task is None:
            return
        needs_variables = any(t.policy for t in spec.timers) or bool(
            spec.task and (spec.task.scope or spec.task.due_policy)
        )
        variables: dict[int, Any] = {}
        if needs_variables:
            variables = {r.id: r.variables for r in tx.all(self.sql.variables, {"iids": iids})}
        entered = ((iid, target, variables.get(iid) or {}) for iid in iids)
        timer_rows, task_rows = self.effects.entered_rows(definition, entered, now)
        tx.many(self.engine.sql.insert_timer, timer_rows)
        tx.many(self.engine.sql.insert_task, task_rows)
