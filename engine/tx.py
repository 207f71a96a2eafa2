"""One write transaction on a DBAPI connection: ``Tx`` runs compiled statements (``Prepared``)
and, on PostgreSQL, pipelines them (``pipelined``): reads share round trips, writes are fused into
one statement, ``BEGIN`` and ``COMMIT`` travel with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import RawCursor
from sqlalchemy import Connection

from engine.db import is_broken
from engine.raw_connection import RawConnection
from engine.sqlexec import Prepared, fused_sql

SERIALIZATION_FAILURE = "40001"
"""The SQLSTATE of ``wf_expect_rows`` (migration 0014) when a checked write changed another count."""


class Tx:
    """One open transaction on a DBAPI connection, running ``Prepared`` statements.

    With a psycopg ``pipeline`` (``Engine.transaction(..., pipelined=True)``, PostgreSQL), a
    statement whose result nobody reads at once is only queued: ``send`` for a write whose row
    count does not matter, ``expect`` for one that must change a given number of rows (checked by
    ``check`` once the pipeline's last sync has brought the results back). A read (``one``,
    ``all``, ``insert``) or a ``run`` waits for its result, and sends whatever was queued before
    it in the same round trip. The transaction's ``BEGIN`` goes with its first statement.
    ``read_ahead`` queues a read that a later ``one`` takes, so that several reads share a round
    trip. Without a pipeline every statement runs at once, ``expect`` checks at once and
    ``read_ahead`` does nothing.

    In a pipeline the ``fusable`` writes queued one after another (a firing's instance UPDATE,
    history, timers, task, notices, idempotency key) are also sent as one statement: each a
    data-modifying CTE of one ``WITH``, the server-checked row counts in its ``SELECT``
    (``fused_sql``). They are sent when anything else is (a read, another write, the ``COMMIT``):
    a statement then never runs before a write queued ahead of it. The CTEs of one statement all
    see the database as it was before it; only writes that do not read each other's rows are
    ``fusable``, which is what lets them run as if one after another.
    """

    def __init__(
        self,
        dbapi_connection: Any,
        dialect_name: str,
        sqlalchemy_connection: Connection | None = None,
        pipeline: Any = None,
    ) -> None:
        self.cursor = dbapi_connection.cursor()
        self.sqlite = dialect_name == "sqlite"
        self.connection = sqlalchemy_connection
        self.pipeline = pipeline
        self._checks: list[tuple[Any, int, Callable[[], BaseException]]] = []
        self._ahead: list[tuple[Prepared, dict[str, Any], Any]] = []
        self._server_checks: list[Callable[[], BaseException]] = []
        self._fused: list[tuple[Prepared, Sequence[Mapping[str, Any]], int | None]] = []
        self._raw_cursor: Any = None  # the fused statements' (``FusedSql``), made when needed
        self.commit_queued = False

    def lock(self, key: str) -> None:
        """Hold a lock on ``key`` until the transaction ends (PostgreSQL advisory lock).

        SQLite needs none: every write transaction there holds the database's single write lock.
        """
        if not self.sqlite:
            self.flush()
            self.cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def read_ahead(
        self,
        prepared: Prepared,
        values: Mapping[str, Any],
        *,
        serves: tuple[Prepared, Mapping[str, Any]] | None = None,
    ) -> bool:
        """Queue a one-row read that the next ``one`` of the same statement and values takes:
        it travels with the reads before it instead of in a round trip of its own. Any write in
        between drops it (the row it would answer may have changed). ``serves``: the ``one``
        (statement, values) it answers instead, a statement of the same columns that does less
        (``select_instance`` for ``select_instance_under_key_lock``). Nothing without a pipeline;
        whether it was queued.
        """
        if self.pipeline is None:
            return False
        self.flush()
        cursor = self.cursor.connection.cursor()  # its own cursor: its own result
        cursor.execute(prepared.sql, prepared.bind(values))
        answered, answered_values = serves or (prepared, values)
        self._ahead.append((answered, dict(answered_values), cursor))
        return True

    def one(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        if self._ahead:
            for i, (queued, queued_values, cursor) in enumerate(self._ahead):
                if queued is prepared and queued_values == values:
                    del self._ahead[i]
                    return prepared.row(cursor.fetchone())
        self.flush()
        self.cursor.execute(prepared.sql, prepared.bind(values))
        return prepared.row(self.cursor.fetchone())

    def all(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Any]:
        self.flush()
        self.cursor.execute(prepared.sql, prepared.bind(values))
        return [prepared.row(raw) for raw in self.cursor.fetchall()]

    def run(self, prepared: Prepared, values: Mapping[str, Any]) -> int:
        """Execute; the number of rows the statement changed."""
        self._ahead.clear()
        self.flush()
        self.cursor.execute(prepared.sql, prepared.bind(values))
        if self.pipeline is not None:
            self.pipeline.sync()  # the row count is known once the result is back
        return int(self.cursor.rowcount)

    def send(self, prepared: Prepared, values: Mapping[str, Any]) -> None:
        """Execute a write whose row count nobody reads (queued, in a pipeline)."""
        self._ahead.clear()
        if self._fuse(prepared, (values,), None):
            return
        self.flush()
        self.cursor.execute(prepared.sql, prepared.bind(values))

    def expect(
        self,
        prepared: Prepared,
        values: Mapping[str, Any],
        rows: int,
        error: Callable[[], BaseException],
    ) -> None:
        """Execute a write that must change ``rows`` rows, else ``error()`` is raised: at once,
        or, in a pipeline, by ``check`` (the transaction's writes after it are rolled back with
        it then)."""
        self._ahead.clear()
        if self.pipeline is None:
            if self.run(prepared, values) != rows:
                raise error()
            return
        checked = prepared.server_checked
        if checked is not None and self._fuse(prepared, (values,), rows):
            self._server_checks.append(error)  # its token: see ``flush``
            return
        self.flush()
        if checked is not None:  # the server refuses another count: see ``commit_in_pipeline``
            token = str(len(self._server_checks))
            bound = {**values, "expect_rows": rows, "expect_token": token}
            self.cursor.execute(checked.sql, checked.bind(bound))
            self._server_checks.append(error)
            return
        cursor = self.cursor.connection.cursor()  # its own cursor: its own row count
        cursor.execute(prepared.sql, prepared.bind(values))
        self._checks.append((cursor, rows, error))

    def commit_in_pipeline(self) -> bool:
        """Queue the transaction's ``COMMIT`` behind its writes, if every ``expect`` of it is
        checked on the server (``Prepared.server_checked``): a failed check then aborts the
        pipeline, and the ``COMMIT`` with it. Whether it was queued (else the caller commits
        after ``check``). Only in a transaction begun by its own ``BEGIN`` (``pipelined``)."""
        if self.pipeline is None:
            return False
        self.flush()
        if self._checks:
            return False
        self.cursor.execute("COMMIT")
        self.commit_queued = True
        return True

    def server_check_failed(self, exc: BaseException) -> BaseException | None:
        """The error of the ``expect`` whose check on the server raised ``exc``, if it did."""
        if getattr(exc, "sqlstate", None) != SERIALIZATION_FAILURE:
            return None
        token = getattr(getattr(exc, "diag", None), "message_detail", None)
        if token is None or not token.isdigit() or int(token) >= len(self._server_checks):
            return None
        return self._server_checks[int(token)]()

    def _fuse(
        self, prepared: Prepared, rows: Sequence[Mapping[str, Any]], expect: int | None
    ) -> bool:
        """Queue a ``fusable`` write of ``rows`` (several: one multi-row INSERT) to go out with
        the writes queued beside it (``expect``: the row count checked on the server); False
        where writes are not fused here."""
        if self.pipeline is None or not prepared.fusable or prepared.positional:
            return False
        if len(rows) > 1 and prepared.values_row is None:
            return False
        if len(self._fused) >= MAX_FUSED or any(p is prepared for p, _, _ in self._fused):
            self.flush()  # one statement's rows of a table in one VALUES list: ids in order
        self._fused.append((prepared, rows, expect))
        return True

    def flush(self) -> None:
        """Send the fused writes queued so far: one statement, or the write itself if alone."""
        fused, self._fused = self._fused, []
        if not fused:
            return
        if len(fused) == 1 and fused[0][2] is None and len(fused[0][1]) == 1:
            prepared, rows, _ = fused[0]
            self.cursor.execute(prepared.sql, prepared.bind(rows[0]))
            return
        tokens = len(self._server_checks) - sum(expect is not None for _, _, expect in fused)
        params: dict[str, Any] = {}
        for i, (prepared, rows, expect) in enumerate(fused):
            for j, values in enumerate(rows):
                prefix = f"w{i}_" if j == 0 else f"w{i}r{j}_"
                bound = prepared.bind(values)
                assert isinstance(bound, dict)  # named parameters: see ``_fuse``
                for name, value in bound.items():
                    params[prefix + name] = value
            if expect is not None:
                params[f"e{i}_rows"], params[f"e{i}_token"] = expect, str(tokens)
                tokens += 1
        shape = tuple((p, len(rows), expect is not None) for p, rows, expect in fused)
        statement = fused_sql(shape)
        if self._raw_cursor is None:
            self._raw_cursor = RawCursor(self.cursor.connection)
        self._raw_cursor.execute(statement.sql, [params[name] for name in statement.names])

    def check(self) -> None:
        """Raise the first ``expect`` that changed another number of rows (call it after the
        pipeline's last sync)."""
        checks, self._checks = self._checks, []
        for cursor, rows, error in checks:
            if cursor.rowcount != rows:
                raise error()

    def many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        self._ahead.clear()
        if rows and len(rows) <= FUSE_MANY and self._fuse(prepared, tuple(rows), None):
            return
        self.flush()
        if len(rows) == 1:
            self.cursor.execute(prepared.sql, prepared.bind(rows[0]))
        elif rows:
            self.cursor.executemany(prepared.sql, [prepared.bind(r) for r in rows])

    def insert(self, prepared: Prepared, values: Mapping[str, Any]) -> int:
        """Insert one row; its new primary key (``lastrowid`` on SQLite, ``RETURNING`` elsewhere)."""
        self._ahead.clear()
        self.flush()
        self.cursor.execute(prepared.sql, prepared.bind(values))
        if self.sqlite:
            return int(self.cursor.lastrowid)
        return int(self.cursor.fetchone()[0])


MAX_FUSED = 16
"""At most this many writes in one fused statement (a firing writes about half a dozen)."""
FUSE_MANY = 4
"""``Tx.many`` fuses this many rows at most; more go out as they would without fusing."""


@contextmanager
def pipelined(driver: Any) -> Iterator[Tx]:
    """A PostgreSQL transaction in psycopg's pipeline mode, sent in as few round trips as its
    reads allow: its ``BEGIN`` goes with its first statements and, when its checks are the
    server's, its ``COMMIT`` with its last writes (``Tx.commit_in_pipeline``). The caller still
    calls ``commit()`` (nothing is sent if the pipeline committed) or ``rollback()``.

    psycopg would send its own ``BEGIN`` and wait for it, a round trip of its own, so the
    connection is switched to autocommit and the transaction begun explicitly: ``commit()`` and
    ``rollback()`` send ``COMMIT`` and ``ROLLBACK`` while a transaction is open all the same.
    ``end_pipelined`` switches it back once the transaction has ended.
    """
    driver.autocommit = True
    tx: Tx | None = None
    try:
        with driver.pipeline() as pipeline:
            tx = Tx(driver, "postgresql", pipeline=pipeline)
            tx.cursor.execute("BEGIN")
            yield tx
            tx.commit_in_pipeline()
    except Exception as exc:
        failed = tx.server_check_failed(exc) if tx is not None else None
        if failed is not None:
            raise failed from exc
        raise
    tx.check()


def end_pipelined(held: RawConnection) -> None:
    """Switch a connection of ``pipelined`` back to psycopg's own transactions once its
    transaction has ended; one that cannot be (broken, or still in a transaction after a failed
    rollback) is discarded rather than handed to anyone else."""
    try:
        if not is_broken(held.driver_connection):
            held.driver_connection.autocommit = False
            return
    except Exception:  # noqa: BLE001 - whatever it is, the connection is not fit for reuse
        pass
    held.discard()
