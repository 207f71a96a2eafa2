"""PostgreSQL native partitioning of the instance and history tables (migration 0010).

The layout (see ``migrations/versions/0010_partitioned_instance_history.py`` for why):

- ``wf_instance`` is ``PARTITION BY LIST (process)``: ``wf_instance__<process>`` per process and
  ``wf_instance__default`` for any process without one. Its key is ``(id, process)``.
- ``wf_history`` is ``PARTITION BY LIST (process)``, each process's partition
  ``PARTITION BY RANGE (occurred_at)`` by calendar year in UTC: ``wf_history__<process>__<year>``
  and ``wf_history__<process>__default`` for a year without a partition of its own;
  ``wf_history__default`` (not sub-partitioned) takes a process without a partition. Its key is
  ``(id, process, occurred_at)``.

Yearly partitions have to exist before their year's rows arrive, or those rows land in the
default partition (an insert never fails). ``maintain`` creates what is missing: a partition per
known process (deployed definitions, and processes already in the tables), the years of the
history already stored, and the current and next year; it is idempotent and cheap when nothing is
missing. ``shebao db partitions`` runs it (once a year is enough, e.g. every December); a
process's first deployment makes its partitions (``add_process``). Rows that a default year
partition holds for a year that gets its partition are moved into it (one transaction: delete
from the default, insert into the new table, attach it). A process whose instances already sit
in ``wf_instance__default`` keeps them there: moving instance rows would break the foreign keys
that point at them; ``maintain`` reports it.

Dropping a year of history is then ``ALTER TABLE wf_history__card DETACH PARTITION
wf_history__card__2016`` and ``DROP TABLE``, instead of deleting rows (``engine.retention`` still
deletes by instance: it knows the time to live per process, the partitions do not).

Everything here is a no-op on SQLite and on a PostgreSQL database that is not partitioned.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

INSTANCES = "wf_instance"
HISTORY = "wf_history"
DEFAULT = "default"
_SLUG = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
_MAX_SLUG = 30  # keeps ``wf_history__<slug>__<year>`` well under PostgreSQL's 63 characters


def slug(process: str) -> str:
    """The process as it appears in partition names: itself when it is a plain lower-case name,
    else a cleaned prefix and a short hash (so that two processes never share a name)."""
    if _SLUG.fullmatch(process) and len(process) <= _MAX_SLUG and process != DEFAULT:
        return process
    cleaned = "_".join(re.findall(r"[a-z0-9]+", process.lower()))[:20] or "p"
    return f"{cleaned}_{hashlib.sha1(process.encode()).hexdigest()[:8]}"


def instance_partition(process: str) -> str:
    return f"{INSTANCES}__{slug(process)}"


def history_partition(process: str, year: int | None = None) -> str:
    """The process's history partition, or its partition of ``year`` (None: the year default)."""
    base = f"{HISTORY}__{slug(process)}"
    return base if year is None else f"{base}__{year}"


def _year_bounds(year: int) -> tuple[str, str]:
    return f"{year}-01-01 00:00:00+00", f"{year + 1}-01-01 00:00:00+00"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class MaintenanceReport:
    """What ``maintain`` did."""

    created: list[str] = field(default_factory=list)
    moved_rows: int = 0
    left_in_default: list[str] = field(default_factory=list)
    """Processes whose instances sit in ``wf_instance__default`` (no partition made for them)."""


def is_partitioned(conn: Connection) -> bool:
    """Whether this database has the partitioned layout (PostgreSQL after migration 0010)."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text(
            "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"name": INSTANCES},
    ).scalar_one()
    return bool(found)


def partitions_of(conn: Connection, parent: str) -> dict[str, str]:
    """The direct partitions of ``parent``: name -> bound (``FOR VALUES IN ('card')``,
    ``DEFAULT``)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:parent AS regclass) "
            "ORDER BY c.relname"
        ),
        {"parent": parent},
    )
    return {str(name): str(bound) for name, bound in rows}


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one()


def create_defaults(conn: Connection) -> list[str]:
    """The catch-all partitions: a process without a partition of its own."""
    created = []
    for parent in (INSTANCES, HISTORY):
        name = f"{parent}__{DEFAULT}"
        if not _exists(conn, name):
            conn.execute(text(f"CREATE TABLE {name} PARTITION OF {parent} DEFAULT"))
            created.append(name)
    return created


def ensure_process(conn: Connection, process: str) -> list[str]:
    """The process's partitions: history (with its default year) always, instances unless its
    instances already sit in the default partition (see the module's note)."""
    created: list[str] = []
    value = _literal(process)
    instances = instance_partition(process)
    if (
        not _exists(conn, instances)
        and not conn.execute(
            text(f"SELECT EXISTS (SELECT 1 FROM {INSTANCES}__{DEFAULT} WHERE process = :p)"),
            {"p": process},
        ).scalar_one()
    ):
        conn.execute(
            text(f"CREATE TABLE {instances} PARTITION OF {INSTANCES} FOR VALUES IN ({value})")
        )
        created.append(instances)
    history = history_partition(process)
    if not _exists(conn, history):
        # Built detached and attached with its rows, so that history the default partition
        # took for this process moves with it.
        conn.execute(
            text(
                f"CREATE TABLE {history} (LIKE {HISTORY} INCLUDING DEFAULTS) "
                "PARTITION BY RANGE (occurred_at)"
            )
        )
        conn.execute(text(f"CREATE TABLE {history}__{DEFAULT} PARTITION OF {history} DEFAULT"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {HISTORY}__{DEFAULT} WHERE process = :p RETURNING *) "
                f"INSERT INTO {history} SELECT * FROM moved"
            ),
            {"p": process},
        )
        conn.execute(
            text(f"ALTER TABLE {HISTORY} ATTACH PARTITION {history} FOR VALUES IN ({value})")
        )
        created += [history, f"{history}__{DEFAULT}"]
    return created


def ensure_year(conn: Connection, process: str, year: int) -> tuple[str | None, int]:
    """The process's history partition of ``year`` (the process's partition must exist): its
    name if created, and how many rows it took over from the year default."""
    parent, name = history_partition(process), history_partition(process, year)
    if _exists(conn, name) or not _exists(conn, parent):
        return None, 0
    low, high = _year_bounds(year)
    conn.execute(text(f"CREATE TABLE {name} (LIKE {HISTORY} INCLUDING DEFAULTS)"))
    moved = conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {parent}__{DEFAULT} "
            "WHERE occurred_at >= CAST(:low AS timestamptz) "
            "AND occurred_at < CAST(:high AS timestamptz) "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        {"low": low, "high": high},
    ).rowcount
    conn.execute(
        text(
            f"ALTER TABLE {parent} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ({_literal(low)}) TO ({_literal(high)})"
        )
    )
    return name, max(moved, 0)


def add_process(conn: Connection, process: str, now: datetime) -> list[str]:
    """A newly deployed process's partitions, with its history's partitions of ``now``'s year
    and the next (``engine.deployments`` calls it at a process's first deployment, before any
    instance of it exists). In a savepoint: a failure (a lock not granted in time) is logged and
    leaves the process to the default partitions, it never fails the deployment."""
    if not is_partitioned(conn):
        return []
    try:
        with conn.begin_nested():
            created = ensure_process(conn, process)
            for year in (now.astimezone(UTC).year, now.astimezone(UTC).year + 1):
                name, _ = ensure_year(conn, process, year)
                created += [name] if name else []
    except DBAPIError as exc:
        log.warning("no partitions for %s (run `shebao db partitions`): %s", process, exc)
        return []
    return created


def known_processes(conn: Connection) -> set[str]:
    """Deployed processes and those already in the tables."""
    found = conn.execute(
        text(
            f"SELECT key FROM wf_definition UNION SELECT DISTINCT process FROM {INSTANCES} "
            f"UNION SELECT DISTINCT process FROM {HISTORY}"
        )
    ).scalars()
    return {str(p) for p in found}


def stored_years(conn: Connection) -> set[int]:
    """The UTC years of the history stored."""
    found = conn.execute(
        text(
            "SELECT DISTINCT CAST(extract(year FROM occurred_at AT TIME ZONE 'UTC') AS integer) "
            f"FROM {HISTORY}"
        )
    ).scalars()
    return {int(y) for y in found}


def maintain(
    conn: Connection,
    *,
    processes: Iterable[str] = (),
    now: Iterable[datetime] = (),
    years: Iterable[int] = (),
) -> MaintenanceReport:
    """Create the missing partitions: for every known process (and ``processes``), the years of
    the stored history, ``years``, and the year of each ``now`` (default: the wall clock) and the
    next one. A no-op unless the database is partitioned."""
    report = MaintenanceReport()
    if not is_partitioned(conn):
        return report
    moments = list(now) or [datetime.now(UTC)]
    wanted = set(years) | stored_years(conn)
    for moment in moments:
        wanted |= {moment.astimezone(UTC).year, moment.astimezone(UTC).year + 1}
    report.created += create_defaults(conn)
    for process in sorted(known_processes(conn) | set(processes)):
        report.created += ensure_process(conn, process)
        if not _exists(conn, instance_partition(process)):
            report.left_in_default.append(process)
        for year in sorted(wanted):
            name, moved = ensure_year(conn, process, year)
            if name:
                report.created.append(name)
                report.moved_rows += moved
    return report
