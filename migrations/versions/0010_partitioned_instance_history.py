"""partitioned instance and history tables (PostgreSQL native partitioning)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:30:00

PostgreSQL only; nothing changes on SQLite (one machine, one file: nothing to partition). The
layout, and why:

- ``wf_instance``: ``PARTITION BY LIST (process)``, a partition per process and a default one.
  Not by year as well: the hot path reads and updates an instance by ``id`` alone (``WHERE id = ?
  AND version = ?``, several times per event) and PostgreSQL cannot prune partitions by a column
  the query does not name, so every partition's key index is probed: a handful of processes costs
  a few microseconds, processes times years would cost tens of probes per statement. Instances
  are few next to history, live for years (a card, an enrollment year) and are removed by
  retention per process, so a year split would buy little.
- ``wf_history``: ``PARTITION BY LIST (process)``, then each process by ``RANGE (occurred_at)``,
  one partition per calendar year (UTC) plus a default year. History is append-only, by far the
  largest table, read by ``instance_id`` (instance pages, the archive) or per process (the
  diagrams' flow counts: one process's partitions only), and aged out: dropping a year becomes
  ``DETACH PARTITION`` + ``DROP TABLE`` instead of deleting rows. Inserts route by process and
  time, which the engine always writes.
- Keys: PostgreSQL wants the partition key inside every primary key and unique constraint, so
  ``wf_instance`` is keyed by ``(id, process)`` and ``wf_history`` by ``(id, process,
  occurred_at)``. Ids still come from the same sequences (kept, owned by the new tables), so they
  stay unique and keep increasing; only the database no longer checks ``id`` alone.
- Foreign keys: ``wf_history``, ``wf_task``, ``wf_timer`` and ``wf_notice`` now reference
  ``wf_instance (id, process)`` with ``(instance_id, process)`` (each table already has
  ``process``, written from the instance). Integrity is kept, and the denormalised ``process``
  is checked against the instance's too. ``wf_notice.process`` may be null (a notice without an
  instance); a null skips the check, as before with a null ``instance_id``.
- Partitions must exist before their rows arrive: this migration creates the processes of the
  service (``SHIPPED``), those found in the data or deployed, the years of the stored history and
  the current and next year, and default partitions so that an insert never fails.
  ``shebao db partitions`` (``engine.partitions.maintain``) adds the missing ones later (next
  year's; a newly deployed process) and moves rows out of a default year partition.
- Conversion of a populated database, per table: drop the foreign keys that point at it, rename
  it, create the partitioned table ``LIKE`` it (same columns, order, defaults, so the sequence
  default stays), copy every row in one ``INSERT ... SELECT``, add the key and the indexes it had
  (read from the catalog, so 0009's expression indexes come along), hand the id sequence to the
  new table, drop the old one, ``ANALYZE`` (autovacuum never analyses a partitioned parent).
  It holds an exclusive lock on the tables for the copy: run it in a maintenance window.
- The ORM models keep describing the SQLite shape (``id`` alone as the key, foreign keys on
  ``instance_id``); ``tests/engine/test_partitions.py`` checks the PostgreSQL shape, and the
  models-vs-migrations check on PostgreSQL allows exactly these differences.

Cost, measured on PostgreSQL 15 (2 shared cores, noisy): a prepared lookup by id on 200,000
instances, plain / LIST by process (5 partitions) / LIST by process and year (50): SELECT 59 /
65 / 342 us, UPDATE 50 / 76 / 328 us. In the engine (``benchmarks.event_throughput``) every
statement touching ``wf_instance`` (and each foreign-key check against it) costs some 70-110 us
more; event throughput fell from 520-670 to 300-480 transitions/s with 2,000 cards (ratio to the
floor 0.51-0.65 before, 0.28-0.59 after; the CI bench, 1,000 cards, still passes at 0.64).

Downgrade rebuilds plain tables the same way (rows and sequences kept) and restores the
single-column keys and foreign keys.

Citus (distributed PostgreSQL) is for when one PostgreSQL primary no longer keeps up: write
volume or history size beyond one machine (many provinces on one service). Its distribution key
would be the instance id: ``wf_instance.id`` and ``instance_id`` in every other engine table, so an
event's rows (instance, history, tasks, timers, notices) are co-located on one node and a
transition stays a single-node transaction. The composite keys above would then become ``(id,
...)``-led with ``id`` as the distribution column; the inbox and timer sweep queries, which scan
across instances, would fan out to every node.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, text

from engine import partitions

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SHIPPED = ("card", "card_review", "enrollment", "person")
"""The service's processes at this revision: partitions of their own from the start."""
REFERENCING = ("wf_history", "wf_task", "wf_timer", "wf_notice")
PARTITIONED_KEYS = {"wf_instance": "id, process", "wf_history": "id, process, occurred_at"}
PARTITION_BY = {"wf_instance": "LIST (process)", "wf_history": "LIST (process)"}


def _fk(table: str) -> str:
    return f"fk_{table}_instance_id_wf_instance"


def _indexes(conn: Connection, table: str) -> list[tuple[str, str]]:
    """The table's indexes other than its key: (name, definition on the table's name)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:t AS regclass) AND NOT i.indisprimary ORDER BY c.relname"
        ),
        {"t": table},
    )
    return [(str(name), str(sql).replace(" ON ONLY ", " ON ")) for name, sql in rows]


def _rebuild(conn: Connection, table: str, *, partitioned: bool) -> None:
    """Replace ``table`` by a partitioned (or plain) copy with every row, index and its id
    sequence. Foreign keys pointing at it must be dropped first."""
    old = f"{table}_old"
    indexes = _indexes(conn, table)
    sequence = conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    conn.execute(text(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}"))
    by = f" PARTITION BY {PARTITION_BY[table]}" if partitioned else ""
    conn.execute(
        text(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE){by}")
    )
    if partitioned:
        _create_partitions(conn, table, old)
    conn.execute(text(f"INSERT INTO {table} SELECT * FROM {old}"))
    key = PARTITIONED_KEYS[table] if partitioned else "id"
    conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})"))
    for _, sql in indexes:
        conn.execute(text(sql))
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id"))
    conn.execute(text(f"DROP TABLE {old} CASCADE"))
    conn.execute(text(f"ANALYZE {table}"))


def _create_partitions(conn: Connection, table: str, source: str) -> None:
    """The partitions ``source``'s rows need, the service's processes and the defaults."""
    processes = set(SHIPPED)
    found = conn.execute(text(f"SELECT DISTINCT process FROM {source}")).scalars()
    processes |= {str(p) for p in found}
    processes |= {str(k) for k in conn.execute(text("SELECT key FROM wf_definition")).scalars()}
    if table == partitions.INSTANCES:
        conn.execute(text(f"CREATE TABLE {table}__default PARTITION OF {table} DEFAULT"))
        for process in sorted(processes):
            value = "'" + process.replace("'", "''") + "'"
            conn.execute(
                text(
                    f"CREATE TABLE {partitions.instance_partition(process)} "
                    f"PARTITION OF {table} FOR VALUES IN ({value})"
                )
            )
        return
    years = {
        int(y)
        for y in conn.execute(
            text(
                "SELECT DISTINCT CAST(extract(year FROM occurred_at AT TIME ZONE 'UTC') AS integer)"
                f" FROM {source}"
            )
        ).scalars()
    }
    this_year = int(
        conn.execute(text("SELECT extract(year FROM now() AT TIME ZONE 'UTC')")).scalar_one()
    )
    years |= {this_year, this_year + 1}
    conn.execute(text(f"CREATE TABLE {table}__default PARTITION OF {table} DEFAULT"))
    for process in sorted(processes):
        partitions.ensure_process(conn, process)
        for year in range(min(years), max(years) + 1):
            partitions.ensure_year(conn, process, year)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in REFERENCING:
        conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {_fk(table)}"))
    _rebuild(conn, "wf_instance", partitioned=True)
    _rebuild(conn, "wf_history", partitioned=True)
    for table in REFERENCING:
        conn.execute(
            text(
                f"ALTER TABLE {table} ADD CONSTRAINT {_fk(table)} FOREIGN KEY "
                "(instance_id, process) REFERENCES wf_instance (id, process)"
            )
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in REFERENCING:
        conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {_fk(table)}"))
    _rebuild(conn, "wf_history", partitioned=False)
    _rebuild(conn, "wf_instance", partitioned=False)
    for table in REFERENCING:
        conn.execute(
            text(
                f"ALTER TABLE {table} ADD CONSTRAINT {_fk(table)} FOREIGN KEY (instance_id) "
                "REFERENCES wf_instance (id)"
            )
        )
