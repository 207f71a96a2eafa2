"""What follows a timer's failed firing: another attempt after a backoff, or, after the last
attempt, the timer ``failed`` with an incident (``engine.incidents``) that a person retries or
resolves; and what the error a firing records says (``timer_failure``).

The retry policy is the timer's own (``retry:`` on the state's timer), else its event's, else the
sweep's default. The backoff doubles after each attempt: ``retry: {times: 3, backoff: PT5M}``
tries three times, 5 and then 10 minutes apart.

The error is text (the timer row and the incident keep it): ``not_leaving_error`` when the timer's
event does not leave its state in the instance's definition version, else ``attempt_error``, the
exception's class and message. ``timer_failure`` reads it back as one of the common causes, for
the incident pages to put in words (as ``engine.outbox_channels.channel_failure`` does for a
notice): the event no longer leaves the state, a guard refused it, the instance's state does not
allow it (now), someone changed the instance meanwhile, the event's data was refused, the
instance's policy cannot be found, a database error. A refusal of the engine carries its reason in
Chinese and English (``WorkflowError``: "中文 / English"), which ``reason_zh`` and ``reason_en``
give apart.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.definition import ProcessDefinition
from engine.errors import (
    ConcurrentModification,
    DataInvalid,
    EventNotAllowed,
    TransitionRefused,
)
from engine.incidents import IncidentLog
from engine.specs import RetrySpec
from engine.sweep_statements import SweepSql
from engine.tx import Tx

log = logging.getLogger("engine.timers")  # the sweep's log: operators follow one logger

_ERROR_LENGTH = 2000
"""The timer row keeps this much of the last error (the incident keeps its own copy)."""


class TimerFailures:
    """Counts failed attempts on timer rows and opens the incident when they run out."""

    def __init__(self, sql: SweepSql, incidents: IncidentLog, default: RetrySpec) -> None:
        self.sql = sql
        self.incidents = incidents
        self.default = default

    def policy(self, definition: ProcessDefinition, state: str, event: str) -> RetrySpec:
        """The retry policy of ``event``'s timer in ``state``."""
        for timer in definition.states[state].timers:
            if timer.event == event and timer.retry is not None:
                return timer.retry
        spec = definition.events.get(event)
        return spec.retry if spec is not None and spec.retry is not None else self.default

    def attempt_failed(self, tx: Tx, row: Any, error: str, retry: RetrySpec, now: datetime) -> bool:
        """Count a failed attempt on the claimed timer ``row``: pending again once the backoff
        is over, or given up after the policy's last attempt. True when it was given up."""
        attempts = row.attempts + 1
        if attempts >= retry.times:
            self.give_up(tx, row, error, attempts, now)
            return True
        pause = retry.backoff.delta * 2 ** (attempts - 1)
        self._record(tx, row, "pending", attempts, now + pause, error)
        return False

    def give_up(self, tx: Tx, row: Any, error: str, attempts: int, now: datetime) -> None:
        """Mark the timer ``failed`` after ``attempts`` and open its incident."""
        self._record(tx, row, "failed", attempts, None, error)
        self.incidents.open(
            tx,
            kind="timer",
            ref_id=row.id,
            step=row.event,
            error=error,
            attempts=attempts,
            now=now,
            instance_id=row.instance_id,
            process=row.process,
            state=row.state,
        )
        log.warning(
            "timer %s (%s on instance %s) failed %d time(s): incident opened",
            row.id,
            row.event,
            row.instance_id,
            attempts,
        )

    def _record(
        self, tx: Tx, row: Any, status: str, attempts: int, next_at: datetime | None, error: str
    ) -> None:
        tx.run(
            self.sql.attempt_failed,
            {
                "tid": row.id,
                "b_status": status,
                "b_attempts": attempts,
                "b_next": next_at,
                "b_error": error[:_ERROR_LENGTH],
            },
        )


# -- the recorded error, and its cause ---------------------------------------------------------

NOT_LEAVING = "not_leaving"
REFUSED = "refused"
NOT_ALLOWED = "not_allowed"
CHANGED = "changed"
INVALID_DATA = "invalid_data"
POLICY_MISSING = "policy_missing"
DATABASE = "database"
CAUSES = (NOT_LEAVING, REFUSED, NOT_ALLOWED, CHANGED, INVALID_DATA, POLICY_MISSING, DATABASE)
"""The common causes ``timer_failure`` tells apart."""

_BY_CLASS = {
    TransitionRefused.__name__: REFUSED,
    EventNotAllowed.__name__: NOT_ALLOWED,
    ConcurrentModification.__name__: CHANGED,
    DataInvalid.__name__: INVALID_DATA,
    "PolicyError": POLICY_MISSING,  # workflows.policy_schema: a value the policy lacks
    "UnknownPolicy": POLICY_MISSING,  # workflows.regions
}
_DATABASE_ERRORS = frozenset(
    {
        # DB-API 2.0 (sqlite3, psycopg) and SQLAlchemy's wrappers of them
        "DatabaseError",
        "DataError",
        "DBAPIError",
        "IntegrityError",
        "InterfaceError",
        "InternalError",
        "NotSupportedError",
        "OperationalError",
        "ProgrammingError",
        # psycopg's errors by SQLSTATE that a firing meets
        "AdminShutdown",
        "DeadlockDetected",
        "LockNotAvailable",
        "QueryCanceled",
        "SerializationFailure",
        "UniqueViolation",
    }
)
_NOT_LEAVING = re.compile(r"timer event \S+ does not leave \S+ v\S+ \S+")
_ATTEMPT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*): (?P<text>.*)", re.DOTALL)
_POLICY_LOOKUP = re.compile(r"\b(unknown (policy|region)|policy date resolver|polic(y|ies))\b")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_BOTH = " / "


@dataclass(frozen=True)
class TimerFailure:
    """A timer's recorded error read as a common cause (``CAUSES``); a refusal's reason in each
    language (empty when the error gives none)."""

    cause: str
    reason_zh: str = ""
    reason_en: str = ""


def not_leaving_error(event: str, process: str, version: int, state: str) -> str:
    """The error of a timer whose event does not leave its state in the instance's definition
    version (or whose definition is unknown): no attempt can succeed."""
    return f"timer event {event} does not leave {process} v{version} {state}"


def attempt_error(exc: BaseException) -> str:
    """The error a failed attempt records: the exception's class and message."""
    return f"{type(exc).__name__}: {exc}"


def timer_failure(error: str) -> TimerFailure | None:
    """What the recorded ``error`` of a timer says, as one of ``CAUSES``; None for any other
    error (an action's own failure, a bug: the technical text is all there is)."""
    text = error.strip()
    if _NOT_LEAVING.fullmatch(text):
        return TimerFailure(NOT_LEAVING)
    found = _ATTEMPT.fullmatch(text)
    if found is None:
        return None
    name, message = found["name"], found["text"]
    cause = _BY_CLASS.get(name)
    if cause is None and name in _DATABASE_ERRORS:
        cause = DATABASE
    if cause is None and name == "LookupError" and _POLICY_LOOKUP.search(message):
        cause = POLICY_MISSING
    if cause is None:
        return None
    if cause in (REFUSED, NOT_ALLOWED, INVALID_DATA):
        return TimerFailure(cause, *_in_each_language(message))
    return TimerFailure(cause)


def _in_each_language(message: str) -> tuple[str, str]:
    """A refusal's "中文 / English" apart: split at the first " / " after which no Chinese is
    left; the whole message in both when it is not so written."""
    at = message.find(_BOTH)
    while at >= 0:
        zh, en = message[:at], message[at + len(_BOTH) :]
        if _CJK.search(zh) and not _CJK.search(en):
            return zh.strip(), en.strip()
        at = message.find(_BOTH, at + 1)
    return message, message
