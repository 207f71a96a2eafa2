"""User-task operations of the Engine: claim, release, complete with the task's form.

Completing a task fires one of its events on the instance in the same transaction, so the task
closes exactly when its state is left; a task that someone else completed, or that belongs to a
state the instance has left, is refused with a typed error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import (
    InvalidTaskOutcome,
    TaskClaimedByOther,
    TaskFormInvalid,
    TaskNotFound,
    TaskNotOpen,
)
from engine.outcomes import Idempotency, Transition, request_hash
from engine.sqlexec import Tx

if TYPE_CHECKING:
    from engine.definition import ProcessDefinition
    from engine.specs import FormField
    from engine.statements import HotPath

T = TypeVar("T")


class TaskOperations:
    """Mixed into ``Engine``; relies on its transaction, load, definition and fire_in."""

    sql: HotPath

    if TYPE_CHECKING:

        def transaction(self, work: Callable[[Tx], T], retries: int = 3) -> T: ...

        def load(self, tx: Tx, instance_id: int) -> Any: ...

        def definition(self, key: str, version: int | None = None) -> ProcessDefinition: ...

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
        ) -> Transition: ...

        def run_idempotent(
            self, idempotency: Idempotency, digest: str, work: Callable[[Tx], Transition]
        ) -> Transition: ...

        def clean_data(
            self,
            tx: Tx,
            row: Any,
            fields: tuple[FormField, ...],
            data: Mapping[str, Any],
            where: str,
            error: Callable[[list[Any]], Exception] | None = None,
        ) -> dict[str, Any]: ...

    def complete_task(
        self,
        task_id: int,
        *,
        actor: str,
        data: Mapping[str, Any] | None = None,
        outcome: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> Transition:
        """Complete an open task with one of its events; the instance moves on."""
        payload = dict(data or {})

        def work(tx: Tx) -> Transition:
            task = self._open_task(tx, task_id, actor)
            row = self.load(tx, task.instance_id)
            definition = self.definition(row.process, row.definition_version)
            spec = definition.states[task.state].task
            if row.state != task.state or spec is None:
                raise TaskNotOpen(task_id, "stale")
            choices = spec.events or definition.outgoing(task.state)
            event = outcome or choices[0]
            if event not in choices:
                raise InvalidTaskOutcome(task_id, event, choices)
            values = self.clean_data(
                tx,
                row,
                spec.form,
                payload,
                f"task {task_id}",
                error=lambda problems: TaskFormInvalid(task_id, problems),
            )
            return self.fire_in(tx, row, event, actor, values, task_id=task_id)

        if idempotency is None:
            return self.transaction(work)
        return self.run_idempotent(idempotency, request_hash(task_id, outcome, payload), work)

    def claim_task(self, task_id: int, actor: str) -> None:
        """Claim an open task for ``actor`` (claiming one's own claim again is fine)."""

        def work(tx: Tx) -> None:
            if tx.run(self.sql.claim_task, {"tid": task_id, "actor": actor}) != 1:
                self._explain_task(tx, task_id, actor)

        self.transaction(work)

    def release_task(self, task_id: int, actor: str) -> None:
        """Give a claimed task back to the group."""

        def work(tx: Tx) -> None:
            if tx.run(self.sql.release_task, {"tid": task_id, "actor": actor}) != 1:
                self._explain_task(tx, task_id, actor)

        self.transaction(work)

    def _open_task(self, tx: Tx, task_id: int, actor: str) -> Any:
        """The task row, if it is open and not claimed by someone else; a typed error otherwise."""
        task = tx.one(self.sql.select_task, {"tid": task_id})
        if task is None:
            raise TaskNotFound(task_id)
        if task.status != "open":
            raise TaskNotOpen(task_id, task.status)
        if task.assignee and task.assignee != actor:
            raise TaskClaimedByOther(task_id, task.assignee)
        return task

    def _explain_task(self, tx: Tx, task_id: int, actor: str) -> None:
        """Why a claim or release changed no row (raises), if the task itself explains it."""
        self._open_task(tx, task_id, actor)
