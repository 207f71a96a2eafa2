"""History retention: finished instances older than their process's ``history_ttl`` are removed
with their history, tasks (and the comments on them), timers, notices and incidents, in chunks,
optionally archived first.

As Camunda's history cleanup: set-based, a chunk of instances per transaction (``DELETE ... WHERE
instance_id IN (...)`` per table, children first), so that no transaction holds its locks for long.
The chunk adapts to a bound on how long one transaction may take (``max_lock``): halved when a
chunk took longer, grown again when it took less than half. The longest transaction is reported.

An instance is finished when it sits in a final state; its age is counted from ``updated_at``,
the time of its last transition (the one that ended it). With an archive, each chunk's instances
with their history and their tasks' comments are appended as JSON lines to a gzip file (one gzip
member per chunk, compressed first and written at once, so a crash leaves a readable file) and
synced to disk before the chunk's rows are deleted: a crash in between archives those instances
twice, never loses one; readers keep the last line per instance (``read_archive``). Archive files
hold the person's own ID number whole (the business key: an archive is searched by it), so they
are created ``0600`` and the directories the cleanup creates ``0700``, as the notices file is. An
archive that cannot be written stops the run before the chunk's rows go (``ArchiveUnwritable``):
the directory is made (or found) before the first chunk, and a chunk whose write fails is rolled
back, its partial member cut off the file.
History rows keep the texts of their data masked (``Registry.mask_data``: a resident ID number
typed into a reason or a note); the archive masks them again, for rows written before that, and
masks the comments' texts (``Registry.mask_text``), which are stored as typed.

Idempotency keys stay: they answer a repeated delivery, whatever became of its instance.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, tzinfo
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select

from engine.interventions import CANCELLED
from engine.models import History, Incident, Instance, Notice, Task, TaskComment, Timer
from engine.runtime import Engine
from engine.specs import ProcessDefinition

log = logging.getLogger(__name__)

INSTANCES: Table = Instance.__table__  # type: ignore[assignment]
HISTORY: Table = History.__table__  # type: ignore[assignment]
COMMENTS: Table = TaskComment.__table__  # type: ignore[assignment]
CHILDREN: tuple[Table, ...] = tuple(  # removed before the instance, the history last
    model.__table__  # type: ignore[misc]
    for model in (Notice, Incident, TaskComment, Task, Timer, History)
)
DEFAULT_CHUNK = 1000
MIN_CHUNK = 10
DEFAULT_MAX_LOCK = timedelta(seconds=1)
FILE_MODE = 0o600
DIR_MODE = 0o700


class ArchiveUnwritable(RuntimeError):
    """The archive directory or file cannot be written: the chunk in hand was not removed (the
    chunks before it, ``removed`` instances, were removed and archived)."""

    def __init__(self, where: Path, error: OSError, removed: int = 0) -> None:
        self.where = where
        self.reason = error.strerror or type(error).__name__
        self.removed = removed
        super().__init__(where, self.reason)

    def __str__(self) -> str:
        kept = (
            "nothing was removed / 未删除任何记录"
            if not self.removed
            else f"{self.removed} instances were removed and archived before it / 此前已归档并删除"
            f" {self.removed} 个实例"
        )
        return f"cannot write the history archive / 无法写入历史归档 {self.where}: {self.reason}; {kept}"


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

    def run_once(
        self, now: datetime | None = None, *, stop: Callable[[], bool] | None = None
    ) -> CleanupReport:
        """Remove what is due at ``now`` (the engine clock's time by default), process by
        process, chunk by chunk, within the budget, until ``stop`` answers True (the scheduler
        shutting down: the chunk in hand is finished first).

        Raises:
            ArchiveUnwritable: the archive cannot be written (the chunk in hand is kept).
        """
        moment = now or self.engine.clock.now()
        began = time.monotonic()
        total = CleanupReport()
        if self.archive is not None:
            _private_dir(self.archive)
        try:
            for definition in self.engine.all_definitions():
                before = cutoff(definition, moment)
                if before is None or not definition.final_states:
                    continue
                while True:  # at least one chunk per run, then as many as the budget allows
                    done = self._chunk(definition, before, moment)
                    total.add(done)
                    if done.instances == 0:
                        break
                    if self._spent(began) or (stop is not None and stop()):
                        return total
        except ArchiveUnwritable as exc:
            exc.removed = total.instances
            raise
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
        """Append the instances with their history and comments to today's archive file, on
        disk before the rows go."""
        assert self.archive is not None
        instances = conn.execute(
            select(INSTANCES).where(INSTANCES.c.id.in_(ids)).order_by(INSTANCES.c.id)
        ).all()
        steps, said = self._history(conn, ids), self._comments(conn, ids)
        lines = (
            json.dumps(
                {
                    **_plain(row._asdict()),
                    "history": steps.get(row.id, []),
                    "comments": said.get(row.id, []),
                },
                ensure_ascii=False,
                sort_keys=True,
            )
            for row in instances
        )
        path = self.archive / f"shebao-history-{definition.key}-{now:%Y%m%d}.jsonl.gz"
        return _append_gzip(path, lines)

    def _history(self, conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The instances' history rows by instance, their data masked (a row written before the
        engine masked it is masked now)."""
        steps: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(
            select(HISTORY).where(HISTORY.c.instance_id.in_(ids)).order_by(HISTORY.c.id)
        ):
            step = _plain(row._asdict())
            if step.get("data"):
                step["data"] = self.engine.registry.mask_data(step["data"])
            steps.setdefault(row.instance_id, []).append(step)
        return steps

    def _comments(self, conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The comments on the instances' tasks by instance, their texts masked."""
        said: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(
            select(COMMENTS).where(COMMENTS.c.instance_id.in_(ids)).order_by(COMMENTS.c.id)
        ):
            comment = _plain(row._asdict())
            comment["body"] = self.engine.registry.mask_text(str(comment["body"]))
            said.setdefault(row.instance_id, []).append(comment)
        return said


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


def _private_dir(folder: Path) -> None:
    """Make ``folder`` and its missing parents ``0700`` (an existing one keeps its mode).

    Raises:
        ArchiveUnwritable: it cannot be made, or is not a directory.
    """
    try:
        missing = [p for p in (folder, *folder.parents) if not p.is_dir()]
        for part in reversed(missing):
            part.mkdir(mode=DIR_MODE)
    except OSError as exc:
        raise ArchiveUnwritable(folder, exc) from exc


def _append_gzip(path: Path, lines: Iterable[str]) -> int:
    """Append one gzip member with ``lines`` (the file created ``0600``), compressed first and
    written at once, synced before returning; a failed write is cut off the file again.

    Raises:
        ArchiveUnwritable: the file cannot be opened or written.
    """
    data = [line.encode("utf-8") + b"\n" for line in lines]
    member = memoryview(gzip.compress(b"".join(data)))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise ArchiveUnwritable(path, exc) from exc
    try:
        size = os.fstat(fd).st_size
        try:
            while member:
                member = member[os.write(fd, member) :]
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, size)  # no torn member before the next run's
            except OSError:
                log.warning("could not cut a failed write off %s", path)
            raise ArchiveUnwritable(path, exc) from exc
    finally:
        os.close(fd)
    return len(data)


def read_archive(path: Path) -> list[dict[str, Any]]:
    """The instances of an archive file, the last line per instance id."""
    found: dict[int, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            found[int(item["id"])] = item
    return list(found.values())
