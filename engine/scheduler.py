"""APScheduler as the clock that calls the timer sweep; the timer table stays the only truth.

Each process runs its own APScheduler with an in-memory job store (never shared between processes)
and one interval job that sweeps due timers (``engine.timers``). Processes on any number of hosts
coordinate only through the database's row locks. Misfires are handled deliberately:

- ``coalesce=True``: runs missed while the process was busy or suspended collapse into one sweep,
  which fires everything due anyway.
- ``max_instances=1``: a sweep that outlasts the interval is never overlapped by the next one.
- ``misfire_grace_time`` = one interval: a run that starts later than that is dropped, because the
  next run sweeps the same rows.
- the first run is scheduled for start-up, so timers that came due while no scheduler ran fire at
  once (catch-up); history keeps their ``due_at`` next to ``occurred_at``.
- each run first loads the definition versions another process deployed (``engine.catalog``),
  so that what its periodic jobs start starts on the latest; when a periodic job started
  something, the run sweeps again, so timers already due of what it started (a job catching up
  a period missed during a downtime) fire in the same run.
- a run during a database outage (cannot connect, connection lost, statement timeout) logs one
  warning and returns; the next run tries again. A chunk is one transaction, so nothing of a chunk
  the outage interrupted is kept, and a policy file change that could not be applied yet is
  applied by the next run.

Operations: each process leases the timers it fires (``engine.timers``: a scheduler that hangs
loses them when the lease runs out), writes a heartbeat row at every run (``engine.heartbeat``;
readiness checks and pages read it), and, when given an outbox worker, delivers due notices in a
second job on a thread of its own, so a long delivery (a slow SMS gateway) never delays a
deadline.

Stopping (``shutdown``; ``shebao scheduler`` on SIGTERM or Ctrl+C): no new chunk, cleanup chunk or
periodic job starts; the chunks in hand (and a notice delivery run) finish; the timers this process
leased and did not fire are given back at once (not left for their lease to run out), and its
heartbeat row is removed, so the pages and ``shebao_scheduler_heartbeat_age_seconds`` forget it.

Time comes from the engine's clock; ``run_once`` with a ``SimulatedClock`` is the time-skipping path
that tests and the demo use.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from engine.db import is_unavailable
from engine.heartbeat import Heartbeat, end_stalled_sessions
from engine.policy_timers import move_policy_timers
from engine.retention import ArchiveUnwritable
from engine.runtime import Engine
from engine.specs import RetrySpec
from engine.timers import (
    DEFAULT_CHUNK,
    DEFAULT_LEASE,
    DEFAULT_RETRY,
    SweepReport,
    TimerSweep,
)

log = logging.getLogger(__name__)

JOB_ID = "shebao-timer-sweep"
OUTBOX_JOB_ID = "shebao-notice-delivery"
CLEANUP_JOB_ID = "shebao-history-cleanup"
CLEANUP_EVERY_S = 300.0
DEFAULT_INTERVAL = 30.0


def run_once(
    engine: Engine, now: datetime | None = None, chunk: int = DEFAULT_CHUNK
) -> SweepReport:
    """Fire every timer due at ``now`` (the engine clock's time by default), run the registry's
    periodic jobs, and return. Versions deployed by another process are looked for first; what
    the periodic jobs started with timers due already (a job catching up after a downtime) is
    fired in the same run."""
    moment = now or engine.clock.now()
    engine.check_deployments()
    sweeper = TimerSweep(engine, chunk)
    report = sweeper.sweep(moment)
    if any(run_periodic(engine, moment).values()):
        report.add(sweeper.sweep(moment))
    return report


def run_periodic(engine: Engine, now: datetime) -> dict[str, int]:
    """Run each periodic job the domain registered (renewals opening, ...); one failing job is
    logged and does not stop the others or the next sweep."""
    results: dict[str, int] = {}
    for name, job in engine.registry.periodic_jobs().items():
        try:
            results[name] = job(engine, now)
        except Exception:  # noqa: BLE001 - a domain job's failure must not stop the scheduler
            log.exception("periodic job %s failed", name)
            continue
        if results[name]:
            log.info("periodic job %s: %d", name, results[name])
    return results


class PolicyWatcher:
    """Notices a change of the policy files (name, size, modification time) between sweeps."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._seen: tuple[tuple[str, int, int], ...] | None = self._signature()

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        # os.scandir, not Path.glob: a web worker asks before every request, and this is a third
        # of glob's cost (~30 us against ~85 us for four files here).
        with os.scandir(self.directory) as entries:
            found = [(e.name, e.stat()) for e in entries if e.name.endswith(".yaml")]
        found.sort(key=lambda pair: pair[0])
        return tuple((name, stat.st_size, stat.st_mtime_ns) for name, stat in found)

    def changed(self) -> bool:
        now = self._signature()
        if now == self._seen:
            return False
        self._seen = now
        return True

    def unseen(self) -> None:
        """Forget the files seen: the next ``changed`` answers True (a change not yet applied)."""
        self._seen = None


class Outbox(Protocol):
    """What the scheduler needs of a notice delivery worker (``engine.outbox``)."""

    def run_once(self, now: datetime) -> Any: ...


class Cleanup(Protocol):
    """What the scheduler needs of the history cleanup (``engine.retention``)."""

    def run_once(
        self, now: datetime | None = None, *, stop: Callable[[], bool] | None = None
    ) -> Any: ...


class Scheduler:
    """One process's scheduler: an APScheduler interval job that sweeps due timers.

    Args:
        engine: the engine to fire timers with.
        interval: seconds between sweeps.
        chunk: timers per transaction.
        blocking: run in the calling thread (``shebao scheduler``) instead of in the background
            (``shebao run``).
        policies_dir: when given, a change to its policy files reloads them and moves the
            pending timers derived from their dates before the next sweep.
        lease: how long timers this scheduler leased stay its own (``engine.timers``).
        retry: the retry policy of timers whose definition names none.
        outbox: a notice delivery worker run after each sweep, if any.
        cleanup: the history cleanup, run every five minutes while ``cleanup_window`` (wall
            clock) is open; its budget keeps a run inside the window.
        cleanup_window: when the cleanup may run (``engine.retention.Window``); None: any time.
        heartbeat: write this process's ``wf_scheduler`` row at every run.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = DEFAULT_INTERVAL,
        chunk: int = DEFAULT_CHUNK,
        blocking: bool = False,
        policies_dir: str | Path | None = None,
        lease: timedelta = DEFAULT_LEASE,
        retry: RetrySpec = DEFAULT_RETRY,
        outbox: Outbox | None = None,
        heartbeat: bool = True,
        cleanup: Cleanup | None = None,
        cleanup_window: Any = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.engine = engine
        self.interval = interval
        self.sweeper = TimerSweep(engine, chunk, lease=lease, retry=retry)
        self.name = self.sweeper.name
        self.outbox = outbox
        self.cleanup = cleanup
        self.cleanup_window = cleanup_window
        self.heartbeat = Heartbeat(engine.db, self.name) if heartbeat else None
        self.watcher = PolicyWatcher(policies_dir) if policies_dir else None
        self.last: SweepReport | None = None
        self.failed_ticks = 0  # runs in a row that found the database unavailable
        self.swept = threading.Event()
        self.stopping = threading.Event()
        """Set by ``shutdown`` (or a signal handler): the jobs stop after the chunk in hand."""
        kind = BlockingScheduler if blocking else BackgroundScheduler
        self.apscheduler: BaseScheduler = kind(
            jobstores={"default": MemoryJobStore()},  # per process: our timer table is the truth
            executors={"default": ThreadPoolExecutor(max_workers=3)},  # sweep, notices, cleanup
            timezone=UTC,
        )
        self._every(self.tick, JOB_ID, "fire due timers", interval, at_start=True)  # catch-up
        if outbox is not None:
            self._every(self.deliver, OUTBOX_JOB_ID, "deliver due notices", interval, True)
        if cleanup is not None:
            every = max(interval, CLEANUP_EVERY_S)
            self._every(self.clean, CLEANUP_JOB_ID, "remove finished instances", every, False)

    def _every(self, job: Any, job_id: str, name: str, seconds: float, at_start: bool) -> None:
        """An interval job that never overlaps itself and collapses missed runs into one."""
        first = {"next_run_time": datetime.now(UTC)} if at_start else {}
        self.apscheduler.add_job(
            job,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=job_id,
            name=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(seconds)),
            replace_existing=True,
            **first,
        )

    def tick(self) -> SweepReport:
        """One run of the job: follow policy file changes, then sweep what is due now.

        When the database is unavailable the run logs it and returns an empty report; the next
        run (one interval later) tries again. Other errors propagate (APScheduler logs them).
        """
        if self.stopping.is_set():
            return SweepReport()
        try:
            report = self._sweep()
            if self.failed_ticks:
                log.info("database available again after %d skipped sweep(s)", self.failed_ticks)
                self.failed_ticks = 0
            self.last = report
            return report
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self.failed_ticks += 1
            first_line = next(iter(str(exc).strip().splitlines()), "")
            log.warning(
                "timer sweep skipped, the database is unavailable (%d run(s) in a row): %s: %s",
                self.failed_ticks,
                type(exc).__name__,
                first_line,
            )
            return SweepReport()
        finally:
            self.swept.set()

    def run_now(self) -> SweepReport:
        """One run in the calling thread (``shebao scheduler --once``): like ``tick``, but a
        database that cannot be reached is an error, not a skipped run."""
        try:
            report = self._sweep()
            self.last = report
            if self.outbox is not None and not self.stopping.is_set():
                self.outbox.run_once(self.engine.clock.now())
            return report
        finally:
            self.swept.set()

    def _beat(self, report: SweepReport | None = None, force: bool = True) -> None:
        if self.heartbeat is None or self.stopping.is_set():  # its row is going
            return
        if force or self.heartbeat.due(timedelta(seconds=self.interval)):
            info = {"interval_s": self.interval, "last": report.as_dict() if report else None}
            self.heartbeat.beat(info)

    def _sweep(self) -> SweepReport:
        self._beat(self.last)
        if self.heartbeat is not None:  # a scheduler silent past its lease holds no locks
            end_stalled_sessions(self.engine.db, self.name, self.sweeper.lease)
        if self.watcher is not None and self.watcher.changed():
            try:
                moved = move_policy_timers(self.engine, actor=f"scheduler:{self.name}")
            except BaseException:
                self.watcher.unseen()  # not applied: the next run sees the change again
                raise
            log.info("policy files changed: moved %d pending timers", sum(moved.values()))
        self.engine.check_deployments()  # versions deployed elsewhere: what it starts uses them
        report = self._sweep_due()
        if not self.stopping.is_set() and any(
            run_periodic(self.engine, self.engine.clock.now()).values()
        ):
            report.add(self._sweep_due())  # what the jobs started may be due already
        if report.claimed:
            log.info("timer sweep: %s", report.as_dict())
        self._beat(report)
        return report

    def _sweep_due(self) -> SweepReport:
        return self.sweeper.sweep(
            on_chunk=lambda done: self._beat(done, force=False), stop=self.stopping.is_set
        )

    def clean(self) -> Any:
        """One run of the cleanup job, inside its window only; an outage or an archive that
        cannot be written skips the run (one log line; nothing removed)."""
        if self.cleanup is None or self.stopping.is_set():
            return None
        window = self.cleanup_window
        if window is not None and not window.contains(datetime.now(UTC)):
            return None
        cleanup = self.cleanup
        try:
            return self._unless_unavailable(
                "history cleanup", lambda: cleanup.run_once(stop=self.stopping.is_set)
            )
        except ArchiveUnwritable as exc:
            log.error("history cleanup skipped: %s", exc)
            return None

    def deliver(self) -> Any:
        """One run of the delivery job: send the notices that are due; a database outage skips
        the run (the notices wait in the outbox)."""
        if self.outbox is None:
            return None
        outbox = self.outbox
        return self._unless_unavailable(
            "notice delivery", lambda: outbox.run_once(self.engine.clock.now())
        )

    @staticmethod
    def _unless_unavailable(what: str, run: Any) -> Any:
        try:
            return run()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("%s skipped, the database is unavailable: %s", what, exc)
            return None

    def start(self) -> None:
        """Start; with ``blocking=True`` this returns only when the scheduler shuts down."""
        self.apscheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop (see the module docstring): with ``wait``, return once the jobs in hand have
        finished; then give back this process's timer leases and remove its heartbeat row."""
        self.stopping.set()
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=wait)
        beat = self.heartbeat is not None and self.heartbeat.last is not None
        if not (beat or self.swept.is_set()):
            return  # never swept: it holds no lease and has no row
        try:
            released = self.sweeper.release()
            if beat and self.heartbeat is not None:
                self.heartbeat.stop()
        except Exception as exc:  # noqa: BLE001 - the database may be gone; leases and row age
            log.warning("could not give back the leases or remove the heartbeat row: %s", exc)
            return
        log.info("scheduler %s stopped: %d leased timer(s) given back", self.name, released)
