"""The timer sweep's statements (lease, claim, fire set-based) and the policy timers' moves.

Written once in SQLAlchemy Core; ``SweepSql(dialect)`` compiles them for the database in use
(``engine.sqlexec.Prepared``). ``engine.timers`` runs them; ``engine.policy_timers`` moves the
timers whose due date a policy change moved.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, cast, func, insert, literal_column, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from engine.id_lists import InIds
from engine.models import UtcDateTime
from engine.sqlexec import Prepared
from engine.statements import (
    LEFT_STATE,
    column_names,
    history,
    incidents,
    instances,
    policy_changes,
    state_entered,
    tasks,
    timers,
)

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

# A scheduler that stops gives back the leases it holds on timers it has not fired (the chunk it
# leased last, timers a firing skipped), so that the others need not wait for them to run out.
RELEASE_LEASES = (
    update(timers)
    .where(timers.c.status == _PENDING, timers.c.locked_by == _ME)
    .values(locked_by=None, lock_expires_at=None)
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
    .values(
        state=bindparam("b_state"),
        version=instances.c.version + 1,
        updated_at=_NOW,
        state_entered_at=state_entered(bindparam("b_state"), _NOW),
    )
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

# Leaving a state cancels its pending timers and its failed ones; each cancelled timer's instance
# and failed attempts tell whether an incident of it may be open (``SWEEP_CLOSE_TIMER_INCIDENTS``).
SWEEP_CANCEL_TIMERS = (
    update(timers)
    .where(
        InIds(timers.c.instance_id, "iids"),
        or_(timers.c.status == _PENDING, timers.c.status == "failed"),
    )
    .values(status="cancelled")
    .returning(timers.c.instance_id, timers.c.attempts)
)

SWEEP_CLOSE_TIMER_INCIDENTS = (
    update(incidents)
    .where(
        InIds(incidents.c.instance_id, "iids"),
        incidents.c.kind == "timer",
        incidents.c.status == "open",
    )
    .values(
        status="closed", resolved_at=_NOW, resolved_by=bindparam("b_actor"), resolution=LEFT_STATE
    )
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
        self.close_timer_incidents = Prepared(SWEEP_CLOSE_TIMER_INCIDENTS, dialect)
        self.close_tasks = Prepared(SWEEP_CLOSE_TASKS, dialect)
        self.variables = Prepared(SWEEP_VARIABLES, dialect)
        self.policy_refs = Prepared(PENDING_POLICY_REFS, dialect)
        self.move_policy_timers = Prepared(MOVE_POLICY_TIMERS, dialect)
        self.policy_due = Prepared(PENDING_POLICY_DUE, dialect)
        self.record_policy_change = Prepared(
            insert(policy_changes).inline(), dialect, column_names(policy_changes)
        )
