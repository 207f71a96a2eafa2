"""The timer sweep: claim due timers in chunks and fire them, one all-or-nothing transaction each.

Timers are rows (``engine.state_effects`` creates them on entering a state and cancels them on
leaving it); this module owns firing the due ones (``engine.policy_timers`` moves the ones derived
from a policy date when the date changes).

A chunk first leases up to ``chunk`` due timers in a short transaction of its own, as Camunda's job
executor acquires jobs: ``locked_by`` (this scheduler's name) and ``lock_expires_at`` (now + the
lease) are set on pending timers with ``due_at <= now`` that nobody holds or whose lease ran out
(``FOR UPDATE ... SKIP LOCKED`` on PostgreSQL, so any number of sweeping processes share the work;
SQLite has one writer, ``BEGIN IMMEDIATE``). A scheduler that hangs (``SIGSTOP``) after leasing
loses its timers when the lease runs out; one that hangs inside the firing transaction holds row
locks until the server ends its session (``idle_in_transaction_session_timeout``, shorter than the
lease). The firing transaction then locks the leased timers that are still pending and still leased
to this scheduler, with their instances: a scheduler that resumes after its lease was taken finds
none of them (fenced by ``locked_by``) and fires nothing twice. A leased timer the firing skipped
because another transaction held its row for a moment is leased again by the next chunk. History and
``fired_at`` record the chunk's own time (the firing), next to the timer's ``due_at``. The claimed
timers fire in waves, each instance's in due order (``engine.timer_order``): a wave holds at most
one timer per instance, the earliest first, and a timer whose instance has an earlier timer still
pending outside the chunk (another scheduler's, one waiting for its next attempt) or that failed an
attempt in this chunk waits for it, its lease given back. A timer whose event keeps its instance in
the state (a reminder) fires without its notices when a later timer of the instance is due with it,
in its chunk or another (``overtaken``): after a downtime the holder is told that the card was sealed, not first to come
and collect it. Within a wave the timers are grouped by
(process, definition version, state, event). A group whose event has no guard and no action fires
set-based (``engine.timer_groups``): one UPDATE of the instances still in the timer's state, one ``INSERT
INTO wf_history ... SELECT`` (due time and firing time), the timers marked fired, the source state's
other timers and open task closed, the target state's timers and task created by ``executemany``
(``engine.set_effects``, shared with the batch files), and the event's notices (``engine.notices``)
written by one ``executemany``. A group with guards or actions fires per instance through
``Engine.fire_in`` inside the same transaction, each under a savepoint: a failure (a guard's
refusal, an action's error) is rolled back to the savepoint and counted as an attempt, and the chunk
goes on. The timer's retry policy (``retry: {times, backoff}`` on the timer, else on its event, else
the sweep's default) decides what follows (``engine.timer_failures``): pending again once the
backoff (doubled after each attempt) is over, or, after the last attempt, ``failed`` with an
incident (``engine.incidents``) that a person retries or resolves. A claimed timer whose instance
has left its state is ``cancelled`` (stale).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from engine.durations import parse_duration
from engine.errors import UnknownProcess, WorkflowError
from engine.heartbeat import session_name
from engine.incidents import IncidentLog
from engine.runtime import Engine
from engine.specs import RetrySpec
from engine.sweep_statements import RELEASE_LEASES, SweepSql
from engine.timer_failures import TimerFailures, attempt_error, not_leaving_error
from engine.timer_groups import SetFiring
from engine.timer_order import DueOrder, waves
from engine.tx import Tx

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 5000
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_RETRY = RetrySpec(times=3, backoff=parse_duration("PT5M"))
ACTOR = "scheduler"
_ATTEMPTS = 5


def process_name() -> str:
    """A name for this process's scheduler that no other process shares: host, pid, a nonce
    (short enough to fit PostgreSQL's ``application_name`` with its prefix)."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:24]
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class SweepReport:
    """What one sweep (or one chunk of it) did.

    Attributes:
        claimed: due timers claimed.
        fired: timers whose event fired (history rows written).
        failed: timers that failed their last attempt (status ``failed``, an incident each).
        retried: timers whose attempt failed and that wait for their backoff (still pending).
        stale: claimed timers whose instance had left the timer's state (``cancelled``).
        waiting: claimed timers given back unfired because an earlier timer of their instance
            was still pending (``engine.timer_order``); they fire after it.
        overtaken: timers fired without their notices: their event keeps the instance in its
            state and a later timer of that state was due with them (a catch-up: the holder is
            told what the later one did, not first the reminder it made stale).
        chunks: transactions that claimed at least one timer.
    """

    leased: int = 0
    claimed: int = 0
    fired: int = 0
    failed: int = 0
    retried: int = 0
    stale: int = 0
    waiting: int = 0
    overtaken: int = 0
    chunks: int = 0

    def add(self, other: SweepReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class _Firing:
    """What one chunk's firing knows as it goes, wave by wave.

    Attributes:
        report: the chunk's report.
        states: each claimed instance's state, as the firing moved it.
        behind: claimed timers an earlier pending timer of their instance outside the chunk
            holds back.
        handled: claimed timers fired, retried or given up.
        held: instances whose later timers wait (an earlier one is still pending).
        waiting: claimed timers that wait, to give back.
        followed: claimed timers with a later due timer of their instance (claimed with them
            or not): if their event keeps the instance in its state, it fires without its
            notices (``overtaken``).
    """

    report: SweepReport
    states: dict[int, str]
    behind: set[int]
    followed: frozenset[int] = frozenset()
    handled: set[int] = field(default_factory=set)
    held: set[int] = field(default_factory=set)
    waiting: list[int] = field(default_factory=list)


class TimerSweep:
    """Fires due timers of one engine's database.

    Args:
        engine: the engine (definitions, registry, clock, database).
        chunk: timers per transaction.
        actor: the actor history records for timer firings.
        name: this scheduler's name in ``locked_by`` (unique per process by default).
        lease: how long a leased timer stays this scheduler's before another may take it.
        retry: the retry policy of timers whose definition names none.
    """

    def __init__(
        self,
        engine: Engine,
        chunk: int = DEFAULT_CHUNK,
        actor: str = ACTOR,
        *,
        name: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        retry: RetrySpec = DEFAULT_RETRY,
    ) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        if lease <= timedelta(0):
            raise ValueError("the lease must be positive")
        self.engine = engine
        self.chunk = chunk
        self.actor = actor
        self.name = name or process_name()
        self.lease = lease
        self.sql = SweepSql(engine.db.dialect)
        self.failures = TimerFailures(self.sql, IncidentLog(engine), retry)
        self.set_firing = SetFiring(engine, self.sql, actor)
        self.order = DueOrder(engine.db.dialect, self.name)
        self._name_session = (
            f"SELECT set_config('application_name', '{session_name(self.name)}', false)"
            if engine.db.dialect.name == "postgresql"
            else None
        )
        assert not any(self.sql.claim.result_processors), "the claim reads raw driver rows"
        self._retryable: type[Exception] = engine.db.dialect.loaded_dbapi.OperationalError

    def sweep(
        self,
        now: datetime | None = None,
        max_chunks: int | None = None,
        on_chunk: Callable[[SweepReport], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> SweepReport:
        """Fire every timer due, chunk by chunk, until none is left that this process can claim.

        Args:
            now: the time of every chunk; by default each chunk reads the engine's clock, so
                history records when each timer actually fired.
            max_chunks: stop after this many chunks.
            on_chunk: called after each chunk that claimed timers (the scheduler's heartbeat).
            stop: asked before each chunk; True ends the sweep there (the scheduler stopping).
        """
        total = SweepReport()
        idle = 0  # chunks in a row whose leased timers were all held by others for a moment
        while max_chunks is None or total.chunks < max_chunks:
            if stop is not None and stop():
                break
            done = self.sweep_chunk(now or self.engine.clock.now())
            total.add(done)
            if done.leased == 0:
                break
            if done.claimed == done.waiting:  # none claimed, or all wait for earlier timers
                idle += 1
                if idle >= _ATTEMPTS:
                    break
                time.sleep(0.01 * idle)
                continue
            idle = 0
            if on_chunk is not None:
                on_chunk(done)
        return total

    def sweep_chunk(self, now: datetime) -> SweepReport:
        """Lease one chunk, then fire it in one transaction; the firing is retried whole after
        a deadlock or a lock timeout (the lease still holds), with a short pause."""
        tids = self._lease(now)
        if not tids:
            return SweepReport()
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                report = self.engine.transaction(lambda tx: self._chunk(tx, now, tids))
                break
            except self._retryable as exc:
                if attempt == _ATTEMPTS:
                    raise
                log.warning("timer chunk rolled back (%s); retrying (attempt %d)", exc, attempt)
                time.sleep(0.05 * 2**attempt)
        report.leased = len(tids)
        return report

    def release(self) -> int:
        """Give back the leases this scheduler holds on timers it has not fired (it is
        stopping: the others may fire them at once); returns how many."""
        with self.engine.db.begin() as conn:
            return int(conn.execute(RELEASE_LEASES, {"b_me": self.name}).rowcount)

    def _lease(self, now: datetime) -> list[int]:
        lease = self.sql.lease
        values = {"b_now": now, "n": self.chunk, "b_me": self.name, "b_until": now + self.lease}

        def work(tx: Tx) -> list[int]:
            self._name(tx)
            tx.cursor.execute(lease.sql, lease.bind(values))
            return [int(raw[0]) for raw in tx.cursor.fetchall()]

        return self.engine.transaction(work)

    # -- one chunk ----------------------------------------------------------------------------

    def _name(self, tx: Tx) -> None:
        """Name the session after this scheduler (PostgreSQL): a scheduler that stalls while
        holding row locks can then have its sessions ended by the others."""
        if self._name_session is not None:
            tx.cursor.execute(self._name_session)

    def _chunk(self, tx: Tx, now: datetime, tids: list[int]) -> SweepReport:
        self._name(tx)
        rows = self._claim(tx, tids)
        report = SweepReport(claimed=len(rows), chunks=1 if rows else 0)
        if not rows:
            return report
        behind, later = self.order.behind(tx, rows, now)
        fire = _Firing(
            report=report,
            states={row.instance_id: row.instance_state for row in rows},
            behind=behind,
            followed=later,
        )
        for wave in waves(rows):
            self._fire_wave(tx, now, wave, fire)
        if fire.waiting:
            report.waiting += self.order.hold_back(tx, fire.waiting)
        done = fire.handled.union(fire.waiting)
        stale = [row.id for row in rows if row.id not in done]
        if stale:
            report.stale += tx.run(self.sql.mark_timers, {"tids": stale, "b_status": "cancelled"})
        return report

    def _fire_wave(self, tx: Tx, now: datetime, wave: list[Any], fire: _Firing) -> None:
        """Fire one wave (at most one timer per instance): grouped by (process, definition
        version, state, event), set-based where the event has no guard and no action. A timer
        whose instance is still in its state but has an earlier timer still pending waits
        (``engine.timer_order``); one whose instance has left its state is stale."""
        groups: dict[tuple[str, int, str, str], list[Any]] = {}
        for row in wave:
            waits = row.id in fire.behind or row.instance_id in fire.held
            if waits and fire.states.get(row.instance_id) == row.state:
                fire.waiting.append(row.id)
                fire.held.add(row.instance_id)
                continue
            key = (row.process, row.definition_version, row.state, row.event)
            groups.setdefault(key, []).append(row)
        report, states, handled = fire.report, fire.states, fire.handled
        for (process, version, state, event), members in groups.items():
            try:
                definition = self.engine.definition(process, version)
            except UnknownProcess:
                definition = None
            spec = definition.events.get(event) if definition else None
            if definition is None or spec is None or event not in definition.outgoing(state):
                problem = not_leaving_error(event, process, version, state)
                log.error("%s", problem)
                for row in members:  # no attempt can succeed: an incident at once
                    self.failures.give_up(tx, row, problem, row.attempts + 1, now)
                    handled.add(row.id)
                    report.failed += 1
                continue
            live = self._live(members, states, state)
            # a reminder made stale by a later timer due with it: fired, its notices not sent
            quiet = (
                frozenset(r.id for r in live if r.id in fire.followed)
                if spec.notices and spec.target == state
                else frozenset()
            )
            if spec.guards or spec.actions:
                retry = self.failures.policy(definition, state, event)
                self._fire_each(tx, live, now, fire, retry, quiet)
            else:
                fired = self.set_firing.fire(tx, definition, spec, state, live, now, quiet)
                report.overtaken += len(quiet.intersection(fired))
                if fired:
                    states.update(dict.fromkeys((r.instance_id for r in live), spec.target))
                    handled.update(fired)
                    report.fired += len(fired)

    def _claim(self, tx: Tx, tids: list[int]) -> list[Any]:
        """Lock and read the leased chunk. Its columns (ids, names) need no result processing,
        so the driver's tuples become rows directly (thousands per chunk: this is the hot loop)."""
        claim = self.sql.claim
        tx.cursor.execute(claim.sql, claim.bind({"tids": tids, "b_me": self.name}))
        make = claim.row_type._make
        return [make(raw) for raw in tx.cursor.fetchall()]

    @staticmethod
    def _live(members: Sequence[Any], states: dict[int, str], state: str) -> list[Any]:
        """The members whose instance is (still) in ``state``, one timer per instance."""
        seen: set[int] = set()
        live = []
        for row in members:
            if states.get(row.instance_id) == state and row.instance_id not in seen:
                seen.add(row.instance_id)
                live.append(row)
        return live

    def _fire_each(
        self,
        tx: Tx,
        live: list[Any],
        now: datetime,
        fire: _Firing,
        retry: RetrySpec,
        quiet: frozenset[int] = frozenset(),
    ) -> None:
        """Guards, actions or notices: fire per instance, each under a savepoint that a failure
        rolls back; the failure counts as an attempt (``retry``), and the instance's later timers
        wait for the next one. The timers of ``quiet`` fire without their notices."""
        report, states, handled = fire.report, fire.states, fire.handled
        for row in live:
            if states.get(row.instance_id) != row.state:
                continue  # an earlier timer of this chunk moved it: stale
            tx.cursor.execute("SAVEPOINT shebao_timer")
            try:
                # Marked first, so that leaving the state does not cancel the timer being fired.
                tx.run(self.sql.fire_timers, {"tids": [row.id], "b_now": now})
                due = tx.one(self.sql.timer_due, {"tid": row.id}).due_at
                instance = self.engine.load(tx, row.instance_id)
                done = self.engine.fire_in(
                    tx,
                    instance,
                    row.event,
                    self.actor,
                    {},
                    due_at=due,
                    now=now,
                    notify=row.id not in quiet,
                )
            except Exception as exc:  # noqa: BLE001 - a refused timer must not abort the chunk
                tx.cursor.execute("ROLLBACK TO SAVEPOINT shebao_timer")
                tx.cursor.execute("RELEASE SAVEPOINT shebao_timer")
                log.warning(
                    "timer %s (%s on instance %s) attempt %d failed: %s",
                    row.id,
                    row.event,
                    row.instance_id,
                    row.attempts + 1,
                    exc,
                    exc_info=not isinstance(exc, WorkflowError),
                )
                error = attempt_error(exc)
                if self.failures.attempt_failed(tx, row, error, retry, now):
                    report.failed += 1
                else:
                    report.retried += 1
                    fire.held.add(row.instance_id)
                handled.add(row.id)
                continue
            tx.cursor.execute("RELEASE SAVEPOINT shebao_timer")
            states[row.instance_id] = done.to_state
            handled.add(row.id)
            report.fired += 1
            report.overtaken += row.id in quiet
