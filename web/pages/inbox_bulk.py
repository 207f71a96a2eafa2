"""The inbox's bulk form (issue 18): a selection of tasks claimed by a member of their group and
scope, or assigned, unclaimed or given a priority by a supervisor, in one POST
(``engine.task_bulk``: one UPDATE, a history row per task changed). Anyone else asking for a
supervisor's action (a forged ``assign``, ``unassign`` or ``priority``) is refused 403 in words that
say it is a supervisor's. A priority that is no whole number from 0 to 100 is refused as on the
task's page (400, 422), and nothing changes.

A selection naming a task the user may not read is answered as one naming a task that does not
exist: 404, and nothing changes (``Unknown``; its existence is not revealed). An assignment to
someone who is not active staff of a selected task's group and scope is refused (422) naming the
tasks it refused, by number, kind, the person's ID number masked and the scope: the first
``MAX_NAMED`` and how many in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine import task_bulk as tb
from engine import task_team as tt
from engine.runtime import Engine
from web import i18n
from web.pages import inbox_team_queries as tq
from web.pages.inbox_refusal import Refused
from web.staff import Staff, can_read_task, in_scope
from workflows.identity import mask_id_number

MAX_NAMED = 5
"""A refusal names at most this many tasks, then says how many in all."""
SUPERVISORS_ONLY = ("assign", "unassign", "priority")
"""The team actions that are supervisors' only (those of the task page too), which the bulk form
offers supervisors: refused 403 to anyone else."""


class Unknown(LookupError):
    """The selection names a task that does not exist or (``hidden``) one outside what the user
    may read: both answered 404, as for one unknown task."""

    def __init__(self, hidden: bool) -> None:
        super().__init__("unknown task")
        self.hidden = hidden


def bulk(
    engine: Engine,
    user: Staff,
    task_ids: list[int],
    action: str,
    assignee: str = "",
    priority: str = "",
) -> tb.BulkResult:
    """``claim`` the selection (staff, tasks of their group and scope, unclaimed ones), or
    (supervisors) ``assign`` it to a member of the tasks' group and scope, ``unassign`` it (back
    to the group) or give it ``priority`` (0-100): one UPDATE."""
    if not task_ids or len(task_ids) > tt.MAX_BULK:
        raise Refused(400, "bad_selection")
    tasks = tq.tasks_of(engine.db, task_ids)
    readable = [t for t in tasks if can_read_task(user, t)]
    if len(readable) < len(set(task_ids)):
        raise Unknown(hidden=len(readable) < len(tasks))
    if action in SUPERVISORS_ONLY and not user.is_supervisor:
        raise Refused(403, "supervisors_only_action")
    if action == "claim":
        if user.is_supervisor or not all(in_scope(user, t) for t in tasks):
            raise Refused(403, "forbidden")
        return tb.bulk_assign(engine, task_ids, user.username, user.username, only_unclaimed=True)
    if action == "unassign":
        return tb.bulk_unassign(engine, task_ids, user.username)
    if action == "priority":
        return tb.bulk_set_priority(engine, task_ids, _priority(priority), user.username)
    if action != "assign":
        raise Refused(400, "bad_selection")
    member = tq.staff_member(engine.db, assignee) if assignee else None
    if member is None:
        raise Refused(422, "not_a_colleague")
    refused = [
        t for t in tasks if t["candidate_group"] != member["group"] or t["scope"] != member["scope"]
    ]
    if refused:
        raise Refused(422, "not_a_colleague_of_tasks", name=assignee, tasks=named(engine, refused))
    return tb.bulk_assign(engine, task_ids, assignee, user.username)


def _priority(value: str) -> int:
    """A priority as the task page takes it: a whole number (400), from 0 to 100 (422)."""
    try:
        priority = int(value)
    except ValueError:
        raise Refused(400, "bad_priority") from None
    if not 0 <= priority <= 100:
        raise Refused(422, "bad_priority")
    return priority


def named(engine: Engine, tasks: Sequence[dict[str, Any]]) -> str:
    """The tasks in words, by id: number, kind, the person's ID number masked, scope; the first
    ``MAX_NAMED`` and, when there are more, how many in all."""
    shown = sorted(tasks, key=lambda t: int(t["id"]))[:MAX_NAMED]
    people = tq.id_numbers_of(engine.db, [t["instance_id"] for t in shown])
    words = [
        i18n.t("task_named").format(
            id=t["id"],
            task=_kind(engine, t),
            person=mask_id_number(people[t["instance_id"]])
            if people.get(t["instance_id"])
            else "-",
            scope=i18n.scope_label(t["scope"]),
        )
        for t in shown
    ]
    text = i18n.t("list_separator").join(words)
    if len(tasks) > len(shown):
        more = i18n.t("and_more_tasks").format(count=len(tasks), more=len(tasks) - len(shown))
        text = f"{text}{more}"
    return text


def _kind(engine: Engine, task: dict[str, Any]) -> str:
    definition = engine.processes.get(task["process"])
    if definition is None:
        return str(task["name"])
    return i18n.task_label(definition, task["state"], task["name"])
