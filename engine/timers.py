"""The timer sweep: claim due timers in chunks and fire them, one all-or-nothing transaction each.

Timers are rows (``engine.state_effects`` creates them on entering a state and cancels them on
leaving it); this module owns firing the due ones and moving the ones derived from a policy date.

A chunk claims up to ``chunk`` pending timers with ``due_at <= now`` in due order, together with
their instances (``FOR UPDATE ... SKIP LOCKED`` on PostgreSQL, so any number of sweeping processes
share the work and each timer fires once; SQLite has one writer, ``BEGIN IMMEDIATE``). The claimed
timers are grouped by (process, definition version, state, event). A group whose event has no guard
and no action fires set-based: one UPDATE of the instances still in the timer's state, one
``INSERT INTO wf_history ... SELECT`` (due time and firing time), the timers marked fired, the
source state's other timers and open task closed, the target state's timers and task created by
``executemany``. A group with guards or actions fires per instance through ``Engine.fire_in``
inside the same transaction, each under a savepoint: a refusal marks its timer ``failed`` and the
chunk goes on. A claimed timer whose instance has left its state is ``cancelled`` (stale).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from engine.definition import EventSpec, ProcessDefinition
from engine.errors import ConcurrentModification, UnknownProcess, WorkflowError
from engine.runtime import Engine
from engine.sqlexec import Tx
from engine.state_effects import closing_status
from engine.statements import SweepSql

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 5000
ACTOR = "scheduler"
_ATTEMPTS = 5


@dataclass
class SweepReport:
    """What one sweep (or one chunk of it) did.

    Attributes:
        claimed: due timers claimed.
        fired: timers whose event fired (history rows written).
        failed: timers whose event a guard or action refused (status ``failed``).
        stale: claimed timers whose instance had left the timer's state (``cancelled``).
        chunks: transactions that claimed at least one timer.
    """

    claimed: int = 0
    fired: int = 0
    failed: int = 0
    stale: int = 0
    chunks: int = 0

    def add(self, other: SweepReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class TimerSweep:
    """Fires due timers of one engine's database.

    Args:
        engine: the engine (definitions, registry, clock, database).
        chunk: timers per transaction.
        actor: the actor history records for timer firings.
    """

    def __init__(self, engine: Engine, chunk: int = DEFAULT_CHUNK, actor: str = ACTOR) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self.engine = engine
        self.chunk = chunk
        self.actor = actor
        self.sql = SweepSql(engine.db.dialect)
        assert not any(self.sql.claim.result_processors), "the claim reads raw driver rows"
        self._retryable: type[Exception] = engine.db.dialect.loaded_dbapi.OperationalError

    def sweep(self, now: datetime | None = None, max_chunks: int | None = None) -> SweepReport:
        """Fire every timer due at ``now`` (the engine clock's time by default), chunk by chunk,
        until none is left that this process can claim."""
        moment = now or self.engine.clock.now()
        total = SweepReport()
        while max_chunks is None or total.chunks < max_chunks:
            done = self.sweep_chunk(moment)
            total.add(done)
            if done.claimed == 0:
                break
        return total

    def sweep_chunk(self, now: datetime) -> SweepReport:
        """Claim and fire one chunk in one transaction; retried whole after a deadlock."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self.engine.transaction(lambda tx: self._chunk(tx, now))
            except self._retryable as exc:
                if attempt == _ATTEMPTS:
                    raise
                log.warning("timer chunk rolled back (%s); retrying (attempt %d)", exc, attempt)
        raise AssertionError("unreachable")

    # -- one chunk ----------------------------------------------------------------------------

    def _chunk(self, tx: Tx, now: datetime) -> SweepReport:
        rows = self._claim(tx, now)
        report = SweepReport(claimed=len(rows), chunks=1 if rows else 0)
        if not rows:
            return report
        states = {row.instance_id: row.instance_state for row in rows}
        groups: dict[tuple[str, int, str, str], list[Any]] = {}
        for row in rows:
            key = (row.process, row.definition_version, row.state, row.event)
            groups.setdefault(key, []).append(row)
        handled: set[int] = set()
        for (process, version, state, event), members in groups.items():
            try:
                definition = self.engine.definition(process, version)
            except UnknownProcess:
                definition = None
            spec = definition.events.get(event) if definition else None
            if definition is None or spec is None or event not in definition.outgoing(state):
                log.error("timer event %s does not leave %s v%s %s", event, process, version, state)
                self._mark(tx, [r.id for r in members], "failed", handled, report)
                continue
            live = self._live(members, states, state)
            if spec.guards or spec.actions:
                self._fire_each(tx, live, now, states, handled, report)
            else:
                self._fire_set(tx, definition, spec, state, live, now, states, handled, report)
        stale = [row.id for row in rows if row.id not in handled]
        if stale:
            report.stale += tx.run(self.sql.mark_timers, {"tids": stale, "b_status": "cancelled"})
        return report

    def _claim(self, tx: Tx, now: datetime) -> list[Any]:
        """Lock and read the chunk. Its columns (ids, names) need no result processing, so the
        driver's tuples become rows directly (thousands per chunk: this is the hot loop)."""
        claim = self.sql.claim
        tx.cursor.execute(claim.sql, claim.bind({"b_now": now, "n": self.chunk}))
        make = claim.row_type._make
        return [make(raw) for raw in tx.cursor.fetchall()]

    @staticmethod
    def _live(members: Sequence[Any], states: dict[int, str], state: str) -> list[Any]:
        """The members whose instance is (still) in ``state``, one timer per instance."""
        seen: set[int] = set()
        live = []
        for row in members:
            if states.get(row.instance_id) == state and row.instance_id not in seen:
                seen.add(row.instance_id)
                live.append(row)
        return live

    def _mark(
        self, tx: Tx, tids: list[int], status: str, handled: set[int], report: SweepReport
    ) -> None:
        report.failed += tx.run(self.sql.mark_timers, {"tids": tids, "b_status": status})
        handled.update(tids)

    def _fire_set(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        spec: EventSpec,
        state: str,
        live: list[Any],
        now: datetime,
        states: dict[int, str],
        handled: set[int],
        report: SweepReport,
    ) -> None:
        if not live:
            return
        iids, tids, target = [r.instance_id for r in live], [r.id for r in live], spec.target
        moved = tx.run(
            self.sql.move_instances,
            {"iids": iids, "b_from": state, "b_state": target, "b_now": now},
        )
        if moved != len(iids):  # the claim locked them: only a bug or a foreign writer gets here
            raise ConcurrentModification(iids[0])
        base = {"b_event": spec.name, "b_from": state, "b_state": target, "b_now": now}
        tx.run(self.sql.insert_history, {**base, "tids": tids, "b_actor": self.actor})
        tx.run(self.sql.fire_timers, {"tids": tids, "b_now": now})
        if target != state:
            self._leave(tx, definition, state, spec.name, iids, now)
            self._enter(tx, definition, target, iids, now)
            states.update(dict.fromkeys(iids, target))
        handled.update(tids)
        report.fired += len(tids)

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
        if len(source.timers) > 1:  # with one timer, the one just fired was its only pending one
            tx.run(self.sql.cancel_timers, {"iids": iids})
        if source.task:
            status = closing_status(source, event)
            tx.run(
                self.sql.close_tasks,
                {
                    "iids": iids,
                    "b_status": status,
                    "b_now": now,
                    "b_actor": self.actor,
                    "b_event": event,
                },
            )

    def _enter(
        self, tx: Tx, definition: ProcessDefinition, target: str, iids: list[int], now: datetime
    ) -> None:
        spec, effects = definition.states[target], self.engine.effects
        if not spec.timers and spec.task is None:
            return
        needs_variables = any(t.policy for t in spec.timers) or bool(spec.task and spec.task.scope)
        variables: dict[int, Any] = {}
        if needs_variables:
            variables = {r.id: r.variables for r in tx.all(self.sql.variables, {"iids": iids})}
        timer_rows: list[dict[str, Any]] = []
        task_rows: list[dict[str, Any]] = []
        for iid in iids:
            values = variables.get(iid) or {}
            timer_rows += effects.timer_rows(definition, target, iid, values, now)
            task = effects.task_row(definition, target, iid, values, now)
            if task is not None:
                task_rows.append(task)
        tx.many(self.engine.sql.insert_timer, timer_rows)
        tx.many(self.engine.sql.insert_task, task_rows)

    def _fire_each(
        self,
        tx: Tx,
        live: list[Any],
        now: datetime,
        states: dict[int, str],
        handled: set[int],
        report: SweepReport,
    ) -> None:
        """Guards or actions: fire per instance, each under a savepoint a refusal rolls back."""
        for row in live:
            if states.get(row.instance_id) != row.state:
                continue  # an earlier group of this chunk moved it
            tx.cursor.execute("SAVEPOINT shebao_timer")
            try:
                # Marked first, so that leaving the state does not cancel the timer being fired.
                tx.run(self.sql.fire_timers, {"tids": [row.id], "b_now": now})
                due = tx.one(self.sql.timer_due, {"tid": row.id}).due_at
                instance = self.engine.load(tx, row.instance_id)
                done = self.engine.fire_in(
                    tx, instance, row.event, self.actor, {}, due_at=due, now=now
                )
            except Exception as exc:  # noqa: BLE001 - a refused timer must not abort the chunk
                tx.cursor.execute("ROLLBACK TO SAVEPOINT shebao_timer")
                tx.cursor.execute("RELEASE SAVEPOINT shebao_timer")
                log.warning(
                    "timer %s (%s on instance %s) failed: %s",
                    row.id,
                    row.event,
                    row.instance_id,
                    exc,
                    exc_info=not isinstance(exc, WorkflowError),
                )
                self._mark(tx, [row.id], "failed", handled, report)
                continue
            tx.cursor.execute("RELEASE SAVEPOINT shebao_timer")
            states[row.instance_id] = done.to_state
            handled.add(row.id)
            report.fired += 1


def move_policy_timers(
    engine: Engine, *, reload: bool = True, on_unknown: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Move every pending timer derived from a policy date to the date the policies give now.

    Args:
        engine: the engine whose registry resolves policy references.
        reload: re-read the policy files first (``Registry.reload_policies``).
        on_unknown: called with a reference the policies no longer know (left unchanged).

    Returns:
        The number of timers moved, per policy reference that moved any.
    """
    if reload:
        engine.registry.reload_policies()
    sql = SweepSql(engine.db.dialect)

    def work(tx: Tx) -> dict[str, int]:
        moved: dict[str, int] = {}
        for row in tx.all(sql.policy_refs, {}):
            try:
                due = engine.registry.resolve_policy_ref(row.policy_ref)
            except (LookupError, ValueError) as exc:
                log.warning("pending timers name %s: %s", row.policy_ref, exc)
                if on_unknown:
                    on_unknown(row.policy_ref)
                continue
            count = tx.run(sql.move_policy_timers, {"ref": row.policy_ref, "b_due": due})
            if count:
                log.info("moved %d pending timers of %s to %s", count, row.policy_ref, due)
                moved[row.policy_ref] = count
        return moved

    return engine.transaction(work)
