"""The staging table of a deduction import: the file's good rows, matched to enrollments in SQL.

A table of its own per import (``UNLOGGED`` on PostgreSQL: it is thrown away at the end), filled
by ``COPY`` on PostgreSQL and ``executemany`` on SQLite in transactions of ``LOAD_CHUNK`` rows, so
the file streams through and memory stays flat. Each row gets a dense ordinal ``n``; the import
reads the rows back ``n`` range by ``n`` range, each joined to the live enrollment of its
business key (``person:policy``). Every statement runs through ``Engine.transaction``, so a dry
run (``Engine.rehearsal``) stages inside its own rolled-back transaction too.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.bulk import copy_rows
from engine.runtime import Engine
from engine.tx import Tx

LOAD_CHUNK = 50_000
COLUMNS = ("n", "line", "bkey", "id_number", "event", "amount", "reason", "paid_at")


@dataclass(frozen=True, slots=True)
class StagedRow:
    """A good row of the file: its line, ID number, event, data and its business key."""

    line: int
    id_number: str
    event: str
    amount: str | None
    reason: str | None
    paid_at: str | None
    bkey: str


@dataclass(frozen=True, slots=True)
class MatchedRow:
    """A staged row with the live enrollment it names (None: there is none)."""

    line: int
    id_number: str
    event: str
    data: dict[str, str]
    instance_id: int | None


class Staging:
    """One import's staging table on ``engine``'s database (created, filled, read, dropped)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.db.dialect.name == "postgresql"
        self.table = f"shebao_stage_deductions_{secrets.token_hex(6)}"
        self.count = 0

    def __enter__(self) -> Staging:
        unlogged = "UNLOGGED " if self.postgres else ""
        ddl = (
            f"CREATE {unlogged}TABLE {self.table} (n BIGINT PRIMARY KEY, line BIGINT NOT NULL, "
            "bkey VARCHAR(128) NOT NULL, id_number VARCHAR(18) NOT NULL, event VARCHAR(64) "
            "NOT NULL, amount TEXT, reason TEXT, paid_at TEXT)"
        )
        self.engine.transaction(lambda tx: tx.cursor.execute(ddl))
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.transaction(lambda tx: tx.cursor.execute(f"DROP TABLE {self.table}"))

    def load(self, rows: Iterable[StagedRow]) -> int:
        """Stage ``rows`` in order; the number staged (their ordinals are 1..count)."""
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            self.count += 1
            batch.append(
                (
                    self.count,
                    row.line,
                    row.bkey,
                    row.id_number,
                    row.event,
                    row.amount,
                    row.reason,
                    row.paid_at,
                )
            )
            if len(batch) >= LOAD_CHUNK:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)
        if self.postgres:
            self.engine.transaction(lambda tx: tx.cursor.execute(f"ANALYZE {self.table}"))
        return self.count

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        names = ", ".join(COLUMNS)

        def work(tx: Tx) -> None:
            if self.postgres:
                copy_rows(tx.cursor, self.table, COLUMNS, batch)
            else:
                marks = ", ".join("?" for _ in COLUMNS)
                tx.cursor.executemany(f"INSERT INTO {self.table} ({names}) VALUES ({marks})", batch)

        self.engine.transaction(work)

    def matched(
        self, tx: Tx, lo: int, hi: int, process: str, states: Collection[str]
    ) -> list[MatchedRow]:
        """Staged rows ``lo``..``hi`` in order, each with the oldest instance of ``process`` in one
        of ``states`` whose business key it names (as ``queries.by_business_key`` finds it)."""
        mark = "%s" if self.postgres else "?"
        ins = ", ".join(mark for _ in states)
        # SQLite: the unary + keeps the planner on the business key's index (the process and
        # state index would scan every instance of the process for each staged row).
        plus = "" if self.postgres else "+"
        sql = (
            "SELECT s.n, s.line, s.id_number, s.event, s.amount, s.reason, s.paid_at, i.id "
            f"FROM {self.table} s LEFT JOIN wf_instance i ON i.business_key = s.bkey "
            f"AND {plus}i.process = {mark} AND {plus}i.state IN ({ins}) "
            f"WHERE s.n BETWEEN {mark} AND {mark} ORDER BY s.n, i.id"
        )
        if self.postgres:
            # A chunk is a few thousand index probes: parallel workers (which the planner picks
            # once the staging table is large) cost more to start than the query takes.
            tx.cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        tx.cursor.execute(sql, (process, *states, lo, hi))
        found: list[MatchedRow] = []
        last = 0
        for n, line, number, event, amount, reason, paid_at, iid in tx.cursor.fetchall():
            if n == last:
                continue  # a second live instance of the key: the oldest one counts
            last = n
            data = {
                k: v for k, v in (("amount", amount), ("reason", reason), ("paid_at", paid_at)) if v
            }
            found.append(
                MatchedRow(int(line), number, event, data, None if iid is None else int(iid))
            )
        return found

    def ranges(self, chunk: int) -> Iterator[tuple[int, int]]:
        """The ordinal ranges of ``chunk`` rows each, in order."""
        for lo in range(1, self.count + 1, chunk):
            yield lo, min(lo + chunk - 1, self.count)
