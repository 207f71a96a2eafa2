"""Set-based writes and reads over many instances at once, for ``engine.batch``.

Each operation is one statement (or one ``COPY``) whatever the number of rows: on PostgreSQL rows
go in by ``COPY ... FROM STDIN`` and instances are updated by ``UPDATE ... FROM jsonb_to_recordset(...)``; on
SQLite (in-process, where a statement costs little) by ``executemany`` of the hot path's own
compiled statements, so both write exactly what ``Engine.fire`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Dialect

from engine.id_lists import InIds
from engine.sqlexec import Prepared
from engine.statements import HotPath, instances
from engine.tx import Tx

_LOAD = (
    select(
        instances.c.id,
        instances.c.process,
        instances.c.definition_version,
        instances.c.business_key,
        instances.c.state,
        instances.c.version,
        instances.c.variables,
    )
    .where(InIds(instances.c.id, "iids"))
    .order_by(instances.c.id)
    .with_for_update()
)

_PG_KEYS = (
    "SELECT key, request_hash, response FROM wf_idempotency_key "
    "WHERE scope = %(scope)s AND key = ANY(%(keys)s)"
)
_SQLITE_KEYS = (
    "SELECT key, request_hash, response FROM wf_idempotency_key "
    "WHERE scope = ? AND key IN (SELECT value FROM json_each(?))"
)

_PG_UPDATE = (
    "UPDATE wf_instance AS i SET state = v.state, version = v.version, updated_at = %(now)s, "
    "state_entered_at = CASE WHEN i.state = v.state THEN i.state_entered_at ELSE %(now)s END{vars} "
    "FROM jsonb_to_recordset(%(rows)s::jsonb) "
    "AS v(id bigint, seen int, state text, version int{var_name}) "
    "WHERE i.id = v.id AND i.version = v.seen"
)


# ``json.dumps(value, ensure_ascii=False, default=str)`` without building an encoder per call.
_json = json.JSONEncoder(ensure_ascii=False, default=str).encode
# Values psycopg adapts as they are (checked by exact type: a fast path, ``_copy_value`` decides
# for everything else).
_PLAIN = frozenset({str, int, type(None), bool, float, Decimal, datetime, date})


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return _json(value)
    return value


def copy_rows(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY table (columns) FROM STDIN`` of ``rows`` (values in ``columns``' order; a dict,
    list or tuple goes in as its JSON text). psycopg formats each row in C (``write_row``); the
    plain values are passed on inline, without a call per value."""
    plain, convert = _PLAIN, _copy_value
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write([v if type(v) in plain else convert(v) for v in row])


class BulkSql:
    """The set-based statements of one database (``dialect``), beside the hot path's ``sql``."""

    def __init__(self, dialect: Dialect, sql: HotPath) -> None:
        self.postgres = dialect.name == "postgresql"
        self.sql = sql
        self.load = Prepared(_LOAD, dialect)

    def load_instances(self, tx: Tx, ids: Sequence[int]) -> dict[int, Any]:
        """The instances with ``ids``, locked (PostgreSQL; SQLite has one writer), by id."""
        return {row.id: row for row in tx.all(self.load, {"iids": ids})}

    def known_keys(self, tx: Tx, scope: str, wanted: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """The idempotency keys of ``scope`` among ``wanted`` already used: (hash, response)."""
        if not wanted:
            return {}
        if self.postgres:
            tx.cursor.execute(_PG_KEYS, {"scope": scope, "keys": list(wanted)})
        else:
            tx.cursor.execute(_SQLITE_KEYS, (scope, json.dumps(list(wanted))))
        found = {}
        for key, digest, response in tx.cursor.fetchall():
            if isinstance(response, str):
                response = json.loads(response)
            found[str(key)] = (str(digest), response)
        return found

    def update_instances(
        self, tx: Tx, rows: Sequence[Mapping[str, Any]], with_variables: bool
    ) -> int:
        """Move each instance (``iid``, ``seen`` version) to ``b_state``/``b_version`` at
        ``b_now`` (and ``b_variables``); the number of instances changed."""
        if not rows:
            return 0
        if not self.postgres:
            prepared = (
                self.sql.update_instance_with_variables
                if with_variables
                else self.sql.update_instance
            )
            tx.cursor.executemany(prepared.sql, [prepared.bind(r) for r in rows])
            return int(tx.cursor.rowcount)
        sql = _PG_UPDATE.format(
            vars=", variables = v.variables" if with_variables else "",
            var_name=", variables jsonb" if with_variables else "",
        )
        # One JSON document for all the rows: encoded once, in C, instead of an array per column.
        records = [
            {
                "id": r["iid"],
                "seen": r["seen"],
                "state": r["b_state"],
                "version": r["b_version"],
                **({"variables": r["b_variables"]} if with_variables else {}),
            }
            for r in rows
        ]
        params = {
            "now": rows[0]["b_now"],
            "rows": _json(records),
        }
        tx.cursor.execute(sql, params)
        return int(tx.cursor.rowcount)

    def insert(
        self, tx: Tx, prepared: Prepared, table: str, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Insert ``rows`` (dicts of the columns ``prepared`` names): ``COPY`` on PostgreSQL,
        ``executemany`` of ``prepared`` on SQLite."""
        if not rows:
            return
        if not self.postgres:
            tx.many(prepared, rows)
            return
        columns = list(rows[0])
        copy_rows(tx.cursor, table, columns, ([row[c] for c in columns] for row in rows))
