"""History retention: finished instances older than their process's ``history_ttl`` are removed
with their history, tasks, timers, notices and incidents, in chunks, optionally archived first.

As Camunda's history cleanup: set-based, a chunk of instances per transaction (``DELETE ... WHERE
instance_id IN (...)`` per table, children first), so that no transaction holds its locks for long.
The chunk adapts to a bound on how long one transaction may take (``max_lock``): halved when a
chunk took longer, grown again when it took less than half. The longest transaction is reported.

An instance is finished when it sits in a final state; its age is counted from ``updated_at``,
the time of its last transition (the one that ended it). With an archive, each chunk's instances
with their history are appended as JSON lines to a gzip file (one gzip member per chunk, so a
crash leaves a readable file) and flushed to disk before the chunk's rows are deleted: a crash in
between archives those instances twice, never loses one; readers keep the last line per instance.

Idempotency keys stay: they answer a repeated delivery, whatever became of its instance.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, tzinfo
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select

from engine.interventions import CANCELLED
from engine.models import History, Incident, Instance, Notice, Task, Timer
from engine.runtime import Engine
from engine.specs import ProcessDefinition

log = logging.getLogger(__name__)

INSTANCES: Table = Instance.__table__  # type: ignore[assignment]
HISTORY: Table = History.__table__  # type: ignore[assignment]
CHILDREN: tuple[Table, ...] = tuple(  # removed before the instance, the history last
    model.__table__  # type: ignore[misc]
    for model in (Notice, Incident, Task, Timer, History)
)
DEFAULT_CHUNK = 1000
MIN_CHUNK = 10
DEFAULT_MAX_LOCK = timedelta(seconds=1)


@dataclass
class CleanupReport:
    """What a cleanup removed (or, in a dry run, would remove)."""

    instances: int = 0
    history: int = 0
    chunks: int = 0
    max_lock_ms: float = 0.0
    """The longest transaction of the run (what one chunk held its locks for)."""
    archived: int = 0

    def add(self, other: CleanupReport) -> None:
        self.instances += other.instances
        self.history += other.history
        self.chunks += other.chunks
        self.archived += other.archived
        self.max_lock_ms = max(self.max_lock_ms, other.max_lock_ms)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: round(getattr(self, f.name), 1) for f in fields(self)}

    def __bool__(self) -> bool:
        return self.instances > 0


def cutoff(definition: ProcessDefinition, now: datetime) -> datetime | None:
    """Finished instances last changed before this moment are due for removal (None: kept)."""
    if definition.history_ttl is None:
        return None
    return now - definition.history_ttl.delta


def _due(definition: ProcessDefinition, before: datetime) -> Any:
    return (
        (INSTANCES.c.process == definition.key)
        & (INSTANCES.c.definition_version == definition.version)
        & INSTANCES.c.state.in_([*definition.final_states, CANCELLED])
        & (INSTANCES.c.updated_at < before)
    )


def due_counts(engine: Engine, now: datetime) -> dict[str, int]:
    """Finished instances past their process's ``history_ttl``, per process (the pages)."""
    counts: dict[str, int] = {}
    with engine.db.connect() as conn:
        for definition in engine.all_definitions():
            before = cutoff(definition, now)
            if before is None or not definition.final_states:
                continue
            n = conn.execute(
                select(func.count()).select_from(INSTANCES).where(_due(definition, before))
            ).scalar_one()
            counts[definition.key] = counts.get(definition.key, 0) + int(n)
    return counts


class HistoryCleanup:
    """Removes finished instances past their process's ``history_ttl``.

    Args:
        engine: the engine whose definitions say each process's time to live.
        chunk: instances per transaction to start with.
        max_lock: the longest a chunk's transaction should take; the chunk adapts to it.
        archive: a directory to write the removed instances to first (gzip JSON lines).
        budget: stop a run after this long (the scheduler's window); None: until done.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        chunk: int = DEFAULT_CHUNK,
        max_lock: timedelta = DEFAULT_MAX_LOCK,
        archive: Path | None = None,
        budget: timedelta | None = None,
    ) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self.engine = engine
        self.chunk = chunk
        self.max_lock = max_lock
        self.archive = archive
        self.budget = budget

    def run_once(self, now: datetime | None = None) -> CleanupReport:
        """Remove what is due at ``now`` (the engine clock's time by default), process by
        process, chunk by chunk, within the budget."""
        moment = now or self.engine.clock.now()
        began = time.monotonic()
        total = CleanupReport()
        for definition in self.engine.all_definitions():
            before = cutoff(definition, moment)
            if before is None or not definition.final_states:
                continue
            while True:  # at least one chunk per run, then as many as the budget allows
                done = self._chunk(definition, before, moment)
                total.add(done)
                if done.instances == 0:
                    break
                if self._spent(began):
                    return total
        if total:
            log.info("history cleanup: %s", total.as_dict())
        return total

    def _spent(self, began: float) -> bool:
        return self.budget is not None and time.monotonic() - began >= self.budget.total_seconds()

    def dry_run(self, now: datetime | None = None) -> CleanupReport:
        """What ``run_once`` would remove, changing nothing."""
        moment = now or self.engine.clock.now()
        report = CleanupReport()
        with self.engine.db.connect() as conn:
            for definition in self.engine.all_definitions():
                before = cutoff(definition, moment)
                if before is None or not definition.final_states:
                    continue
                due = select(INSTANCES.c.id).where(_due(definition, before))
                report.instances += conn.execute(
                    select(func.count()).select_from(due.subquery())
                ).scalar_one()
                report.history += conn.execute(
                    select(func.count()).select_from(HISTORY).where(HISTORY.c.instance_id.in_(due))
                ).scalar_one()
        return report

    def _chunk(
        self, definition: ProcessDefinition, before: datetime, now: datetime
    ) -> CleanupReport:
        began = time.perf_counter()
        report = CleanupReport()
        with self.engine.db.begin() as conn:
            claim = select(INSTANCES.c.id).where(_due(definition, before)).order_by(INSTANCES.c.id)
            claim = claim.limit(self.chunk).with_for_update(skip_locked=True)
            ids = [int(i) for i in conn.execute(claim).scalars()]
            if ids:
                if self.archive is not None:
                    report.archived = self._archive(conn, definition, ids, now)
                for table in CHILDREN:
                    removing = delete(table).where(table.c.instance_id.in_(ids))
                    if table.name == HISTORY.name:  # the process's partitions only (PostgreSQL)
                        removing = removing.where(HISTORY.c.process == definition.key)
                    removed = conn.execute(removing)
                    if table.name == HISTORY.name:
                        report.history = removed.rowcount
                report.instances = conn.execute(
                    delete(INSTANCES).where(
                        INSTANCES.c.id.in_(ids), INSTANCES.c.process == definition.key
                    )
                ).rowcount
        held = time.perf_counter() - began
        if ids:
            report.chunks = 1
            report.max_lock_ms = held * 1000
            self._adapt(held)
        return report

    def _adapt(self, held: float) -> None:
        """Halve the chunk after one that held its locks too long; grow it back when quick."""
        bound = self.max_lock.total_seconds()
        if held > bound and self.chunk > MIN_CHUNK:
            self.chunk = max(MIN_CHUNK, self.chunk // 2)
        elif held < bound / 2 and self.chunk < DEFAULT_CHUNK * 10:
            self.chunk = int(self.chunk * 1.5) + 1

    def _archive(
        self, conn: Connection, definition: ProcessDefinition, ids: list[int], now: datetime
    ) -> int:
        """Append the instances with their history to today's archive file, on disk before the
        rows go."""
        assert self.archive is not None
        instances = conn.execute(
            select(INSTANCES).where(INSTANCES.c.id.in_(ids)).order_by(INSTANCES.c.id)
        ).all()
        steps: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(
            select(HISTORY).where(HISTORY.c.instance_id.in_(ids)).order_by(HISTORY.c.id)
        ):
            steps.setdefault(row.instance_id, []).append(_plain(row._asdict()))
        lines = (
            json.dumps(
                {**_plain(row._asdict()), "history": steps.get(row.id, [])},
                ensure_ascii=False,
                sort_keys=True,
            )
            for row in instances
        )
        self.archive.mkdir(parents=True, exist_ok=True)
        path = self.archive / f"shebao-history-{definition.key}-{now:%Y%m%d}.jsonl.gz"
        return _append_gzip(path, lines)


@dataclass(frozen=True)
class Window:
    """A daily window of wall-clock time in a time zone (``01:00-05:00``) when the cleanup may
    run; one whose end is before its start runs over midnight."""

    start: dt_time
    end: dt_time
    zone: tzinfo

    @classmethod
    def parse(cls, text: str, zone: tzinfo) -> Window:
        """``HH:MM-HH:MM``.

        Raises:
            ValueError: not of that form.
        """
        try:
            first, last = (dt_time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise ValueError(f"expected a window like 01:00-05:00, got {text!r}") from None
        return cls(first, last, zone)

    def contains(self, moment: datetime) -> bool:
        at = moment.astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _append_gzip(path: Path, lines: Iterable[str]) -> int:
    """Append one gzip member with ``lines``; flushed and synced before returning."""
    count = 0
    with open(path, "ab") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as packed:
            for line in lines:
                packed.write(line.encode("utf-8") + b"\n")
                count += 1
        raw.flush()
        os.fsync(raw.fileno())
    return count


def read_archive(path: Path) -> list[dict[str, Any]]:
    """The instances of an archive file, the last line per instance id."""
    found: dict[int, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            found[int(item["id"])] = item
    return list(found.values())
