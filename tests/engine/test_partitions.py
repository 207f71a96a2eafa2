"""The partitioned PostgreSQL schema (migration 0010, ``engine.partitions``).

A database of its own (the test database's name with ``_partition``): migrated to 0009 and filled
with instances, history over several years, tasks, timers and notices; upgraded to the head, its
tables are partitioned as designed, every row and id sequence survives, rows route to their
partitions (a year without a partition to its process's default year, an unknown process to the
default partition), maintenance adds partitions and moves rows out of the defaults, and a downgrade
gives back the plain tables with every row. The rest of the PostgreSQL suite runs on the
partitioned schema (``tests/conftest.py`` migrates to the head).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Column, Connection, Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from engine import partitions
from tests.engine.own_database import postgres_database
from web.migrate import alembic_config

TABLES = ("wf_instance", "wf_history", "wf_task", "wf_timer", "wf_notice")


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but SHEBAO_TEST_POSTGRES_URL is not set")
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    with postgres_database(url, "_partition") as own:
        yield own


@pytest.fixture
def db(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def _populate(conn: Connection) -> None:
    """Instances of two shipped processes and one the migration does not know by name, history
    from 2020 to 2023, and a task, a timer and a notice per instance."""
    conn.execute(
        text(
            "INSERT INTO wf_definition (key, version, content_hash, source, path, deployed_at, "
            "deployed_by) VALUES ('letter', 1, 'h', 'process: letter', 'letter.yaml', now(), 't')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO wf_instance (process, definition_version, business_key, state, version, "
            "variables, created_at, updated_at) "
            "SELECT (ARRAY['card', 'enrollment', 'letter', 'parcel'])[1 + g % 4], 1, 'k' || g, "
            "'open', 1, jsonb_build_object('n', g), "
            "timestamptz '2020-03-01 00:00+00' + g * interval '9 days', now() "
            "FROM generate_series(1, 200) g"
        )
    )
    conn.execute(
        text(
            "INSERT INTO wf_history (instance_id, process, event, from_state, to_state, actor, "
            "occurred_at) SELECT i.id, i.process, 'e' || s, NULL, 'open', 'test', "
            "i.created_at + s * interval '100 days' FROM wf_instance i, generate_series(0, 2) s"
        )
    )
    conn.execute(
        text(
            "INSERT INTO wf_task (instance_id, process, name, state, candidate_group, status, "
            "created_at) SELECT id, process, 'check', 'open', 'clerk', 'open', created_at "
            "FROM wf_instance"
        )
    )
    conn.execute(
        text(
            "INSERT INTO wf_timer (instance_id, process, state, event, due_at, status, created_at)"
            " SELECT id, process, 'open', 'lapse', created_at + interval '30 days', 'pending', "
            "created_at FROM wf_instance"
        )
    )
    conn.execute(
        text(
            "INSERT INTO wf_notice (instance_id, process, kind, channel, text_zh, text_en, status,"
            " created_at) SELECT id, process, 'k', 'log', '中', 'en', 'pending', created_at "
            "FROM wf_instance"
        )
    )


def _snapshot(conn: Connection) -> dict[str, Any]:
    """Every row of the engine's tables (as text, by id) and where each sequence stands."""
    found: dict[str, Any] = {}
    for table in TABLES:
        found[table] = conn.execute(
            text(f"SELECT md5(string_agg(t::text, '|' ORDER BY t.id)), count(*) FROM {table} t")
        ).one()
        found[f"{table}_seq"] = conn.execute(
            text(f"SELECT last_value FROM {table}_id_seq")
        ).scalar_one()
    return found


def _where(conn: Connection, table: str) -> dict[str, int]:
    """Rows per partition (leaf table)."""
    rows = conn.execute(text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1"))
    return {str(name): int(n) for name, n in rows}


def _partitioned(conn: Connection) -> dict[str, str]:
    """Partitioned tables with their partition key."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p "
            "JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1"
        )
    )
    return {str(name): str(key) for name, key in rows}


def _foreign_keys(conn: Connection) -> dict[str, str]:
    rows = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
            "AND conparentid = 0 "
            "AND conrelid::regclass::text IN ('wf_history', 'wf_task', 'wf_timer', 'wf_notice')"
        )
    )
    return {str(name): str(definition) for name, definition in rows}


def _insert_history(conn: Connection, instance_id: int, process: str, at: str) -> None:
    conn.execute(
        text(
            "INSERT INTO wf_history (instance_id, process, event, to_state, actor, occurred_at) "
            "VALUES (:i, :p, 'poke', 'open', 'test', CAST(:at AS timestamptz))"
        ),
        {"i": instance_id, "p": process, "at": at},
    )


def _new_instance(conn: Connection, process: str) -> int:
    return int(
        conn.execute(
            text(
                "INSERT INTO wf_instance (process, definition_version, state, version, variables,"
                " created_at, updated_at) VALUES (:p, 1, 'open', 1, '{}', now(), now()) "
                "RETURNING id"
            ),
            {"p": process},
        ).scalar_one()
    )


@pytest.mark.postgres
def test_upgrade_of_a_populated_database_partitions_it_and_keeps_every_row(
    pg_url: str, db: Engine
) -> None:
    config = alembic_config(pg_url)
    command.upgrade(config, "0009")
    with db.begin() as conn:
        _populate(conn)
        before = _snapshot(conn)

    command.upgrade(config, "0010")
    with db.begin() as conn:
        assert _snapshot(conn) == before
        assert _partitioned(conn) == {
            "wf_history": "LIST (process)",
            **{
                partitions.history_partition(p): "RANGE (occurred_at)"
                for p in ("card", "card_review", "enrollment", "letter", "parcel", "person")
            },
            "wf_instance": "LIST (process)",
        }
        assert set(partitions.partitions_of(conn, "wf_instance")) == {
            "wf_instance__default",
            *(f"wf_instance__{p}" for p in ("card", "card_review", "enrollment", "person")),
            "wf_instance__letter",  # deployed
            "wf_instance__parcel",  # found in the data
        }
        years = partitions.partitions_of(conn, "wf_history__card")
        this_year = datetime.now(UTC).year
        assert {"wf_history__card__2020", "wf_history__card__2023"} <= set(years)
        assert {f"wf_history__card__{this_year}", f"wf_history__card__{this_year + 1}"} <= set(
            years
        )
        assert years["wf_history__card__default"] == "DEFAULT"
        assert years["wf_history__card__2021"] == (
            "FOR VALUES FROM ('2021-01-01 00:00:00+00') TO ('2022-01-01 00:00:00+00')"
        )
        # every row sits in its process's partition (and year), none in a default
        placed = _where(conn, "wf_history")
        assert not any(name.endswith("default") for name in placed)
        assert sum(placed.values()) == 600
        assert placed["wf_history__letter__2020"] > 0
        assert set(_where(conn, "wf_instance")) == {
            "wf_instance__card",
            "wf_instance__enrollment",
            "wf_instance__letter",
            "wf_instance__parcel",
        }
        assert _foreign_keys(conn) == {
            f"fk_{t}_instance_id_wf_instance": (
                "FOREIGN KEY (instance_id, process) REFERENCES wf_instance(id, process)"
            )
            for t in ("wf_history", "wf_task", "wf_timer", "wf_notice")
        }
        keys = conn.execute(
            text(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname IN ('pk_wf_instance', 'pk_wf_history')"
            )
        ).all()
        assert dict(keys) == {
            "wf_instance": "PRIMARY KEY (id, process)",
            "wf_history": "PRIMARY KEY (id, process, occurred_at)",
        }
        # the ids go on from where they were: the sequences moved with their columns
        assert _new_instance(conn, "card") == before["wf_instance_seq"] + 1
        owned = conn.execute(text("SELECT pg_get_serial_sequence('wf_history', 'id')"))
        assert owned.scalar_one() == "public.wf_history_id_seq"

    with db.begin() as conn:
        # a year without a partition of its own goes to the process's default year
        card = int(conn.execute(text("SELECT min(id) FROM wf_instance__card")).scalar_one())
        _insert_history(conn, card, "card", "2040-06-01 00:00+00")
        assert _where(conn, "wf_history")["wf_history__card__default"] == 1
        # a process without partitions goes to the defaults
        zeta = _new_instance(conn, "zeta")
        _insert_history(conn, zeta, "zeta", "2040-06-01 00:00+00")
        assert _where(conn, "wf_instance")["wf_instance__default"] == 1
        assert _where(conn, "wf_history")["wf_history__default"] == 1

    with db.begin() as conn:
        # the history's process must be its instance's
        with pytest.raises(IntegrityError):
            _insert_history(conn, card, "enrollment", "2021-06-01 00:00+00")

    with db.begin() as conn:
        report = partitions.maintain(conn, years=[2040])
        assert "wf_history__card__2040" in report.created
        assert "wf_history__zeta__2040" in report.created
        assert report.moved_rows == 2
        assert report.left_in_default == ["zeta"]  # its instance cannot move (foreign keys)
        placed = _where(conn, "wf_history")
        assert placed["wf_history__card__2040"] == 1
        assert placed["wf_history__zeta__2040"] == 1
        assert not any(name.endswith("default") for name in placed)
        # a second run has nothing to do
        again = partitions.maintain(conn, years=[2040])
        assert (again.created, again.moved_rows) == ([], 0)
        after = _snapshot(conn)

    command.downgrade(config, "0009")
    with db.begin() as conn:
        assert _partitioned(conn) == {}
        assert _snapshot(conn) == after
        assert _foreign_keys(conn) == {
            f"fk_{t}_instance_id_wf_instance": (
                "FOREIGN KEY (instance_id) REFERENCES wf_instance(id)"
            )
            for t in ("wf_history", "wf_task", "wf_timer", "wf_notice")
        }
        assert _new_instance(conn, "card") == after["wf_instance_seq"] + 1
        assert not partitions.is_partitioned(conn)
        assert partitions.maintain(conn).created == []

    command.upgrade(config, "head")  # and up again, from the plain tables it left
    with db.begin() as conn:
        assert partitions.is_partitioned(conn)
        assert "wf_instance__zeta" in partitions.partitions_of(conn, "wf_instance")


@pytest.mark.postgres
def test_a_lookup_by_id_reads_only_the_instance_partitions_and_history_prunes_by_process(
    pg_url: str, db: Engine
) -> None:
    command.upgrade(alembic_config(pg_url), "head")
    with db.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # the tables are empty
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN (COSTS OFF) UPDATE wf_instance SET version = 2 WHERE id = 1")
            ).scalars()
        )
        # one key probe per process partition (a handful), no year split multiplying them
        probes = plan.count("Index Scan using wf_instance__")
        assert probes == len(partitions.partitions_of(conn, "wf_instance")) == 5
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN (COSTS OFF) SELECT * FROM wf_history "
                    "WHERE process = 'card' AND instance_id = 1"
                )
            ).scalars()
        )
        assert "wf_history__card__" in plan and "wf_history__enrollment" not in plan


def test_the_partition_names_are_safe_and_distinct() -> None:
    assert partitions.instance_partition("card_review") == "wf_instance__card_review"
    assert partitions.history_partition("card", 2022) == "wf_history__card__2022"
    odd = ["default", "Card", "card-review", "x" * 64, "卡"]
    names = {partitions.history_partition(p, 2022) for p in odd}
    assert len(names) == len(odd)
    assert all(len(n) <= 63 and n.isascii() and n.replace("_", "").isalnum() for n in names)
    assert "wf_history__default__2022" not in names


def _partition_differences(obj: Any, name: str | None, type_: str, reflected: bool, _: Any) -> bool:
    """Leave out of the comparison what partitioning adds on PostgreSQL by itself: the partitions
    (named ``<table>__...``) with their indexes, and the copies of each foreign key that
    PostgreSQL keeps per partition of ``wf_instance``; and expression indexes (0009), which
    autogenerate cannot compare."""
    if type_ == "table" and reflected and name and "__" in name:
        return False
    if type_ == "index" and "__" in obj.table.name:
        return False
    if type_ == "index" and reflected and any(not isinstance(e, Column) for e in obj.expressions):
        return False
    return not (type_ == "foreign_key_constraint" and "__" in obj.referred_table.name)


@pytest.mark.postgres
def test_migrations_match_the_models_on_postgres_but_for_the_partitioned_keys(
    pg_url: str, db: Engine
) -> None:
    """As ``test_migrations_match_the_models`` (SQLite), on PostgreSQL: the models describe the
    SQLite shape, so the only differences are the ones 0010 makes on purpose. (Autogenerate does
    not compare primary keys; the first test checks those.)"""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.models import Base
    from web.models import WebBase

    command.upgrade(alembic_config(pg_url), "head")
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _partition_differences})
        # a list of metadata works (as env.py's target_metadata); the stub says one
        metadata: Any = [Base.metadata, WebBase.metadata]
        found = compare_metadata(context, metadata)
    differences = {
        (kind, fk.parent.name, tuple(c.name for c in fk.columns), fk.referred_table.name)
        for kind, fk in found
    }
    assert differences == {
        difference
        for table in ("wf_history", "wf_task", "wf_timer", "wf_notice")
        for difference in (
            ("remove_fk", table, ("instance_id", "process"), "wf_instance"),
            ("add_fk", table, ("instance_id",), "wf_instance"),
        )
    }


MEMO = """
process: memo
version: 1
label: {zh: 备忘, en: Memo}
initial: draft
states:
  draft:
    label: {zh: 草稿, en: Draft}
  sent:
    label: {zh: 已发, en: Sent}
    final: true
events:
  send:
    label: {zh: 发送, en: Send}
    from: draft
    to: sent
"""


@pytest.mark.postgres
def test_a_new_process_gets_its_partitions_at_its_first_deployment(
    pg_url: str, db: Engine, tmp_path: Path
) -> None:
    from engine.deployments import deploy

    command.upgrade(alembic_config(pg_url), "head")
    path = tmp_path / "memo.yaml"
    path.write_text(MEMO, encoding="utf-8")
    at = datetime(2031, 5, 1, tzinfo=UTC)
    assert deploy(db, [path], None, actor="test", now=at)[0].new
    with db.begin() as conn:
        assert "wf_instance__memo" in partitions.partitions_of(conn, "wf_instance")
        assert {"wf_history__memo__2031", "wf_history__memo__2032"} <= set(
            partitions.partitions_of(conn, "wf_history__memo")
        )
        memo = _new_instance(conn, "memo")
        _insert_history(conn, memo, "memo", "2031-06-01 00:00+00")
        assert _where(conn, "wf_instance") == {"wf_instance__memo": 1}
        assert _where(conn, "wf_history") == {"wf_history__memo__2031": 1}
    path.write_text(MEMO.replace("Memo}", "Memo 2}"), encoding="utf-8")
    assert deploy(db, [path], None, actor="test", now=at)[0].version == 2  # no DDL again
