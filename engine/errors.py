"""Typed errors the engine raises; each carries a message in Chinese and English.

The web layer maps them to HTTP answers (404, 409, 422); the CLI prints them. Errors a user can cause
are ``WorkflowError``s; a broken definition file is a ``DefinitionError``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from engine.field_words import NO_SUCH_EVENT
from engine.forms import FieldProblem
from engine.specs import CANCELLED, CANCELLED_LABEL, Label


class WorkflowError(Exception):
    """Base of every error a caller of the engine can cause.

    Attributes:
        code: a stable machine-readable code (``event_not_allowed``, ...).
        message_zh: the message in Chinese.
        message_en: the message in English.
    """

    code = "workflow_error"

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


class DefinitionError(Exception):
    """A definition file is broken: names the file, the key and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


_PROCESS_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")


class UnknownProcess(WorkflowError):
    code = "unknown_process"

    def __init__(self, key: str, version: int | None = None) -> None:
        # named only when it looks like a process key: a caller's text is not echoed
        shown = key if _PROCESS_KEY.fullmatch(key) else "?"
        which = shown if version is None else f"{shown} v{version}"
        super().__init__(f"未知流程：{which}", f"unknown process: {which}")
        self.key = key


class InstanceNotFound(WorkflowError):
    code = "instance_not_found"

    def __init__(self, instance_id: int) -> None:
        super().__init__(f"流程实例不存在：{instance_id}", f"no such instance: {instance_id}")
        self.instance_id = instance_id


class UnknownEvent(WorkflowError):
    """No event of that name in the instance's definition: a request naming it is malformed
    (``problems`` names the field ``event``)."""

    code = "unknown_event"

    def __init__(self, process: str, event: str, allowed: Sequence[str]) -> None:
        super().__init__(
            f"流程 {process} 没有事件 {event}", f"process {process} has no event {event}"
        )
        self.event = event
        self.allowed = list(allowed)
        self.problems = [FieldProblem("event", *NO_SUCH_EVENT)]


class EventNotAllowed(WorkflowError):
    """The event exists but not from the instance's current state. Given the instance's
    ``definition``, the message names the state and the events in its labels (the keys stay in
    ``state``, ``event`` and ``allowed``; ``instance_id``, when known, names the instance, so a
    door can say what its caller may send now instead of every event leaving the state)."""

    code = "event_not_allowed"

    def __init__(
        self,
        event: str,
        state: str,
        allowed: Sequence[str],
        definition: Any = None,
        *,
        instance_id: int | None = None,
    ) -> None:
        zh = (
            f"当前状态“{_state_word(definition, state, 'zh')}”不允许"
            f"“{_event_word(definition, event, 'zh')}”；现在允许："
            + ("、".join(f"“{_event_word(definition, e, 'zh')}”" for e in allowed) or "无")
        )
        en = (
            f"“{_event_word(definition, event, 'en')}” is not allowed in state "
            f"“{_state_word(definition, state, 'en')}”; allowed now: "
            + (", ".join(f"“{_event_word(definition, e, 'en')}”" for e in allowed) or "none")
        )
        super().__init__(zh, en)
        self.event = event
        self.state = state
        self.allowed = list(allowed)
        self.instance_id = instance_id


def _state_word(definition: Any, state: str, lang: str) -> str:
    """A state's label in ``lang`` (the engine's reserved states included), else its key."""
    if state == CANCELLED:
        return CANCELLED_LABEL.get(lang)
    spec = definition.states.get(state) if definition is not None else None
    return str(spec.label.get(lang)) if spec is not None else state


def _event_word(definition: Any, event: str, lang: str) -> str:
    """An event's label in ``lang`` (``start:<state>``: starting in that state), else its key."""
    if definition is None:
        return event
    if event.startswith("start:"):
        start = "开始于" if lang == "zh" else "start in "
        return start + _state_word(definition, event.removeprefix("start:"), lang)
    spec = definition.events.get(event)
    return str(spec.label.get(lang)) if spec is not None else event


class TransitionRefused(WorkflowError):
    """A guard said no. Guards raise it with their own reason, or return False for a generic one."""

    code = "transition_refused"

    def __init__(self, message_zh: str, message_en: str, guard: str | None = None) -> None:
        super().__init__(message_zh, message_en)
        self.guard = guard


class ConcurrentModification(WorkflowError):
    """Another transaction changed the instance between our read and our write."""

    code = "concurrent_modification"

    def __init__(self, instance_id: int) -> None:
        super().__init__(
            f"流程实例 {instance_id} 已被其他操作修改，请重试",
            f"instance {instance_id} was changed by someone else; try again",
        )
        self.instance_id = instance_id


class TaskNotFound(WorkflowError):
    code = "task_not_found"

    def __init__(self, task_id: int) -> None:
        super().__init__(f"任务不存在：{task_id}", f"no such task: {task_id}")
        self.task_id = task_id


class TaskNotOpen(WorkflowError):
    """The task was completed or cancelled already (by someone else, or by the same person in
    another tab): a completed task names who completed it (``closed_by``)."""

    code = "task_not_open"

    def __init__(self, task_id: int, status: str, closed_by: str | None = None) -> None:
        zh, en = _TASK_STATUS.get(status, ("已关闭", "closed"))
        if status == "completed" and closed_by:
            who = closed_by.removeprefix("staff:")
            super().__init__(
                f"任务 {task_id} 已由 {who} 办结", f"task {task_id} was already completed by {who}"
            )
        else:
            super().__init__(
                f"任务 {task_id} 已处理（{zh}）", f"task {task_id} is no longer open ({en})"
            )
        self.task_id = task_id
        self.status = status
        self.closed_by = closed_by


_TASK_STATUS = {
    "completed": ("已办结", "completed"),
    "cancelled": ("已取消", "cancelled"),
    "stale": ("流程已离开该环节", "its instance has left the task's state"),
}
"""A closed task's status in words (the key stays in ``TaskNotOpen.status``)."""


class TaskClaimedByOther(WorkflowError):
    code = "task_claimed"

    def __init__(self, task_id: int, assignee: str) -> None:
        super().__init__(
            f"任务 {task_id} 已由 {assignee} 认领", f"task {task_id} is claimed by {assignee}"
        )
        self.task_id = task_id
        self.assignee = assignee


class TaskDelegated(WorkflowError):
    """A delegate tried to complete the task: a delegated task goes back to its owner (resolve),
    who completes it (as Camunda's ``DelegationState.PENDING``)."""

    code = "task_delegated"

    def __init__(self, task_id: int, owner: str) -> None:
        super().__init__(
            f"任务 {task_id} 由 {owner} 委派：请交回（办结委派）后由 {owner} 完成",
            f"task {task_id} was delegated by {owner}: resolve it, and {owner} completes it",
        )
        self.task_id = task_id
        self.owner = owner


class InvalidTaskOutcome(WorkflowError):
    code = "invalid_task_outcome"

    def __init__(
        self, task_id: int, outcome: str | None, allowed: Sequence[str], definition: Any = None
    ) -> None:
        """``outcome`` None: none was chosen, and the task has more than one."""
        zh = "、".join(f"“{_event_word(definition, e, 'zh')}”" for e in allowed)
        en = ", ".join(f"“{_event_word(definition, e, 'en')}”" for e in allowed)
        if outcome is None:
            super().__init__(
                f"任务 {task_id} 有多个办理结果，须选择其一：{zh}",
                f"task {task_id} has several outcomes: choose one of: {en}",
            )
        else:
            super().__init__(
                f"任务 {task_id} 不能以“{_event_word(definition, outcome, 'zh')}”完成；可选：{zh}",
                f"task {task_id} cannot complete with “{_event_word(definition, outcome, 'en')}”; "
                f"choose one of: {en}",
            )
        self.allowed = list(allowed)


class IdempotencyConflict(WorkflowError):
    """The same idempotency key was used with a different request."""

    code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        # the key is not repeated: a client may have built it from personal data
        super().__init__(
            "该幂等键已用于另一个请求（内容不同）",
            "this idempotency key was used for another request (with a different body)",
        )
        self.key = key


class DataInvalid(WorkflowError):
    """An event's data or a task's form failed its fields' checks; ``problems`` says which.

    ``where`` is the internal name (``enrollment.deduct``, kept for logs); the message names the
    event by ``label``, its words (``about`` gives them to a refusal raised without them)."""

    code = "invalid_data"

    def __init__(self, where: str, problems: Sequence[Any], label: Label | None = None) -> None:
        zh, en = _listed(problems)
        if label is None:
            super().__init__(f"填写的内容有误：{zh}", f"the data sent is not valid: {en}")
        else:
            super().__init__(
                f"“{label.zh}”的数据有误：{zh}",
                f"the data sent for “{label.en}” is not valid: {en}",
            )
        self.where = where
        self.label = label
        self.problems = list(problems)
        self.missing = [p.field for p in problems]

    def about(self, label: Label) -> DataInvalid:
        """This refusal naming its event by ``label`` (itself when it names one already)."""
        if self.label is not None or type(self) is not DataInvalid:
            return self
        return DataInvalid(self.where, self.problems, label)

    @property
    def checked(self) -> bool:
        """A check refused a well-formed value (a verification that failed), as opposed to a
        malformed submission (a field missing, unknown or of the wrong type)."""
        return any(getattr(p, "checked", False) for p in self.problems)


def _listed(problems: Sequence[Any]) -> tuple[str, str]:
    """Each problem's field, as people read it, with what is wrong, in Chinese and English."""
    zh = "；".join(f"{_named(p, 'zh')}：{p.message_zh}" for p in problems)
    en = "; ".join(f"{_named(p, 'en')}: {p.message_en}" for p in problems)
    return zh, en


def _named(problem: Any, lang: str) -> str:
    named = getattr(problem, "named", None)
    return str(named(lang)) if callable(named) else str(problem.field)


class TaskFormInvalid(DataInvalid):
    """A task's form failed its fields' checks: the message names the task by its number and,
    given its ``label``, its words."""

    code = "task_form_invalid"

    def __init__(self, task_id: int, problems: Sequence[Any], label: Label | None = None) -> None:
        super().__init__(f"task {task_id}", problems)
        zh, en = _listed(problems)
        task_zh = f"任务 {task_id}" + (f"“{label.zh}”" if label else "")
        task_en = f"task {task_id}" + (f" “{label.en}”" if label else "")
        WorkflowError.__init__(
            self,
            f"{task_zh}填写的内容有误：{zh}",
            f"the form of {task_en} is not filled in correctly: {en}",
        )
        self.task_id = task_id


class TooManyFollowUps(WorkflowError):
    """Follow-up events kept emitting more follow-ups (a loop in the domain's actions)."""

    code = "too_many_follow_ups"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"后续事件超过 {limit} 个，已停止", f"more than {limit} follow-up events; stopped"
        )


class DuplicateInstance(WorkflowError):
    """An instance with the same business key is already in a state that excludes another."""

    code = "duplicate_instance"

    def __init__(
        self,
        process: str,
        business_key: str,
        instance_id: int,
        state: str,
        definition: Any = None,
    ) -> None:
        label = getattr(definition, "label", None)
        zh, en = (label.zh, label.en) if label is not None else (process, process)
        super().__init__(
            f"{zh}已有处于“{_state_word(definition, state, 'zh')}”状态的实例 {instance_id}"
            f"（业务键 {business_key}）",
            f"{en} already has instance {instance_id} in state "
            f"“{_state_word(definition, state, 'en')}” (business key {business_key})",
        )
        self.process = process
        self.business_key = business_key
        self.instance_id = instance_id
        self.state = state


class IncidentNotFound(WorkflowError):
    code = "incident_not_found"

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"事件单不存在：{incident_id}", f"no such incident: {incident_id}")
        self.incident_id = incident_id


class IncidentNotOpen(WorkflowError):
    """The incident was retried or resolved already."""

    code = "incident_not_open"

    def __init__(self, incident_id: int, status: str) -> None:
        super().__init__(
            f"事件单 {incident_id} 已处理，不再待办",
            f"incident {incident_id} is no longer open (closed)",
        )
        self.incident_id = incident_id
        self.status = status
