"""Ids bound as one parameter: ``InIds(column, name)`` is ``column IN <the ids>`` whatever their number.

One statement text, compiled and cached once, serves a list of any length: a ``bigint[]`` with
``= ANY`` on PostgreSQL, a JSON array read by ``json_each`` on SQLite. The sweep, the outbox and
the bulk operations name their rows this way.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeDecorator


class IdList(TypeDecorator[list[int]]):
    """A list of ids bound as one parameter: a ``bigint[]`` on PostgreSQL, JSON text on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        ids = [int(v) for v in value]
        return ids if dialect.name == "postgresql" else json.dumps(ids)


class InIds(ColumnElement[bool]):
    """``column IN <the ids bound as :name>``, one parameter whatever the number of ids."""

    inherit_cache = True
    type = NullType()  # type: ignore[assignment]  # not Boolean: SQLite would render the test as ``... = 1`` and miss indexes

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.ids = bindparam(name, type_=IdList())


@compiles(InIds)
def _in_ids_sqlite(element: InIds, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(InIds, "postgresql")
def _in_ids_postgresql(element: InIds, compiler: Any, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY({ids})"
