"""The hot path's shortcuts write exactly what the slow, general path writes.

The statements' generated binders and SQLite's UTC datetime fast path must give the driver the
same parameters SQLAlchemy's own processors give; the kept write connections must be reused, let
go when the SQLAlchemy engine is disposed, and replaced when the server closed one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from engine.db import make_engine
from engine.models import Timer, UtcDateTime
from engine.sqlexec import Prepared
from engine.statements import HotPath
from engine.writers import Writers

MOMENTS = [
    datetime(2026, 12, 2, 15, 48, 4, 131379, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),  # no microseconds: still six digits
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2027, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))),  # not UTC: the slow path
    None,
]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_binders_give_the_driver_what_sqlalchemy_would(dialect: object) -> None:
    prepared = HotPath(dialect).insert_history  # type: ignore[arg-type]
    slow = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)  # type: ignore[arg-type]
    for moment in MOMENTS:
        values = {
            "instance_id": 7,
            "process": "card",
            "event": "produce",
            "from_state": "applied",
            "to_state": "produced",
            "actor": "factory",
            "occurred_at": moment,
            "due_at": None,
            "task_id": None,
            "data": {"amount": "380.00", "名": "张三"},
        }
        bound = prepared.bind(values)
        by_name = dict(zip(prepared.names, bound, strict=True)) if prepared.positional else bound
        assert isinstance(by_name, dict)
        expected = slow(moment) if slow else moment
        assert by_name["occurred_at"] == expected
        assert by_name["instance_id"] == 7 and by_name["actor"] == "factory"


def test_literals_in_a_statement_are_bound_unless_given() -> None:
    dialect = sqlite.dialect()
    stmt = insert(Timer).values(status="pending")
    prepared = Prepared(stmt, dialect, column_keys=["instance_id", "event"])
    bound = dict(zip(prepared.names, prepared.bind({"instance_id": 1, "event": "x"}), strict=True))
    assert bound["status"] == "pending"
    given = dict(
        zip(
            prepared.names,
            prepared.bind({"instance_id": 1, "event": "x", "status": "fired"}),
            strict=True,
        )
    )
    assert given["status"] == "fired"


def test_naive_datetimes_are_still_refused() -> None:
    prepared = HotPath(sqlite.dialect()).insert_history
    with pytest.raises(ValueError, match="naive"):
        prepared.bind(
            {
                "instance_id": 1,
                "process": "card",
                "event": "e",
                "from_state": None,
                "to_state": "s",
                "actor": "a",
                "occurred_at": datetime(2026, 1, 1),
                "due_at": None,
                "task_id": None,
                "data": None,
            }
        )


def test_write_connections_are_kept_reused_and_let_go(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    writers = Writers(db, keep=1)
    first, driver, kept = writers.begin()
    assert not kept
    first.commit()
    writers.release(first)
    again, driver_again, kept_again = writers.begin()
    assert kept_again and driver_again is driver  # the same connection, no pool round trip
    again.commit()
    writers.release(again)
    assert db.pool.checkedout() == 1  # type: ignore[attr-defined]
    db.dispose()
    with pytest.raises(Exception, match="closed"):
        driver.execute("SELECT 1")  # closed with the pool it came from


def test_a_second_concurrent_writer_gets_its_own_connection(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    writers = Writers(db, keep=2)
    one, d1, _ = writers.begin()
    one.commit()
    writers.release(one)
    a, da, _ = writers.begin()
    a.commit()  # ended but not yet given back: nobody else may have it
    b, db_, kept_b = writers.begin()
    assert da is d1 and db_ is not da and not kept_b
    b.commit()
    writers.release(a)
    writers.release(b)
    db.dispose()


ERRAND = """
process: errand
version: 1
label: {zh: 差事, en: Errand}
initial: open
states:
  open: {label: {zh: 进行中, en: Open}}
  done: {label: {zh: 已完成, en: Done}, final: true}
events:
  finish: {label: {zh: 完成, en: Finish}, from: open, to: done}
"""


@pytest.mark.postgres
def test_a_kept_connection_the_server_ended_is_replaced_without_an_error(db_url: str) -> None:
    """An administrator (or a restart) ends the session of a kept write connection between two
    events: the next event runs on a fresh connection and nothing is lost or applied twice."""
    from sqlalchemy import text

    from engine.clock import SimulatedClock
    from engine.definition import parse_definition
    from engine.registry import Registry
    from engine.runtime import Engine

    if not db_url.startswith("postgresql"):
        pytest.skip("only a database server ends a client's session")
    definition = parse_definition(yaml.safe_load(ERRAND), "errand.yaml", Registry())
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    engine = Engine(make_engine(db_url), [definition], Registry(), clock=SimulatedClock(start))
    try:
        first = engine.start("errand")
        second = engine.start("errand")
        held, driver, kept = engine.writers.begin()
        assert kept  # the connection the starts used, kept
        pid = driver.info.backend_pid
        held.rollback()
        engine.writers.release(held)
        with engine.db.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.commit()
        engine.fire(first.instance_id, "finish", actor="clerk")
        engine.fire(second.instance_id, "finish", actor="clerk")
        with engine.db.connect() as conn:
            states = conn.execute(text("SELECT state, version FROM wf_instance ORDER BY id")).all()
            fired = conn.execute(
                text("SELECT count(*) FROM wf_history WHERE event = 'finish'")
            ).scalar_one()
        assert [tuple(s) for s in states] == [("done", 2), ("done", 2)]
        assert fired == 2
    finally:
        engine.db.dispose()
