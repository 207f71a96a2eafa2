"""The statements of the engine's hot path, written once in SQLAlchemy Core.

``HotPath(dialect)`` compiles each one for the database in use (see ``engine.sqlexec``). Bind
parameter names that collide with column names carry a ``b_`` prefix (SQLAlchemy reserves the column
names for the SET and VALUES clauses).
"""

from __future__ import annotations

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.engine import Dialect

from engine.models import History, IdempotencyKey, Instance, Task, Timer
from engine.sqlexec import Prepared

instances: Table = Instance.__table__  # type: ignore[assignment]
history: Table = History.__table__  # type: ignore[assignment]
tasks: Table = Task.__table__  # type: ignore[assignment]
timers: Table = Timer.__table__  # type: ignore[assignment]
keys: Table = IdempotencyKey.__table__  # type: ignore[assignment]


def _columns(table: Table) -> list[str]:
    """Every column but the generated primary key: what an INSERT names."""
    return [c.name for c in table.columns if c.name != "id"]


SELECT_INSTANCE = select(
    instances.c.id,
    instances.c.process,
    instances.c.definition_version,
    instances.c.business_key,
    instances.c.state,
    instances.c.version,
    instances.c.variables,
).where(instances.c.id == bindparam("iid"))

_VERSION_CHECK = (instances.c.id == bindparam("iid"), instances.c.version == bindparam("seen"))

UPDATE_INSTANCE = (
    update(instances)
    .where(*_VERSION_CHECK)
    .values(
        state=bindparam("b_state"),
        version=bindparam("b_version"),
        updated_at=bindparam("b_now"),
    )
)

UPDATE_INSTANCE_WITH_VARIABLES = (
    update(instances)
    .where(*_VERSION_CHECK)
    .values(
        state=bindparam("b_state"),
        version=bindparam("b_version"),
        updated_at=bindparam("b_now"),
        variables=bindparam("b_variables", type_=instances.c.variables.type),
    )
)

CANCEL_TIMERS = (
    update(timers)
    .where(timers.c.instance_id == bindparam("iid"), timers.c.status == "pending")
    .values(status="cancelled")
)

CLOSE_TASKS = (
    update(tasks)
    .where(tasks.c.instance_id == bindparam("iid"), tasks.c.status == "open")
    .values(
        status=bindparam("b_status"),
        closed_at=bindparam("b_now"),
        closed_by=bindparam("b_actor"),
        outcome=bindparam("b_event"),
    )
)

SELECT_TASK = select(
    tasks.c.id,
    tasks.c.instance_id,
    tasks.c.state,
    tasks.c.status,
    tasks.c.assignee,
).where(tasks.c.id == bindparam("tid"))

CLAIM_TASK = (
    update(tasks)
    .where(
        tasks.c.id == bindparam("tid"),
        tasks.c.status == "open",
        or_(tasks.c.assignee.is_(None), tasks.c.assignee == bindparam("actor")),
    )
    .values(assignee=bindparam("actor"))
)

RELEASE_TASK = (
    update(tasks)
    .where(
        tasks.c.id == bindparam("tid"),
        tasks.c.status == "open",
        tasks.c.assignee == bindparam("actor"),
    )
    .values(assignee=None)
)

SELECT_IDEMPOTENCY = select(keys.c.request_hash, keys.c.response).where(
    keys.c.scope == bindparam("scope"), keys.c.key == bindparam("key")
)


class HotPath:
    """The statements above, compiled for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        returning = dialect.name != "sqlite"
        insert_instance = insert(instances)
        if returning:
            insert_instance = insert_instance.returning(instances.c.id)
        self.insert_instance = Prepared(insert_instance, dialect, _columns(instances))
        self.insert_history = Prepared(insert(history).inline(), dialect, _columns(history))
        self.insert_timer = Prepared(insert(timers).inline(), dialect, _columns(timers))
        self.insert_task = Prepared(insert(tasks).inline(), dialect, _columns(tasks))
        self.insert_key = Prepared(insert(keys).inline(), dialect, _columns(keys))
        self.select_instance = Prepared(SELECT_INSTANCE, dialect)
        self.update_instance = Prepared(UPDATE_INSTANCE, dialect)
        self.update_instance_with_variables = Prepared(UPDATE_INSTANCE_WITH_VARIABLES, dialect)
        self.cancel_timers = Prepared(CANCEL_TIMERS, dialect)
        self.close_tasks = Prepared(CLOSE_TASKS, dialect)
        self.select_task = Prepared(SELECT_TASK, dialect)
        self.claim_task = Prepared(CLAIM_TASK, dialect)
        self.release_task = Prepared(RELEASE_TASK, dialect)
        self.select_idempotency = Prepared(SELECT_IDEMPOTENCY, dialect)
