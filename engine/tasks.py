"""User-task operations of the Engine: claim, release, complete with the task's form.

Completing a task fires one of its events on the instance in the same transaction, so the task
closes exactly when its state is left; a task that someone else completed, or that belongs to a
state the instance has left, is refused with a typed error. A completion a check refuses (a guard
said no, or a field's check refused its value) changes nothing of the task but its count of
refused ``attempts``, and is recorded in the instance's history (event ``task_refused``, the state
unchanged, the reason as the check gave it, the task's claimant untouched), whichever door the
completion came by; one that names its submission (a page's form: its one-time id and values) is
counted once, the same submission sent again (a reload) being refused again but neither counted
nor recorded again. A malformed submission (a field missing, unknown or of the wrong type) is bad
input, not a failed check: refused with its problems, it changes nothing. ``check_task_form``
checks a completion as ``complete_task`` would without firing (a page asks it before a
confirmation). An event sent straight to the instance by an outside system that is an outcome of
a task someone holds is refused as completing that task would be (``refuse_if_held``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engine import statements as st
from engine.errors import (
    DataInvalid,
    InvalidTaskOutcome,
    TaskClaimedByOther,
    TaskDelegated,
    TaskFormInvalid,
    TaskNotFound,
    TaskNotOpen,
    TransitionRefused,
)
from engine.outcomes import Idempotency, Transition, request_hash
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.definition import ProcessDefinition
    from engine.registry import Registry
    from engine.specs import FormField, Label
    from engine.statements import HotPath

T = TypeVar("T")

REFUSED = "task_refused"
"""The history event of a completion a check refused (the instance stays where it was)."""


class TaskOperations:
    """Mixed into ``Engine``; relies on its transaction, load, definition and fire_in."""

    sql: HotPath
    clock: Clock
    registry: Registry

    if TYPE_CHECKING:

        def transaction(
            self, work: Callable[[Tx], T], retries: int = 3, *, pipelined: bool = False
        ) -> T: ...

        def read(self, work: Callable[[Tx], T]) -> T: ...

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
            self,
            idempotency: Idempotency,
            digest: str,
            work: Callable[[Tx], Transition],
            *,
            ahead: Callable[[Tx], object] | None = None,
            ahead_under_lock: Callable[[Tx, str], bool] | None = None,
        ) -> Transition: ...

        def clean_data(
            self,
            tx: Tx,
            row: Any,
            fields: tuple[FormField, ...],
            data: Mapping[str, Any],
            where: str,
            error: Callable[[list[Any]], Exception] | None = None,
            label: Label | None = None,
        ) -> dict[str, Any]: ...

    def complete_task(
        self,
        task_id: int,
        *,
        actor: str,
        data: Mapping[str, Any] | None = None,
        outcome: str | None = None,
        idempotency: Idempotency | None = None,
        submission: str | None = None,
    ) -> Transition:
        """Complete an open task with one of its events (``outcome``; may be left out only when
        the task has one); the instance moves on. ``submission``: the key of what was sent (a
        page's form: its one-time id and values), by which a refusal is counted once: the same
        submission sent again (a reload) is refused again, not counted or recorded again. Without
        one, a completion with an ``idempotency`` key is its own submission (the key and what was
        sent): a client retrying a refused request with the same key makes one attempt, as a
        retried success replays one result."""
        payload = dict(data or {})

        def work(tx: Tx) -> Transition:
            row, event, values = self._completion(tx, task_id, actor, outcome, payload)
            return self.fire_in(tx, row, event, actor, values, task_id=task_id)

        digest = request_hash(task_id, outcome, payload)
        if submission is None and idempotency is not None:
            submission = _retry_key(idempotency, digest)
        try:
            if idempotency is None:
                return self.transaction(work, pipelined=True)
            return self.run_idempotent(
                idempotency,
                digest,
                work,
                ahead=lambda tx: tx.read_ahead(self.sql.select_task, {"tid": task_id}),
            )
        except TransitionRefused as refused:
            self._record_refusal(task_id, actor, outcome, refused, submission)
            raise
        except DataInvalid as invalid:
            if invalid.checked:  # a verification failed; a malformed form changes nothing
                self._record_refusal(task_id, actor, outcome, invalid, submission)
            raise

    def check_task_form(
        self,
        task_id: int,
        *,
        actor: str,
        data: Mapping[str, Any] | None = None,
        outcome: str | None = None,
        submission: str | None = None,
    ) -> None:
        """Raise what ``complete_task`` would before it fires: the task's holder (not open,
        claimed by someone else, delegated), the outcome, and the form checked by the same
        ``clean_data`` (types, options, the references the task may name), firing nothing: a
        page asks this before it asks for a confirmation. A form a check refused (a reference
        the task may not name) is recorded as the completion would record it (a refused attempt
        in the history); a malformed one changes nothing. Guards, which need the firing, are
        judged by the completion itself."""
        payload = dict(data or {})
        try:
            self.read(lambda tx: self._completion(tx, task_id, actor, outcome, payload))
        except DataInvalid as invalid:
            if invalid.checked:  # a verification failed: counted as the completion counts it
                self._record_refusal(task_id, actor, outcome, invalid, submission)
            raise

    def _completion(
        self, tx: Tx, task_id: int, actor: str, outcome: str | None, payload: Mapping[str, Any]
    ) -> tuple[Any, str, dict[str, Any]]:
        """What completing the task would fire, checked in ``tx``: the instance row, the event
        (``outcome``, or the task's only one) and the form's cleaned values; a typed error when
        ``actor`` may not complete it, the outcome is not the task's or the form is invalid."""
        task = self._completable(tx, task_id, actor)
        row = self.load(tx, task.instance_id)
        definition = self.definition(row.process, row.definition_version)
        spec = definition.states[task.state].task
        if row.state != task.state or spec is None:
            raise TaskNotOpen(task_id, "stale")
        choices = spec.events or definition.outgoing(task.state)
        if outcome is None and len(choices) > 1:  # never a default for a choice to make
            raise InvalidTaskOutcome(task_id, None, choices, definition)
        event = outcome or choices[0]
        if event not in choices:
            raise InvalidTaskOutcome(task_id, event, choices, definition)
        # a field only other outcomes carry is not asked for, and what the form (one on a page
        # for every outcome) holds in it is not this outcome's
        others = definition.outcome_only_fields(task.state)
        given = {k: v for k, v in payload.items() if event in others.get(k, (event,))}
        named = spec.label
        values = self.clean_data(
            tx,
            row,
            definition.outcome_form(task.state, event),
            given,
            f"task {task_id}",
            error=lambda problems: TaskFormInvalid(task_id, problems, named),
        )
        return row, event, values

    def _record_refusal(
        self,
        task_id: int,
        actor: str,
        outcome: str | None,
        refused: Exception,
        submission: str | None = None,
    ) -> None:
        """Count a refused completion on the task and write it to the instance's history, in a
        transaction of its own (the refused one was rolled back); nothing if the task has closed
        meanwhile, or if a refusal of the same ``submission`` was recorded already."""

        def work(tx: Tx) -> None:
            task = tx.one(self.sql.select_task, {"tid": task_id})
            if task is None:
                return
            event = outcome
            if event is None:  # the task's first outcome, as completing chose it
                row = self.load(tx, task.instance_id)
                definition = self.definition(row.process, row.definition_version)
                spec = definition.states[task.state].task
                choices = (spec.events if spec else ()) or definition.outgoing(task.state)
                event = choices[0] if choices else None
            self._write_refusal(tx, task, actor, event, refused, submission)

        self.transaction(work)

    def record_refused_event(
        self, instance_id: int, event: str, actor: str, refused: Exception
    ) -> None:
        """An event a check refused, sent straight to an instance (a bank's activation through
        the API): when it is an outcome of the instance's open task, it counts on that task and is
        in the history as a refused completion would be, whichever door it came by."""

        def work(tx: Tx) -> None:
            open_tasks = tx.all(self.sql.open_tasks_of_instance, {"iid": instance_id})
            if not open_tasks:
                return
            row = self.load(tx, instance_id)
            definition = self.definition(row.process, row.definition_version)
            for task in open_tasks:
                spec = definition.states[task.state].task if task.state == row.state else None
                if spec and event in (spec.events or definition.outgoing(task.state)):
                    self._write_refusal(tx, task, actor, event, refused)

        self.transaction(work)

    def refuse_if_held(
        self, tx: Tx, row: Any, definition: ProcessDefinition, event: str, actor: str
    ) -> None:
        """Raise what ``complete_task`` would for ``actor`` (``TaskClaimedByOther``,
        ``TaskDelegated``) when ``event``, sent straight to the loaded instance ``row``, is an
        outcome of the open task of its state and someone else holds that task: an event that
        completes a task has the same effect whichever door it comes by, a claim included.
        Reads nothing unless the state has a task with that outcome, then one statement (the
        instance's open tasks, with who holds them)."""
        spec = definition.states[row.state].task
        if spec is None or event not in (spec.events or definition.outgoing(row.state)):
            return
        for task in tx.all(self.sql.open_tasks_of_instance, {"iid": row.id}):
            if task.state == row.state:
                _refuse_held(task, actor)

    def _write_refusal(
        self,
        tx: Tx,
        task: Any,
        actor: str,
        outcome: str | None,
        refused: Exception,
        submission: str | None = None,
    ) -> None:
        if submission is not None:  # counted once: the task's refusals read under a lock
            tx.lock(f"wf_task_refusal:{task.id}")
            where = {"iid": task.instance_id, "process": task.process, "tid": task.id}
            if any(
                (row.data or {}).get("submission") == submission
                for row in tx.all(self.sql.refusals_of_task, where)
            ):
                return  # the same submission sent again (a reload): one attempt
        if tx.run(self.sql.count_refused_attempt, {"tid": task.id}) != 1:
            return  # closed meanwhile
        reason: dict[str, Any] = {
            "outcome": outcome,
            "reason_zh": getattr(refused, "message_zh", ""),
            "reason_en": getattr(refused, "message_en", ""),
        }
        if submission is not None:
            reason["submission"] = submission
        if isinstance(refused, TransitionRefused):
            reason["guard"] = refused.guard
        else:
            reason["fields"] = sorted(getattr(refused, "missing", []))
        tx.run(
            self.sql.insert_history,
            st.history_row(
                task.instance_id,
                task.process,
                REFUSED,
                task.state,
                task.state,
                actor,
                self.clock.now(),
                data=self.registry.mask_data(reason),
                task_id=task.id,
            ),
        )

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

    def _completable(self, tx: Tx, task_id: int, actor: str) -> Any:
        """The task row, if ``actor`` may complete it now; a typed error otherwise."""
        task = self._open_row(tx, task_id)
        _refuse_held(task, actor)
        return task

    def _open_task(self, tx: Tx, task_id: int, actor: str) -> Any:
        """The task row, if it is open and not claimed by someone else; a typed error otherwise."""
        task = self._open_row(tx, task_id)
        refuse_claimed(task, actor)
        return task

    def _open_row(self, tx: Tx, task_id: int) -> Any:
        """The task row, if it exists and is open; a typed error otherwise."""
        task = tx.one(self.sql.select_task, {"tid": task_id})
        if task is None:
            raise TaskNotFound(task_id)
        if task.status != "open":
            raise TaskNotOpen(task_id, task.status, task.closed_by)
        return task

    def _explain_task(self, tx: Tx, task_id: int, actor: str) -> None:
        """Why a claim or release changed no row (raises), if the task itself explains it."""
        self._open_task(tx, task_id, actor)


def refuse_claimed(task: Any, actor: str) -> None:
    """Raise ``TaskClaimedByOther`` when someone other than ``actor`` has claimed ``task``: the
    rule for claiming, releasing, completing (with ``_refuse_held``) and a team's follow-up date
    (``engine.task_team.set_follow_up``)."""
    if task.assignee and task.assignee != actor:
        raise TaskClaimedByOther(task.id, task.assignee)


def _refuse_held(task: Any, actor: str) -> None:
    """Raise what keeps ``actor`` from completing ``task`` now: claimed by someone else, or
    delegated (its owner waits for the delegate to resolve it). One rule for every door."""
    refuse_claimed(task, actor)
    if task.owner:
        raise TaskDelegated(task.id, task.owner)


_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def _retry_key(idempotency: Idempotency, digest: str) -> str:
    """The submission key of an idempotent completion: a hash of the key's scope, the key and
    the request's hash, in letters (a history row keeps it; never the client's key itself, which
    may have been built from personal data, nor a run of digits a page would mask)."""
    text = json.dumps(["task-retry", idempotency.scope, idempotency.key, digest])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32].translate(_LETTERS)
