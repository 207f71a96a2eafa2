"""The statements of the engine's hot path, written once in SQLAlchemy Core, and the tables.

``HotPath(dialect)`` compiles each one for the database in use (see ``engine.sqlexec``). Bind
parameter names that collide with column names carry a ``b_`` prefix (SQLAlchemy reserves the column
names for the SET and VALUES clauses). The timer sweep's statements are ``engine.sweep_statements``;
ids bound as one parameter, ``engine.id_lists``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Table,
    Text,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Dialect

from engine.models import (
    History,
    IdempotencyKey,
    Incident,
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
incidents: Table = Incident.__table__  # type: ignore[assignment]

LEFT_STATE = "state_left"
"""The resolution of a timer's incident closed because its instance left the timer's state."""


def column_names(table: Table) -> list[str]:
    """Every column but the generated primary key: what an INSERT names."""
    return [c.name for c in table.columns if c.name != "id"]


# A new timer names neither a lease nor attempts (their defaults: none, 0).
TIMER_COLUMNS = [
    c
    for c in column_names(timers)
    if c not in ("locked_by", "lock_expires_at", "attempts", "last_error")
]

# A new task names none of what its team does to it later (their defaults: no owner, priority 50,
# no follow-up, no refused attempts).
TASK_COLUMNS = [
    c for c in column_names(tasks) if c not in ("owner", "priority", "follow_up_at", "attempts")
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

# The same read taking an idempotency key's transaction lock first (PostgreSQL: the one-row
# subquery is the outer side of the join, so the lock is taken whether or not the instance
# exists): ``Engine.run_idempotent`` sends one statement where a lock and a read were two. The
# row it answers may predate the lock (the statement's snapshot is taken before it waits), which
# does not matter: the key's read comes next, in a statement of its own, and a delivery whose key
# is found replays its first answer instead of using the row.
_KEY_LOCK = select(func.pg_advisory_xact_lock(func.hashtext(bindparam("lock"))).label("held"))
SELECT_INSTANCE_UNDER_KEY_LOCK = SELECT_INSTANCE.select_from(
    instances.join(_KEY_LOCK.subquery("key_lock"), true())
)

# The versioned UPDATE names the instance's process too (the firing loaded the row, so it knows
# it): a partitioned PostgreSQL (migration 0010, wf_instance by process) then touches one
# partition instead of every one.
_VERSION_CHECK = (
    instances.c.id == bindparam("iid"),
    instances.c.version == bindparam("seen"),
    instances.c.process == bindparam("process"),
)


def state_entered(target: Any, now: Any) -> Any:
    """``state_entered_at`` of an UPDATE moving an instance to ``target`` at ``now``: kept when
    the instance is already there (a reminder, a take-back: a transition that stays), ``now``
    otherwise. In the same UPDATE (no statement more per event): the SET reads the row's old
    ``state``, on SQLite and PostgreSQL alike. (A migration does not write it at all: it enters
    no state, ``engine.state_entries``.)"""
    return case((instances.c.state == target, instances.c.state_entered_at), else_=now)


_B_NOW = bindparam("b_now", type_=UtcDateTime())

UPDATE_INSTANCE = (
    update(instances)
    .where(*_VERSION_CHECK)
    .values(
        state=bindparam("b_state"),
        version=bindparam("b_version"),
        updated_at=_B_NOW,
        state_entered_at=state_entered(bindparam("b_state"), _B_NOW),
    )
)

UPDATE_INSTANCE_WITH_VARIABLES = (
    update(instances)
    .where(*_VERSION_CHECK)
    .values(
        state=bindparam("b_state"),
        version=bindparam("b_version"),
        updated_at=_B_NOW,
        state_entered_at=state_entered(bindparam("b_state"), _B_NOW),
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


# Leaving a state cancels its timers still pending, and those that failed every attempt (their
# incident is closed with them: ``CLOSE_TIMER_INCIDENTS``).
CANCEL_TIMERS = (
    update(timers)
    .where(
        timers.c.instance_id == bindparam("iid"),
        or_(timers.c.status == "pending", timers.c.status == "failed"),
    )
    .values(status="cancelled")
)
CANCEL_TIMERS_RETURNING = CANCEL_TIMERS.returning(timers.c.attempts)
"""The same, telling each cancelled timer's failed attempts: its incident may be open only when
there were some."""

CLOSE_TIMER_INCIDENTS = (
    update(incidents)
    .where(
        incidents.c.instance_id == bindparam("iid"),
        incidents.c.kind == "timer",
        incidents.c.status == "open",
    )
    .values(
        status="closed",
        resolved_at=bindparam("b_now"),
        resolved_by=bindparam("b_actor"),
        resolution=LEFT_STATE,
    )
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
    tasks.c.closed_by,
).where(tasks.c.id == bindparam("tid"))

OPEN_TASKS_OF_INSTANCE = select(
    tasks.c.id,
    tasks.c.instance_id,
    tasks.c.process,
    tasks.c.state,
    tasks.c.status,
    tasks.c.assignee,
    tasks.c.owner,
).where(tasks.c.instance_id == bindparam("iid"), tasks.c.status == "open")

REFUSALS_OF_TASK = select(history.c.data).where(
    history.c.instance_id == bindparam("iid"),
    history.c.process == bindparam("process"),
    history.c.task_id == bindparam("tid"),
    history.c.event == "task_refused",  # ``engine.tasks.REFUSED``
)
"""The data of the refusals of one task recorded in its instance's history (their submission
keys: a refused submission sent again is not counted again)."""

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
    select(instances.c.id, instances.c.definition_version, instances.c.state)
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
        self.insert_instance = Prepared(insert_instance, dialect, column_names(instances))
        self.insert_history = Prepared(insert(history).inline(), dialect, column_names(history))
        self.insert_timer = Prepared(insert(timers).inline(), dialect, TIMER_COLUMNS)
        self.insert_task = Prepared(insert(tasks).inline(), dialect, TASK_COLUMNS)
        self.insert_key = Prepared(insert(keys).inline(), dialect, column_names(keys))
        self.select_instance = Prepared(SELECT_INSTANCE, dialect)
        self.select_instance_under_key_lock = (
            Prepared(SELECT_INSTANCE_UNDER_KEY_LOCK, dialect)
            if dialect.name == "postgresql"
            else None
        )
        """PostgreSQL only (None on SQLite, whose writers hold the database's lock anyway)."""
        self.update_instance = Prepared(UPDATE_INSTANCE, dialect)
        self.update_instance_with_variables = Prepared(UPDATE_INSTANCE_WITH_VARIABLES, dialect)
        self.cancel_timers = Prepared(CANCEL_TIMERS, dialect)
        self.cancel_timers_returning = Prepared(CANCEL_TIMERS_RETURNING, dialect)
        self.close_timer_incidents = Prepared(CLOSE_TIMER_INCIDENTS, dialect)
        self.close_tasks = Prepared(CLOSE_TASKS, dialect)
        self.select_task = Prepared(SELECT_TASK, dialect)
        self.claim_task = Prepared(CLAIM_TASK, dialect)
        self.release_task = Prepared(RELEASE_TASK, dialect)
        self.count_refused_attempt = Prepared(COUNT_REFUSED_ATTEMPT, dialect)
        self.refusals_of_task = Prepared(REFUSALS_OF_TASK, dialect)
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
            self.close_timer_incidents,
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
