"""The statements of the engine's hot path, written once in SQLAlchemy Core.

``HotPath(dialect)`` compiles each one for the database in use (see ``engine.sqlexec``). Bind
parameter names that collide with column names carry a ``b_`` prefix (SQLAlchemy reserves the column
names for the SET and VALUES clauses).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeDecorator

from engine.models import (
    History,
    IdempotencyKey,
    Instance,
    PolicyChange,
    Task,
    Timer,
    UtcDateTime,
)
from engine.sqlexec import Prepared

instances: Table = Instance.__table__  # type: ignore[assignment]
history: Table = History.__table__  # type: ignore[assignment]
tasks: Table = Task.__table__  # type: ignore[assignment]
timers: Table = Timer.__table__  # type: ignore[assignment]
policy_changes: Table = PolicyChange.__table__  # type: ignore[assignment]
keys: Table = IdempotencyKey.__table__  # type: ignore[assignment]


def _columns(table: Table) -> list[str]:
    """Every column but the generated primary key: what an INSERT names."""
    return [c.name for c in table.columns if c.name != "id"]


# A new timer names neither a lease nor attempts (their defaults: none, 0).
TIMER_COLUMNS = [
    c
    for c in _columns(timers)
    if c not in ("locked_by", "lock_expires_at", "attempts", "last_error")
]

# A new task names none of what its team does to it later (their defaults: no owner, priority 50,
# no follow-up, no refused attempts).
TASK_COLUMNS = [
    c for c in _columns(tasks) if c not in ("owner", "priority", "follow_up_at", "attempts")
]


SELECT_INSTANCE = select(
    instances.c.id,
    instances.c.process,
    instances.c.definition_version,
    instances.c.business_key,
    instances.c.state,
    instances.c.version,
    instances.c.variables,
).where(instances.c.id == bindparam("iid"))

# The versioned UPDATE names the instance's process too (the firing loaded the row, so it knows
# it): a partitioned PostgreSQL (migration 0010, wf_instance by process) then touches one
# partition instead of every one.
_VERSION_CHECK = (
    instances.c.id == bindparam("iid"),
    instances.c.version == bindparam("seen"),
    instances.c.process == bindparam("process"),
)

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


def checked_on_server(write: Any) -> Any:
    """``write`` (an UPDATE) as a data-modifying CTE whose row count ``wf_expect_rows``
    (PostgreSQL, migration 0014) compares with ``:expect_rows``: another count raises
    ``serialization_failure`` with ``:expect_token`` as its detail (``Tx.expect`` in a pipeline)."""
    changed = write.returning(literal_column("1")).cte("changed")
    counted = select(func.count()).select_from(changed).scalar_subquery()
    return select(
        func.wf_expect_rows(
            counted,
            bindparam("expect_rows", type_=BigInteger()),
            bindparam("expect_token", type_=Text()),
        )
    )


EXPECT_ROWS_FUNCTION = "wf_expect_rows(bigint,bigint,text)"


def instance_move(row: Any, target: str, now: Any, variables: Any = None) -> dict[str, Any]:
    """The parameters of ``UPDATE_INSTANCE`` (``UPDATE_INSTANCE_WITH_VARIABLES`` when
    ``variables`` is given) moving ``row`` (id, version, process) to ``target``."""
    params = {
        "iid": row.id,
        "seen": row.version,
        "process": row.process,
        "b_state": target,
        "b_version": row.version + 1,
        "b_now": now,
    }
    if variables is not None:
        params["b_variables"] = variables
    return params


def history_row(
    instance_id: int,
    process: str,
    event: str,
    from_state: str | None,
    to_state: str,
    actor: str,
    occurred_at: Any,
    *,
    data: Any = None,
    due_at: Any = None,
    task_id: int | None = None,
) -> dict[str, Any]:
    """One row of ``wf_history`` as every writer of it inserts it."""
    return {
        "instance_id": instance_id,
        "process": process,
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        "occurred_at": occurred_at,
        "due_at": due_at,
        "task_id": task_id,
        "data": data,
    }


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
    tasks.c.process,
    tasks.c.state,
    tasks.c.status,
    tasks.c.assignee,
    tasks.c.owner,
).where(tasks.c.id == bindparam("tid"))

OPEN_TASKS_OF_INSTANCE = select(
    tasks.c.id,
    tasks.c.instance_id,
    tasks.c.process,
    tasks.c.state,
    tasks.c.status,
    tasks.c.assignee,
).where(tasks.c.instance_id == bindparam("iid"), tasks.c.status == "open")

COUNT_REFUSED_ATTEMPT = (
    update(tasks)
    .where(tasks.c.id == bindparam("tid"), tasks.c.status == "open")
    .values(attempts=tasks.c.attempts + 1)
)

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

SELECT_BY_BUSINESS_KEY = (
    select(instances.c.id, instances.c.state)
    .where(instances.c.process == bindparam("process"))
    .where(instances.c.business_key == bindparam("bkey"))
    .order_by(instances.c.id)
)

SELECT_FAMILY = (
    select(
        instances.c.id,
        instances.c.process,
        instances.c.definition_version,
        instances.c.business_key,
        instances.c.state,
        instances.c.variables,
    )
    .where(instances.c.process == bindparam("process"))
    .where(instances.c.business_key == bindparam("bkey"))
    .order_by(instances.c.id)
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
        self.insert_timer = Prepared(insert(timers).inline(), dialect, TIMER_COLUMNS)
        self.insert_task = Prepared(insert(tasks).inline(), dialect, TASK_COLUMNS)
        self.insert_key = Prepared(insert(keys).inline(), dialect, _columns(keys))
        self.select_instance = Prepared(SELECT_INSTANCE, dialect)
        self.update_instance = Prepared(UPDATE_INSTANCE, dialect)
        self.update_instance_with_variables = Prepared(UPDATE_INSTANCE_WITH_VARIABLES, dialect)
        self.cancel_timers = Prepared(CANCEL_TIMERS, dialect)
        self.close_tasks = Prepared(CLOSE_TASKS, dialect)
        self.select_task = Prepared(SELECT_TASK, dialect)
        self.claim_task = Prepared(CLAIM_TASK, dialect)
        self.release_task = Prepared(RELEASE_TASK, dialect)
        self.count_refused_attempt = Prepared(COUNT_REFUSED_ATTEMPT, dialect)
        self.open_tasks_of_instance = Prepared(OPEN_TASKS_OF_INSTANCE, dialect)
        self.select_idempotency = Prepared(SELECT_IDEMPOTENCY, dialect)
        self.select_by_business_key = Prepared(SELECT_BY_BUSINESS_KEY, dialect)
        self.select_family = Prepared(SELECT_FAMILY, dialect)
        for write in (  # a firing's writes: values of its own, or rows only an earlier read saw
            self.insert_history,
            self.insert_timer,
            self.insert_task,
            self.insert_key,
            self.update_instance,
            self.update_instance_with_variables,
            self.cancel_timers,
            self.close_tasks,
        ):
            write.fusable = True
        self._dialect = dialect
        self._checked_on_server: bool | None = None

    def check_on_server(self, db: Any) -> bool:
        """Give the instance's versioned UPDATEs their variant checked on the server, once the
        database has ``wf_expect_rows`` (PostgreSQL at migration 0014; asked once, at the first
        pipelined transaction): a pipelined firing then commits in its last round trip."""
        if self._checked_on_server is None:
            found = False
            if self._dialect.name == "postgresql":
                with db.connect() as conn:
                    probe = text("SELECT to_regprocedure(:f) IS NOT NULL")
                    found = bool(conn.execute(probe, {"f": EXPECT_ROWS_FUNCTION}).scalar())
            if found:
                for prepared, write in (
                    (self.update_instance, UPDATE_INSTANCE),
                    (self.update_instance_with_variables, UPDATE_INSTANCE_WITH_VARIABLES),
                ):
                    prepared.server_checked = Prepared(checked_on_server(write), self._dialect)
            self._checked_on_server = found
        return self._checked_on_server


# -- the timer sweep (engine.timers): set-based statements over a chunk of ids ------------------


class IdList(TypeDecorator[list[int]]):
    """A list of ids bound as one parameter: a ``bigint[]`` on PostgreSQL, JSON text on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        ids = [int(v) for v in value]
        return ids if dialect.name == "postgresql" else json.dumps(ids)


class InIds(ColumnElement[bool]):
    """``column IN <the ids bound as :name>``, one parameter whatever the number of ids."""

    inherit_cache = True
    type = NullType()  # type: ignore[assignment]  # not Boolean: SQLite would render the test as ``... = 1`` and miss indexes

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.ids = bindparam(name, type_=IdList())


@compiles(InIds)
def _in_ids_sqlite(element: InIds, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(InIds, "postgresql")
def _in_ids_postgresql(element: InIds, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY({ids})"


_PENDING: ColumnElement[Any] = literal_column(
    "'pending'"
)  # inlined, so the partial indexes on it always apply
_NOW = bindparam("b_now", type_=UtcDateTime())

_ME = bindparam("b_me", type_=String())

# The lease (its own short transaction): due timers nobody holds, or whose holder's lease ran out
# (a scheduler that hangs), or whose backoff after a failed attempt is over, become this
# scheduler's until ``b_until``; so do its own leased timers that a firing skipped because
# another transaction held their row for a moment (another scheduler's lease query passing over
# them, an event on their instance).
LEASE_DUE_TIMERS = (
    update(timers)
    .where(
        timers.c.id.in_(
            select(timers.c.id)
            .where(
                timers.c.status == _PENDING,
                timers.c.due_at <= _NOW,
                or_(
                    timers.c.lock_expires_at.is_(None),
                    timers.c.lock_expires_at <= _NOW,
                    timers.c.locked_by == _ME,  # leased before, skipped by the firing
                ),
            )
            .order_by(timers.c.due_at, timers.c.id)
            .limit(bindparam("n"))
            .with_for_update(skip_locked=True)
        )
    )
    .values(locked_by=_ME, lock_expires_at=bindparam("b_until", type_=UtcDateTime()))
    .returning(timers.c.id)
)

# The firing transaction locks the leased timers still pending and still ours (another scheduler
# takes a lease that ran out: fenced by ``locked_by``) with their instances.
CLAIM_DUE_TIMERS = (
    select(
        timers.c.id,
        timers.c.instance_id,
        timers.c.state,
        timers.c.event,
        timers.c.attempts,
        instances.c.process,
        instances.c.definition_version,
        instances.c.state.label("instance_state"),
    )
    .join_from(timers, instances, timers.c.instance_id == instances.c.id)
    .where(InIds(timers.c.id, "tids"), timers.c.status == _PENDING, timers.c.locked_by == _ME)
    .order_by(timers.c.due_at, timers.c.id)
    .with_for_update(skip_locked=True, of=[timers, instances])
)

# A failed attempt: pending again after the backoff (``b_next``), or ``failed`` for good.
SWEEP_TIMER_ATTEMPT_FAILED = (
    update(timers)
    .where(timers.c.id == bindparam("tid"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        locked_by=None,
        lock_expires_at=bindparam("b_next", type_=UtcDateTime()),
        last_error=bindparam("b_error"),
    )
)

SWEEP_TIMER_DUE = select(timers.c.due_at).where(timers.c.id == bindparam("tid"))

SWEEP_MOVE_INSTANCES = (
    update(instances)
    .where(InIds(instances.c.id, "iids"), instances.c.state == bindparam("b_from"))
    .values(state=bindparam("b_state"), version=instances.c.version + 1, updated_at=_NOW)
)

SWEEP_INSERT_HISTORY = insert(history).from_select(
    ["instance_id", "process", "event", "from_state", "to_state", "actor", "occurred_at", "due_at"],
    select(
        timers.c.instance_id,
        timers.c.process,
        cast(bindparam("b_event"), String),
        cast(bindparam("b_from"), String),
        cast(bindparam("b_state"), String),
        cast(bindparam("b_actor"), String),
        _NOW,
        timers.c.due_at,
    ).where(InIds(timers.c.id, "tids")),
)

SWEEP_FIRE_TIMERS = (
    update(timers)
    .where(InIds(timers.c.id, "tids"), timers.c.status == _PENDING)
    .values(status="fired", fired_at=_NOW)
)

SWEEP_MARK_TIMERS = (
    update(timers)
    .where(InIds(timers.c.id, "tids"), timers.c.status == _PENDING)
    .values(status=bindparam("b_status"))
)

SWEEP_CANCEL_TIMERS = (
    update(timers)
    .where(InIds(timers.c.instance_id, "iids"), timers.c.status == _PENDING)
    .values(status="cancelled")
)

SWEEP_CLOSE_TASKS = (
    update(tasks)
    .where(InIds(tasks.c.instance_id, "iids"), tasks.c.status == "open")
    .values(
        status=bindparam("b_status"),
        closed_at=_NOW,
        closed_by=bindparam("b_actor"),
        outcome=bindparam("b_event"),
    )
)

SWEEP_VARIABLES = select(instances.c.id, instances.c.variables).where(InIds(instances.c.id, "iids"))

PENDING_POLICY_REFS = (
    select(timers.c.policy_ref)
    .where(timers.c.status == _PENDING, timers.c.policy_ref.is_not(None))
    .distinct()
)

# The date pending timers of a policy reference had before it changed (the record's "before").
PENDING_POLICY_DUE = select(func.min(timers.c.due_at).label("due_at")).where(
    timers.c.status == _PENDING,
    timers.c.policy_ref == bindparam("ref"),
    timers.c.due_at != bindparam("b_due", type_=UtcDateTime()),
)

MOVE_POLICY_TIMERS = (
    update(timers)
    .where(
        timers.c.status == _PENDING,
        timers.c.policy_ref == bindparam("ref"),
        timers.c.due_at != bindparam("b_due", type_=UtcDateTime()),
    )
    .values(due_at=bindparam("b_due", type_=UtcDateTime()))
)


class SweepSql:
    """The timer sweep's statements, compiled for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.lease = Prepared(LEASE_DUE_TIMERS, dialect)
        self.claim = Prepared(CLAIM_DUE_TIMERS, dialect)
        self.attempt_failed = Prepared(SWEEP_TIMER_ATTEMPT_FAILED, dialect)
        self.timer_due = Prepared(SWEEP_TIMER_DUE, dialect)
        self.move_instances = Prepared(SWEEP_MOVE_INSTANCES, dialect)
        self.insert_history = Prepared(SWEEP_INSERT_HISTORY, dialect)
        self.fire_timers = Prepared(SWEEP_FIRE_TIMERS, dialect)
        self.mark_timers = Prepared(SWEEP_MARK_TIMERS, dialect)
        self.cancel_timers = Prepared(SWEEP_CANCEL_TIMERS, dialect)
        self.close_tasks = Prepared(SWEEP_CLOSE_TASKS, dialect)
        self.variables = Prepared(SWEEP_VARIABLES, dialect)
        self.policy_refs = Prepared(PENDING_POLICY_REFS, dialect)
        self.move_policy_timers = Prepared(MOVE_POLICY_TIMERS, dialect)
        self.policy_due = Prepared(PENDING_POLICY_DUE, dialect)
        self.record_policy_change = Prepared(
            insert(policy_changes).inline(), dialect, _columns(policy_changes)
        )
