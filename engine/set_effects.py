"""What entering and leaving a state writes, for a set of instances at once.

The set-based counterpart of ``engine.state_effects`` (one instance at a time), shared by the two
paths that move many instances in one transaction: the timer sweep (``engine.timers``) and the
batch firing of a file's rows (``engine.batch``). Leaving a state cancels the group's pending
timers and closes its open tasks, one UPDATE each (``engine.sweep_statements``); a timer that had
failed is cancelled too, and its instance's open timer incidents closed (one more UPDATE, only
then). Entering builds every entered state's timer and task rows as ``StateEffects`` builds them
for one instance, for the caller to insert in one statement each (``executemany``, or ``COPY``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from engine.definition import ProcessDefinition, StateSpec
from engine.state_effects import StateEffects, closing_status
from engine.sweep_statements import SweepSql
from engine.tx import Tx

Entered = tuple[int, str, Mapping[str, Any]]
"""An instance entering a state: its id, the state, and its variables after the event."""


class SetEffects:
    """Leaving and entering states for groups of instances (see the module)."""

    def __init__(self, effects: StateEffects, sql: SweepSql) -> None:
        self.effects = effects
        self.sql = sql

    def leave(
        self,
        tx: Tx,
        source: StateSpec,
        iids: list[int],
        event: str,
        actor: str,
        now: datetime,
        *,
        cancel_timers: bool = True,
    ) -> None:
        """``iids`` leave ``source`` by ``event``: its pending and failed timers cancelled and
        their incidents closed (unless ``cancel_timers`` is false: the caller has marked them
        otherwise), its open task closed (``completed`` by one of the task's own events,
        ``cancelled`` by any other)."""
        if source.timers and cancel_timers:
            cancelled = tx.all(self.sql.cancel_timers, {"iids": iids})
            failed = sorted({row.instance_id for row in cancelled if row.attempts})
            if failed:  # an incident of a failed timer may be open: closed, the state left
                values = {"iids": failed, "b_now": now, "b_actor": actor}
                tx.run(self.sql.close_timer_incidents, values)
        if source.task:
            values = {
                "iids": iids,
                "b_status": closing_status(source, event),
                "b_now": now,
                "b_actor": actor,
                "b_event": event,
            }
            tx.run(self.sql.close_tasks, values)

    def entered_rows(
        self, definition: ProcessDefinition, entered: Iterable[Entered], now: datetime
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The timer rows and the task rows of the instances ``entered`` (their states' timers,
        due from ``now`` or on a policy date; their states' tasks, scoped by a variable)."""
        timer_rows: list[dict[str, Any]] = []
        task_rows: list[dict[str, Any]] = []
        for iid, state, variables in entered:
            spec = definition.states[state]
            if spec.timers:
                timer_rows += self.effects.timer_rows(definition, state, iid, variables, now)
            if spec.task is not None:
                task = self.effects.task_row(definition, state, iid, variables, now)
                if task is not None:
                    task_rows.append(task)
        return timer_rows, task_rows
