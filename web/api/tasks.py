"""API endpoints for counter work done in outside systems (tasks) and counts per state.

A token sees the tasks of its banks and regions only: another's task answers 404, as a task that
does not exist does (the attempt is a ``permission_denied`` security event)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select

from engine.process_counts import process_counts
from engine.statements import tasks as task_table
from web.api.answer_models import Counts, TaskList, TaskOut, TransitionOut
from web.api.common import (
    MAX_ID,
    answer,
    as_id,
    bp,
    caller,
    hidden,
    idempotency,
    int_param,
    not_found,
    run,
    str_param,
    transition_out,
)
from web.api.query_args import whole_numbers
from web.api.request_models import TaskCompletion
from web.api.spec import endpoint
from web.api.tokens import Caller
from web.extensions import engine_of


def _task_filter(who: Caller) -> Any:
    """The tasks the token may see: its banks' tellers' and its regions' clerks'."""
    clauses = [
        and_(task_table.c.candidate_group == "bank_teller", task_table.c.scope == bank)
        for bank in sorted(who.banks())
    ]
    clauses += [
        and_(
            task_table.c.candidate_group.in_(("medical_insurance_clerk", "social_security_clerk")),
            task_table.c.scope == region,
        )
        for region in sorted(who.regions())
    ]
    return or_(*clauses) if clauses else false()


@endpoint(
    bp,
    "GET",
    "/tasks",
    summary="Open tasks of the token's bank or region",
    scopes=("bank:<code>", "clerk:<region>"),
    response=TaskList,
    links={"CompleteTask": ("complete_task", {"task_id": "$response.body#/tasks/0/id"})},
    parameters=(
        {
            "name": "after_id",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        },
    ),
)
def list_tasks() -> Any:
    who = caller()
    where = _task_filter(who)
    after, limit = whole_numbers(("after_id", 0, 0, MAX_ID), ("limit", 100, 1, 500))
    query = (
        select(task_table)
        .where(where, task_table.c.status == "open", task_table.c.id > after)
        .order_by(task_table.c.id)
        .limit(limit)
    )
    with engine_of().db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    items = [TaskOut(**{k: r[k] for k in TaskOut.model_fields}) for r in rows]
    next_after = items[-1].id if len(items) == limit else None
    return answer(TaskList(tasks=items, next_after_id=next_after))


@endpoint(
    bp,
    "POST",
    "/tasks/{task_id}/complete",
    summary="Complete a task done at a counter",
    scopes=("bank:<code>", "clerk:<region>"),
    body=TaskCompletion,
    response=TransitionOut,
    parameters=(int_param("task_id"),),
)
def complete_task(task_id: str, body: TaskCompletion) -> Any:
    who = caller()
    ident = as_id(task_id, "task")
    with engine_of().db.connect() as conn:
        found = conn.execute(
            select(_task_filter(who).label("visible")).where(task_table.c.id == ident)
        ).first()
    if found is None:
        raise not_found("task", ident)
    if not found.visible:  # another bank's or region's task: the same 404, recorded
        raise hidden("task", ident)
    done = run(
        lambda: engine_of().complete_task(
            ident,
            actor=f"api:{who.name}",
            data=body.data,
            outcome=body.outcome,
            idempotency=idempotency(who),
        )
    )
    return answer(transition_out(done))


@endpoint(
    bp,
    "GET",
    "/processes/{process}/counts",
    summary="Instances per state",
    scopes=("read", "channel", "tax", "factory", "bank:<code>", "clerk:<region>"),
    response=Counts,
    parameters=(str_param("process"),),
)
def counts(process: str) -> Any:
    engine = engine_of()
    definition = run(lambda: engine.definition(process))
    found = process_counts(engine.db, definition)
    return answer(Counts(process=process, states=found.states, total=found.total))
