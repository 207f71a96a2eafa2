"""What follows a timer's failed firing: another attempt after a backoff, or, after the last
attempt, the timer ``failed`` with an incident (``engine.incidents``) that a person retries or
resolves.

The retry policy is the timer's own (``retry:`` on the state's timer), else its event's, else the
sweep's default. The backoff doubles after each attempt: ``retry: {times: 3, backoff: PT5M}``
tries three times, 5 and then 10 minutes apart.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from engine.definition import ProcessDefinition
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
