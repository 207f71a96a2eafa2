"""The engine's tables, SQLAlchemy 2.0 style: instances, append-only history, tasks, timers, keys.

Times are stored in UTC (``UtcDateTime``: aware in Python, naive UTC text on SQLite, ``timestamptz``
on PostgreSQL). The runtime writes through these tables with Core statements (``Model.__table__``) so
that one transition is a handful of cached statements; pages may use the ORM classes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the engine stores aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Instance(Base):
    """One running (or ended) process instance: a card, or one policy year of one person."""

    __tablename__ = "wf_instance"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    process: Mapped[str] = mapped_column(String(64))
    definition_version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    variables: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    state_entered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=utcnow)
    """When the instance entered its current state: set at the start and by every write that
    changes ``state``, kept by a transition that stays (a reminder, a take-back), which moves
    ``updated_at`` only. Null only for a row written by hand without it (0016 filled the rest)."""

    __table_args__ = (
        Index("ix_wf_instance_process_state", "process", "state"),
        # retention: finished instances by their last change (0012)
        Index("ix_wf_instance_state_age", "process", "state", "updated_at"),
        # the diagrams' age heat, the state page's "in this state for N days" (0016) and its
        # pages, the longest waiting first: a range from the cursor's (state_entered_at, id) (0017)
        Index("ix_wf_instance_state_entered", "process", "state", "state_entered_at", "id"),
    )


class History(Base):
    """Append-only: one row per transition, including the start (``from_state`` is then null)."""

    __tablename__ = "wf_history"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    process: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    task_id: Mapped[int | None] = mapped_column(Id)
    data: Mapped[dict[str, Any] | None] = mapped_column(Json)

    # Per-flow counts of the diagrams read one process's transitions from this index alone.
    __table_args__ = (Index("ix_wf_history_flow", "process", "event", "from_state", "to_state"),)


class Task(Base):
    """A user task: open while its instance waits in the task's state."""

    __tablename__ = "wf_task"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    process: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    candidate_group: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(128))
    """Who delegated the task and gets it back when the delegate resolves it (Camunda's owner)."""
    priority: Mapped[int] = mapped_column(Integer, server_default="50")
    """0-100, higher first where an inbox sorts by priority."""
    follow_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Hidden from the default inbox view until then ("wake me on Monday")."""
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    """Completions refused by a check (a guard or the form): each is in the history too."""

    __table_args__ = (
        Index("ix_wf_task_inbox", "status", "candidate_group", "scope", "due_at", "id"),
        # the diagrams' overdue heat: only late open tasks are read, without the table (0012)
        Index(
            "ix_wf_task_open_due",
            "process",
            "due_at",
            "state",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


# The inbox's other orders (0013): by creation time, and by priority (highest first), each a range
# of one index from a keyset cursor on, like ``ix_wf_task_inbox`` for the due date.
_task_columns = Task.__table__.c
Index(
    "ix_wf_task_inbox_created",
    _task_columns.status,
    _task_columns.candidate_group,
    _task_columns.scope,
    _task_columns.created_at,
    _task_columns.id,
)
Index(
    "ix_wf_task_inbox_priority",
    _task_columns.status,
    _task_columns.candidate_group,
    _task_columns.scope,
    _task_columns.priority.desc(),
    _task_columns.id,
)


class TaskComment(Base):
    """A staff member's comment on a task, kept with the instance's record."""

    __tablename__ = "wf_task_comment"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("wf_task.id"), index=True)
    instance_id: Mapped[int] = mapped_column(Id, index=True)
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Timer(Base):
    """A boundary timer: pending while its instance stays in ``state``; fired or cancelled after."""

    __tablename__ = "wf_timer"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    process: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    policy_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    """The scheduler that claimed the timer (its lease), or None."""
    lock_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Until when the claim holds; after a failed attempt, when the next attempt may start (the
    backoff). Another scheduler claims the timer once this time has passed."""
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_wf_timer_pending_due",
            "due_at",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_wf_timer_pending_policy",
            "policy_ref",
            sqlite_where=text("status = 'pending' AND policy_ref IS NOT NULL"),
            postgresql_where=text("status = 'pending' AND policy_ref IS NOT NULL"),
        ),
    )


class IdempotencyKey(Base):
    """A delivered request (bank message id, batch file line): a retry returns the first result."""

    __tablename__ = "wf_idempotency_key"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(256))
    request_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[int | None] = mapped_column(Id)
    response: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("scope", "key"),)


class Setting(Base):
    """A service-wide setting that every process reads (web workers, schedulers): the service
    clock's offset (``engine.clock.DatabaseClock``)."""

    __tablename__ = "wf_setting"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SchedulerHeartbeat(Base):
    """One scheduler process: it writes ``heartbeat_at`` at every run of its job, so readiness
    checks and pages know whether deadlines are being fired."""

    __tablename__ = "wf_scheduler"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    info: Mapped[dict[str, Any] | None] = mapped_column(Json)


class Incident(Base):
    """A step that failed all its attempts (a timer's event, a notice's delivery): it waits for
    someone to fix the cause and retry it, or to resolve it by hand."""

    __tablename__ = "wf_incident"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``timer`` or ``notice``: what ``ref_id`` names."""
    ref_id: Mapped[int] = mapped_column(Id)
    instance_id: Mapped[int | None] = mapped_column(Id, index=True)
    process: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution: Mapped[str | None] = mapped_column(String(16))
    """``retry`` (the step was put back) or ``resolve`` (closed without running it again)."""

    __table_args__ = (Index("ix_wf_incident_status_process", "status", "process"),)


class Notice(Base):
    """The notification outbox: a notice written in the transaction of the event that causes it,
    delivered once by the delivery worker to a channel, with retries."""

    __tablename__ = "wf_notice"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    process: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(64))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    lock_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Until when a worker's claim holds; after a failed attempt, the earliest next attempt."""
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "ix_wf_notice_pending",
            "lock_expires_at",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )


class PolicyChange(Base):
    """A policy date that changed under pending timers (Foshan moved 2022's period end to 28
    February): who and when, the date before and after, and how many timers moved with it."""

    __tablename__ = "wf_policy_change"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    policy_ref: Mapped[str] = mapped_column(String(128), index=True)
    old_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    new_due: Mapped[datetime] = mapped_column(UtcDateTime)
    timers_moved: Mapped[int] = mapped_column(Integer)


class DeployedDefinition(Base):
    """One deployed version of a process definition: the YAML itself, its content hash, when and
    by whom (as Camunda's deployments). Instances keep the version they started on."""

    __tablename__ = "wf_definition"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(String(512))
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deployed_by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("key", "version"),)
