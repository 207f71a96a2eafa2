"""Core statements compiled once per dialect for the hot path, and several writes fused into one.

SQLAlchemy builds and compiles every statement (one source of truth, the same SQL on SQLite and
PostgreSQL, the types' own bind and result processors); a firing then executes the compiled strings
directly on the driver's cursor inside one transaction (``engine.tx.Tx``), which costs a fraction
of a full ``Connection.execute`` per statement. Reads for pages keep using SQLAlchemy as usual.
``fused_sql`` composes writes compiled here into one PostgreSQL statement of data-modifying CTEs.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Any, NamedTuple, cast

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Insert, Select, Update

Processor = Callable[[Any], Any]

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


_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s")
_VALUES_ROW = re.compile(r"^INSERT INTO [^()]+\([^()]+\) VALUES (\(.*\))$", re.DOTALL)
_FUSED_SQL: dict[tuple[tuple[Prepared, int, bool], ...], FusedSql] = {}


def _renamed(sql: str, prefix: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"%({prefix}{m.group(1)})s", sql)


class FusedSql(NamedTuple):
    """A fused statement in PostgreSQL's own form: ``$1``, ``$2``... for the parameters
    ``names`` in that order, run by a psycopg ``RawCursor``. psycopg would otherwise parse its
    ``%(name)s`` text again at every execution: it caches that only for statements of 50
    parameters or fewer, and notify_holder's writes have more (~350 us a parse here)."""

    sql: str
    names: tuple[str, ...]


def _native(sql: str) -> FusedSql:
    """``sql``'s ``%(name)s`` placeholders numbered ``$1``... in order of first appearance."""
    numbers: dict[str, int] = {}

    def number(found: re.Match[str]) -> str:
        return f"${numbers.setdefault(found.group(1), len(numbers) + 1)}"

    native = _PLACEHOLDER.sub(number, sql).replace("%%", "%")
    return FusedSql(native, tuple(numbers))


def fused_sql(shape: tuple[tuple[Prepared, int, bool], ...]) -> FusedSql:
    """One PostgreSQL statement running the writes of ``shape`` (each: the statement, its number
    of rows, whether its row count is checked) as data-modifying CTEs ``w<i>``, parameters renamed
    ``w<i>_<name>`` (the rows after the first of a multi-row INSERT ``w<i>r<j>_<name>``). A checked
    write returns a row per changed row, and ``wf_expect_rows`` compares their count with
    ``e<i>_rows`` in the statement's ``SELECT`` (its failure carries ``e<i>_token``). Composed
    once per shape (there are a few per process definition), in PostgreSQL's own placeholders
    (``FusedSql``)."""
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
    found = _native(f"WITH {', '.join(parts)} SELECT {', '.join(checks) or '1'}")
    if len(_FUSED_SQL) > 1024:  # never expected: the shapes come from the definitions
        _FUSED_SQL.clear()
    _FUSED_SQL[shape] = found
    return found
