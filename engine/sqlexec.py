"""The hot path's execution: Core statements compiled once per dialect, run on the DBAPI cursor.

SQLAlchemy builds and compiles every statement (one source of truth, the same SQL on SQLite and
PostgreSQL, the types' own bind and result processors); a firing then executes the compiled strings
directly on the driver's cursor inside one transaction, which costs a fraction of a full
``Connection.execute`` per statement. Reads for pages keep using SQLAlchemy as usual.
"""

from __future__ import annotations

import re
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import Any, cast

from sqlalchemy import Connection, DateTime, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Insert, Select, Update

from engine.db import is_broken

Processor = Callable[[Any], Any]

SERIALIZATION_FAILURE = "40001"
"""The SQLSTATE of ``wf_expect_rows`` (migration 0014) when a checked write changed another count."""


_SHARED_PROCESSORS: dict[tuple[type, str], Processor | None] = {}


def _remember_last(processor: Processor) -> Processor:
    """A processor that converts the same object once in a row (the transaction's ``now`` is
    bound to half a dozen columns of a firing)."""
    last: list[tuple[Any, Any]] = [(object(), None)]  # one (value, result) pair: thread-safe

    def process(value: Any) -> Any:
        seen, result = last[0]
        if value is not seen:
            result = processor(value)
            last[0] = (value, result)
        return result

    return process


def _sqlite_datetime(processor: Processor) -> Processor:
    """SQLite's datetime processor with a fast path for aware UTC values (the engine's clock):
    the same text SQLAlchemy writes (``YYYY-MM-DD HH:MM:SS.ffffff``), without its type layers."""

    def process(value: Any) -> Any:
        if value is not None and value.tzinfo is UTC and value.year >= 1000:
            return value.isoformat(" ", "microseconds")[:26]
        return processor(value)

    return process


def _bind_processor(type_: Any, dialect: Dialect) -> Processor | None:
    """The type's bind processor; for datetimes one shared instance per dialect (on SQLite with
    a fast path for UTC, elsewhere memoising the last value)."""
    is_datetime = isinstance(getattr(type_, "impl", type_), DateTime)
    if not is_datetime:
        return type_.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]
    key = (type(type_), dialect.name)
    if key not in _SHARED_PROCESSORS:
        processor = type_.dialect_impl(dialect).bind_processor(dialect)
        if processor is None:
            _SHARED_PROCESSORS[key] = None
        elif dialect.name == "sqlite":
            _SHARED_PROCESSORS[key] = _sqlite_datetime(processor)
        else:
            _SHARED_PROCESSORS[key] = _remember_last(processor)
    return _SHARED_PROCESSORS[key]


def _binder(
    names: Sequence[str],
    processors: Mapping[str, Processor],
    defaults: Mapping[str, Any],
    positional: bool,
) -> Callable[[Mapping[str, Any]], Sequence[Any] | dict[str, Any]]:
    """A function building the driver's parameters from a mapping of values, generated once per
    statement: each name read (or its literal's value, when not given) and, where its type has
    one, passed through its processor."""
    scope: dict[str, Any] = {}
    parts = []
    for i, name in enumerate(names):
        read = f"v[{name!r}]"
        if name in defaults:
            scope[f"d{i}"] = defaults[name]
            read = f"v.get({name!r}, d{i})"
        if name in processors:
            scope[f"p{i}"] = processors[name]
            read = f"p{i}({read})"
        parts.append(read if positional else f"{name!r}: {read}")
    body = f"({', '.join(parts)},)" if positional else f"{{{', '.join(parts)}}}"
    if positional and not parts:
        body = "()"
    exec(f"def bind(v):\n    return {body}\n", scope)  # noqa: S102 - our own statement's names
    return scope["bind"]  # type: ignore[no-any-return]


class Prepared:
    """One statement compiled for one dialect, with its parameter order and type processors."""

    def __init__(
        self, stmt: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None
    ) -> None:
        compiled: Any = stmt.compile(dialect=dialect, column_keys=list(column_keys or []) or None)
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        names = {bind: name for bind, name in compiled.bind_names.items()}
        self.names: tuple[str, ...] = (
            tuple(compiled.positiontup or ())
            if compiled.positional
            else tuple(dict.fromkeys(names.values()))
        )
        # Literals written into the statement ('pending') are bound too: keep their values.
        self.defaults: dict[str, Any] = {
            name: bind.effective_value for bind, name in names.items() if not bind.required
        }
        self.processors: dict[str, Processor] = {}
        for bind, name in names.items():
            processor = _bind_processor(bind.type, dialect)
            if processor is not None:
                self.processors[name] = processor
        self.row_type: Any = None
        self.result_processors: tuple[Processor | None, ...] = ()
        columns = list(stmt.selected_columns) if isinstance(stmt, Select) else []
        if isinstance(stmt, Insert | Update) and stmt._returning:  # noqa: SLF001 - ours, built below
            columns = list(cast(Any, stmt)._returning)  # noqa: SLF001
        if columns:
            self.row_type = namedtuple("Row", [c.name for c in columns])  # type: ignore[misc]
            self.result_processors = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )

        self._converted = tuple(
            (i, proc) for i, proc in enumerate(self.result_processors) if proc is not None
        )
        self.bind = _binder(self.names, self.processors, self.defaults, self.positional)
        """The driver's parameters for a mapping of values (generated: see ``_binder``)."""
        self.server_checked: Prepared | None = None
        """The same write checked on the server (``checked_on_server``), where the database can."""
        matched = _VALUES_ROW.match(self.sql)
        self.values_row: str | None = matched.group(1) if matched else None
        """An INSERT's ``(...)`` of one row's values, repeated for a multi-row INSERT."""
        self.fusable = False
        """A write that may share one statement with the other writes queued beside it in a
        pipelined transaction (``Tx``'s fused writes): an INSERT of given values, or an UPDATE
        whose rows no write of the same firing before it creates or changes."""

    def row(self, raw: Sequence[Any] | None) -> Any:
        if raw is None:
            return None
        if not self._converted:
            return self.row_type._make(raw)
        values = list(raw)
        for i, proc in self._converted:
            if values[i] is not None:
                values[i] = proc(values[i])
        return self.row_type._make(values)


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
        self.commit_queued = False

    def lock(self, key: str) -> None:
        """Hold a lock on ``key`` until the transaction ends (PostgreSQL advisory lock).

        SQLite needs none: every write transaction there holds the database's single write lock.
        """
        if not self.sqlite:
            self.flush()
            self.cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))

    def read_ahead(self, prepared: Prepared, values: Mapping[str, Any]) -> None:
        """Queue a one-row read that the next ``one`` of the same statement and values takes:
        it travels with the reads before it instead of in a round trip of its own. Any write in
        between drops it (the row it would answer may have changed). Nothing without a pipeline.
        """
        if self.pipeline is None:
            return
        self.flush()
        cursor = self.cursor.connection.cursor()  # its own cursor: its own result
        cursor.execute(prepared.sql, prepared.bind(values))
        self._ahead.append((prepared, dict(values), cursor))

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
        self.cursor.execute(fused_sql(shape), params)

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
_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s")
_VALUES_ROW = re.compile(r"^INSERT INTO [^()]+\([^()]+\) VALUES (\(.*\))$", re.DOTALL)
_FUSED_SQL: dict[tuple[tuple[Prepared, int, bool], ...], str] = {}


def _renamed(sql: str, prefix: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"%({prefix}{m.group(1)})s", sql)


def fused_sql(shape: tuple[tuple[Prepared, int, bool], ...]) -> str:
    """One PostgreSQL statement running the writes of ``shape`` (each: the statement, its number
    of rows, whether its row count is checked) as data-modifying CTEs ``w<i>``, parameters renamed
    ``w<i>_<name>`` (the rows after the first of a multi-row INSERT ``w<i>r<j>_<name>``). A checked
    write returns a row per changed row, and ``wf_expect_rows`` compares their count with
    ``e<i>_rows`` in the statement's ``SELECT`` (its failure carries ``e<i>_token``). Composed
    once per shape (there are a few per process definition)."""
    found = _FUSED_SQL.get(shape)
    if found is not None:
        return found
    parts, checks = [], []
    for i, (prepared, rows, checked) in enumerate(shape):
        body = _renamed(prepared.sql, f"w{i}_")
        if rows > 1:
            assert prepared.values_row is not None
            more = [_renamed(prepared.values_row, f"w{i}r{j}_") for j in range(1, rows)]
            body = ", ".join([body, *more])
        if checked:
            body += " RETURNING 1"
            checks.append(
                f"wf_expect_rows((SELECT count(*) FROM w{i}), %(e{i}_rows)s::BIGINT, "
                f"%(e{i}_token)s::TEXT)"
            )
        parts.append(f"w{i} AS ({body})")
    found = f"WITH {', '.join(parts)} SELECT {', '.join(checks) or '1'}"
    if len(_FUSED_SQL) > 1024:  # never expected: the shapes come from the definitions
        _FUSED_SQL.clear()
    _FUSED_SQL[shape] = found
    return found


class RawConnection:
    """A pooled DBAPI connection checked out for one transaction (``open_raw``).

    ``commit``, ``rollback`` and ``close`` are the pool's, except for a connection the driver
    reports broken (the server went away, ended the session, or a timeout closed it): rolling it
    back does not raise over the error that broke it (the server ended its transaction with the
    session: nothing of it was committed), and it is discarded rather than returned to the pool.
    """

    __slots__ = ("proxied", "driver_connection", "_discarded", "checked_out_at")

    def __init__(self, proxied: Any) -> None:
        self.proxied = proxied
        self.driver_connection: Any = proxied.driver_connection
        self._discarded = False
        self.checked_out_at = time.monotonic()

    def commit(self) -> None:
        self.proxied.commit()

    def rollback(self) -> None:
        try:
            self.proxied.rollback()
        except Exception:
            if not is_broken(self.driver_connection):
                raise
            self.discard()

    def discard(self) -> None:
        """Close the connection and drop it from the pool (which opens a new one when needed)."""
        if not self._discarded:
            self._discarded = True
            self.proxied.invalidate()  # closes it and gives its place in the pool back

    def close(self) -> None:
        """Return the connection to the pool, or discard it if it is broken."""
        if is_broken(self.driver_connection):
            self.discard()
        elif not self._discarded:
            self.proxied.close()


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


def open_raw(db: Engine) -> tuple[RawConnection, Any]:
    """Check a connection out of the pool and begin a write transaction on it.

    Returns the checked-out connection (``commit``, ``rollback``, ``close``) and the driver's.
    Errors propagate as the driver raises them (``OperationalError`` when the database cannot be
    reached or the transaction cannot begin, e.g. SQLite's "database is locked" after the busy
    timeout); a connection that cannot begin goes back to the pool, or away if it is broken.
    """
    proxied = RawConnection(db.raw_connection())
    driver = proxied.driver_connection
    if db.dialect.name == "sqlite":
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            proxied.close()
            raise
    return proxied, driver
