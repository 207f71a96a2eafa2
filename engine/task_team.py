"""What a team does to open user tasks besides claiming and completing them (Camunda Tasklist's
team work): assign, delegate and resolve, unassign, follow-up dates, priorities and comments, one
task at a time (a selection at once: ``engine.task_bulk``).

Plain functions taking the ``Engine``; each runs in one ``engine.transaction`` and writes one
instance-history row per task it changed (``task_assigned``, ``task_delegated``, ...; from and to
state are the instance's state, ``data`` says who and what it was before), so an instance's record
shows who moved its task. Only open tasks change: a closed one is refused with ``TaskNotOpen``. A
follow-up date (at most ``MAX_FOLLOW_UP_DAYS`` ahead) is set only by the task's holder, or by
anyone while nobody holds it: a task a colleague has claimed is refused with
``TaskClaimedByOther`` whoever asks, as claiming or completing it would be (assign and unassign
take a task from its holder; they are not refused).
The engine knows no users: whether an assignee may take a task is the web layer's check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Dialect

from engine.errors import TaskClaimedByOther, TaskNotFound, TaskNotOpen, WorkflowError
from engine.id_lists import InIds
from engine.models import TaskComment, UtcDateTime
from engine.sqlexec import Prepared
from engine.statements import history_row, instances, tasks
from engine.tasks import refuse_claimed
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.runtime import Engine

comments: Table = TaskComment.__table__  # type: ignore[assignment]

ASSIGNED = "task_assigned"
CLAIMED = "task_claimed"
DELEGATED = "task_delegated"
RESOLVED = "task_resolved"
UNASSIGNED = "task_unassigned"
FOLLOW_UP = "task_follow_up"
PRIORITY = "task_priority"
COMMENTED = "task_commented"
EVENTS = (ASSIGNED, CLAIMED, DELEGATED, RESOLVED, UNASSIGNED, FOLLOW_UP, PRIORITY, COMMENTED)
"""The history events this module writes."""

MAX_COMMENT = 2000
MAX_BULK = 1000
MAX_FOLLOW_UP_DAYS = 90
"""A follow-up date is at most this many days ahead (a task is not put out of sight for longer)."""


class TaskNotDelegated(WorkflowError):
    """Resolving a task nobody delegated."""

    code = "task_not_delegated"

    def __init__(self, task_id: int) -> None:
        super().__init__(f"任务 {task_id} 未被委派", f"task {task_id} was not delegated")
        self.task_id = task_id


class TaskNotClaimed(WorkflowError):
    """Delegating a task nobody holds (claim or assign it instead)."""

    code = "task_not_claimed"

    def __init__(self, task_id: int) -> None:
        super().__init__(
            f"任务 {task_id} 尚未认领，不能委派",
            f"task {task_id} is not claimed: nothing to delegate",
        )
        self.task_id = task_id


class TeamInputInvalid(WorkflowError):
    """A priority out of 0-100, an empty or too long comment, too many tasks at once."""

    code = "team_input_invalid"


# -- statements ----------------------------------------------------------------------------------

_SELECT = (
    select(
        tasks.c.id,
        tasks.c.instance_id,
        tasks.c.process,
        tasks.c.state,
        tasks.c.status,
        tasks.c.assignee,
        tasks.c.owner,
        tasks.c.closed_by,
        tasks.c.priority,
        tasks.c.follow_up_at,
        instances.c.state.label("instance_state"),
    )
    .select_from(tasks.join(instances, instances.c.id == tasks.c.instance_id))
    .where(InIds(tasks.c.id, "ids"))
    .order_by(tasks.c.id)
    .with_for_update(of=tasks)
)
_ONE = InIds(tasks.c.id, "ids")


def _set(**values: Any) -> Any:
    return update(tasks).where(_ONE, tasks.c.status == "open").values(**values)


class TeamStatements:
    def __init__(self, dialect: Dialect) -> None:
        self.select = Prepared(_SELECT, dialect)
        self.assign = Prepared(
            _set(assignee=bindparam("b_assignee"), owner=bindparam("b_owner")), dialect
        )
        self.follow_up = Prepared(
            _set(follow_up_at=bindparam("b_follow_up", type_=UtcDateTime())), dialect
        )
        self.priority = Prepared(_set(priority=bindparam("b_priority")), dialect)
        stmt = insert(comments).values(
            task_id=bindparam("b_task_id"),
            instance_id=bindparam("b_instance_id"),
            author=bindparam("b_author"),
            body=bindparam("b_body"),
            created_at=bindparam("b_created_at", type_=UtcDateTime()),
        )
        if dialect.name != "sqlite":
            stmt = stmt.returning(comments.c.id)
        self.comment = Prepared(stmt, dialect)


_compiled: dict[str, TeamStatements] = {}


def statements_of(engine: Engine) -> TeamStatements:
    name = engine.db.dialect.name
    if name not in _compiled:
        _compiled[name] = TeamStatements(engine.db.dialect)
    return _compiled[name]


# -- helpers ---------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def audit(
    engine: Engine, tx: Tx, rows: Sequence[Any], event: str, actor: str, data: list[dict[str, Any]]
) -> None:
    """One history row per task: the instance stays in its state; ``data`` says what changed."""
    now = engine.clock.now()
    tx.many(
        engine.sql.insert_history,
        [
            history_row(
                row.instance_id,
                row.process,
                event,
                row.instance_state,
                row.instance_state,
                actor,
                now,
                data=one,
                task_id=row.id,
            )
            for row, one in zip(rows, data, strict=True)
        ],
    )


def _open_row(engine: Engine, tx: Tx, task_id: int, expect_assignee: str | None) -> Any:
    """The task's row, locked; refused if unknown, closed, or not held by ``expect_assignee``."""
    row = tx.one(statements_of(engine).select, {"ids": [task_id]})
    if row is None:
        raise TaskNotFound(task_id)
    if row.status != "open":
        raise TaskNotOpen(task_id, row.status, row.closed_by)
    if expect_assignee is not None and row.assignee != expect_assignee:
        raise TaskClaimedByOther(task_id, row.assignee or "-")
    return row


def _change_holder(
    engine: Engine,
    task_id: int,
    actor: str,
    event: str,
    decide: Any,
    expect_assignee: str | None = None,
) -> None:
    """Set the task's assignee and owner to what ``decide(row)`` says, audited as ``event``."""

    def work(tx: Tx) -> None:
        row = _open_row(engine, tx, task_id, expect_assignee)
        assignee, owner = decide(row)
        tx.run(
            statements_of(engine).assign,
            {"ids": [task_id], "b_assignee": assignee, "b_owner": owner},
        )
        data = {"assignee": assignee, "previous": row.assignee}
        if owner or row.owner:
            data["owner"] = owner
        audit(engine, tx, [row], event, actor, [data])

    engine.transaction(work)


# -- operations ---------------------------------------------------------------------------------


def assign(engine: Engine, task_id: int, assignee: str, actor: str) -> None:
    """Give an open task to ``assignee`` (a supervisor's assignment; ends a delegation)."""
    _change_holder(engine, task_id, actor, ASSIGNED, lambda row: (assignee, None))


def delegate(
    engine: Engine, task_id: int, assignee: str, actor: str, expect_assignee: str | None = None
) -> None:
    """Hand a claimed task to ``assignee`` to work on: the current holder becomes its ``owner``
    (an earlier owner stays) and gets it back by ``resolve``. ``expect_assignee``: refuse unless
    the task is still held by them (a staff member delegating their own task)."""

    def decide(row: Any) -> tuple[str, str]:
        if not row.assignee:
            raise TaskNotClaimed(task_id)
        return assignee, row.owner or row.assignee

    _change_holder(engine, task_id, actor, DELEGATED, decide, expect_assignee)


def resolve(engine: Engine, task_id: int, actor: str, expect_assignee: str | None = None) -> None:
    """The delegate is done: the task goes back to its owner, who completes it."""

    def decide(row: Any) -> tuple[str, None]:
        if not row.owner:
            raise TaskNotDelegated(task_id)
        return row.owner, None

    _change_holder(engine, task_id, actor, RESOLVED, decide, expect_assignee)


def unassign(engine: Engine, task_id: int, actor: str) -> None:
    """Take the task from whoever holds it (a supervisor's unclaim): back to the group."""
    _change_holder(engine, task_id, actor, UNASSIGNED, lambda row: (None, None))


def set_follow_up(engine: Engine, task_id: int, when: datetime | None, actor: str) -> None:
    """Hide the task from the default inbox view until ``when`` (None: show it again); refused
    (``TaskClaimedByOther``) when someone other than ``actor`` holds the task, and
    (``TeamInputInvalid``) when ``when`` is more than ``MAX_FOLLOW_UP_DAYS`` days ahead."""
    if when is not None and when > engine.clock.now() + timedelta(days=MAX_FOLLOW_UP_DAYS):
        raise TeamInputInvalid(
            f"跟进日期最晚为今天起 {MAX_FOLLOW_UP_DAYS} 天内",
            f"a follow-up date can be at most {MAX_FOLLOW_UP_DAYS} days ahead",
        )

    def work(tx: Tx) -> None:
        row = _open_row(engine, tx, task_id, None)
        refuse_claimed(row, actor)
        tx.run(statements_of(engine).follow_up, {"ids": [task_id], "b_follow_up": when})
        data = {"follow_up_at": _iso(when), "previous": _iso(row.follow_up_at)}
        audit(engine, tx, [row], FOLLOW_UP, actor, [data])

    engine.transaction(work)


def set_priority(engine: Engine, task_id: int, priority: int, actor: str) -> None:
    """Set the task's priority, 0-100 (higher first where the inbox sorts by priority)."""
    check_priority(priority)

    def work(tx: Tx) -> None:
        row = _open_row(engine, tx, task_id, None)
        tx.run(statements_of(engine).priority, {"ids": [task_id], "b_priority": priority})
        data = {"priority": priority, "previous": row.priority}
        audit(engine, tx, [row], PRIORITY, actor, [data])

    engine.transaction(work)


def check_priority(priority: int) -> None:
    if not 0 <= priority <= 100:
        raise TeamInputInvalid("优先级须在 0 到 100 之间", "priority must be between 0 and 100")


def add_comment(engine: Engine, task_id: int, author: str, body: str) -> int:
    """Add a comment to an open task; its id."""
    text = body.strip()
    if not text or len(text) > MAX_COMMENT:
        raise TeamInputInvalid(
            f"评论不能为空，且不超过 {MAX_COMMENT} 字",
            f"a comment must be between 1 and {MAX_COMMENT} characters",
        )

    def work(tx: Tx) -> int:
        row = _open_row(engine, tx, task_id, None)
        new_id = tx.insert(
            statements_of(engine).comment,
            {
                "b_task_id": task_id,
                "b_instance_id": row.instance_id,
                "b_author": author,
                "b_body": text,
                "b_created_at": engine.clock.now(),
            },
        )
        audit(engine, tx, [row], COMMENTED, author, [{"comment_id": new_id}])
        return new_id

    return engine.transaction(work)


# -- reads --------------------------------------------------------------------------------------


def comments_of(db: SqlEngine, task_id: int) -> list[dict[str, Any]]:
    """The task's comments, oldest first."""
    query = select(comments).where(comments.c.task_id == task_id).order_by(comments.c.id)
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
