"""What entering and leaving a state writes: the state's timers and its user task.

Entering creates the state's timer rows (a duration from now, or a policy date the registry
resolves) and its task row (scoped by an instance variable); leaving cancels the pending timers and
closes the open task: ``completed`` when the event is one of the task's own, ``cancelled`` otherwise.
A timer that failed every attempt is cancelled too, and its open incident closed (resolution
``state_left``): nothing is left to retry once the instance has left the timer's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.definition import ProcessDefinition, StateSpec, TaskSpec
from engine.registry import Registry
from engine.statements import HotPath
from engine.tx import Tx


def closing_status(spec: StateSpec, event: str) -> str:
    """How leaving ``spec`` by ``event`` closes its task: by one of the task's own events it was
    completed, by any other (a timer, a cancellation) it was cancelled."""
    return "completed" if spec.task is not None and event in spec.task.events else "cancelled"


class StateEffects:
    def __init__(self, registry: Registry, sql: HotPath) -> None:
        self.registry = registry
        self.sql = sql

    def timer_rows(
        self,
        definition: ProcessDefinition,
        state: str,
        instance_id: int,
        variables: Mapping[str, Any],
        now: datetime,
    ) -> list[dict[str, Any]]:
        rows = []
        for timer in definition.states[state].timers:
            if timer.after is not None:
                due, ref = timer.after.after(now, self.registry.calendar), None
            else:
                assert timer.policy is not None
                due, ref = self.registry.resolve_policy_date(timer.policy, variables, now)
            rows.append(
                {
                    "instance_id": instance_id,
                    "process": definition.key,
                    "state": state,
                    "event": timer.event,
                    "due_at": due,
                    "status": "pending",
                    "policy_ref": ref,
                    "created_at": now,
                    "fired_at": None,
                }
            )
        return rows

    def task_row(
        self,
        definition: ProcessDefinition,
        state: str,
        instance_id: int,
        variables: Mapping[str, Any],
        now: datetime,
    ) -> dict[str, Any] | None:
        task = definition.states[state].task
        if task is None:
            return None
        scope = variables.get(task.scope) if task.scope else None
        return {
            "instance_id": instance_id,
            "process": definition.key,
            "name": task.name,
            "state": state,
            "candidate_group": task.candidate_group,
            "scope": None if scope is None else str(scope),
            "status": "open",
            "assignee": None,
            "created_at": now,
            "due_at": self.task_due(task, variables, now),
            "closed_at": None,
            "closed_by": None,
            "outcome": None,
        }

    def task_due(
        self, task: TaskSpec, variables: Mapping[str, Any], now: datetime
    ) -> datetime | None:
        """When a task entered at ``now`` is due: its duration from then, or the policy value
        its due date names (resolved as a policy timer's), or None."""
        if task.due is not None:
            return task.due.after(now, self.registry.calendar)
        if task.due_policy is None:
            return None
        return self.registry.resolve_policy_date(task.due_policy, variables, now)[0]

    def enter(
        self,
        tx: Tx,
        definition: ProcessDefinition,
        state: str,
        instance_id: int,
        variables: Mapping[str, Any],
        now: datetime,
    ) -> None:
        timer_rows = self.timer_rows(definition, state, instance_id, variables, now)
        if timer_rows:
            tx.many(self.sql.insert_timer, timer_rows)
        task_row = self.task_row(definition, state, instance_id, variables, now)
        if task_row:
            tx.send(self.sql.insert_task, task_row)

    def leave(
        self, tx: Tx, spec: StateSpec, instance_id: int, event: str, actor: str, now: datetime
    ) -> None:
        if spec.timers:
            self.cancel_timers(tx, instance_id, actor, now)
        if spec.task:
            status = closing_status(spec, event)
            tx.send(
                self.sql.close_tasks,
                {
                    "iid": instance_id,
                    "b_status": status,
                    "b_now": now,
                    "b_actor": actor,
                    "b_event": event,
                },
            )

    def cancel_timers(self, tx: Tx, instance_id: int, actor: str, now: datetime) -> None:
        """Cancel the instance's pending and failed timers, and close the open incidents of its
        timers (``actor`` closes them). In a pipeline the two go out fused with the firing's
        other writes (no round trip of their own); otherwise the cancel tells whether a
        cancelled timer had failed attempts, and only then are incidents looked for."""
        closing = {"iid": instance_id, "b_now": now, "b_actor": actor}
        if tx.pipeline is not None:
            tx.send(self.sql.cancel_timers, {"iid": instance_id})
            tx.send(self.sql.close_timer_incidents, closing)
        elif any(row.attempts for row in tx.all(self.sql.cancel_timers_returning, closing)):
            tx.run(self.sql.close_timer_incidents, closing)
