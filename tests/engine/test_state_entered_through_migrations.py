"""``wf_instance.state_entered_at`` of an instance a migration moved under a renamed state
(migration 0019): a database at 0018 holds a card whose ``produced`` state was renamed
``manufactured`` by ``shebao instances migrate`` (its time set to the migration's, as it was then)
and back again; upgraded to the head, its time is its production's, as the engine now keeps it.
An instance without such a migration is left as it is. On SQLite and (marker postgres) on a
PostgreSQL database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from engine.db import normalise_url
from engine.statements import instances
from tests.engine.own_database import blank_database, raw_moment
from web.migrate import upgrade_database

DAY0 = datetime(2021, 7, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own (``_renamed`` beside the suite's on PostgreSQL)."""
    with blank_database(request.param, tmp_path, "_renamed") as url:
        yield url


def day(postgres: bool, n: int) -> datetime | str:
    """Day ``n`` as the raw statements bind it."""
    return raw_moment(DAY0 + timedelta(days=n), postgres)


# instance id: (definition version, state, state_entered_at day, history as (day, event, from, to))
CARDS = {
    1: (
        2,
        "manufactured",
        90,
        [
            (0, "start", None, "applied"),
            (3, "produce", "applied", "produced"),
            (60, "migrate", "produced", "manufactured"),
            (70, "migrate", "manufactured", "produced"),
            (90, "migrate", "produced", "manufactured"),
        ],
    ),
    2: (  # migrated without a rename: its time was kept then, and is left
        2,
        "applied",
        5,
        [(5, "start", None, "applied"), (60, "migrate", "applied", "applied")],
    ),
}


def test_upgrade_gives_a_renamed_state_its_business_time_back(blank_url: str) -> None:
    upgrade_database(blank_url, "0018")
    db = create_engine(normalise_url(blank_url))
    postgres = db.dialect.name == "postgresql"
    with db.begin() as conn:
        for iid, (version, state, entered, rows) in CARDS.items():
            conn.execute(
                text(
                    "INSERT INTO wf_instance (id, process, definition_version, business_key,"
                    " state, version, variables, created_at, updated_at, state_entered_at)"
                    " VALUES (:id, 'card', :v, :key, :state, 1, '{}', :created, :updated,"
                    " :entered)"
                ),
                {
                    "id": iid,
                    "v": version,
                    "key": f"k{iid}",
                    "state": state,
                    "created": day(postgres, 0),
                    "updated": day(postgres, rows[-1][0]),
                    "entered": day(postgres, entered),
                },
            )
            for n, event, source, target in rows:
                conn.execute(
                    text(
                        "INSERT INTO wf_history (instance_id, process, event, from_state,"
                        " to_state, actor, occurred_at) VALUES (:i, 'card', :e, :f, :t, 'test',"
                        " :at)"
                    ),
                    {"i": iid, "e": event, "f": source, "t": target, "at": day(postgres, n)},
                )
    upgrade_database(blank_url)

    with db.connect() as conn:
        found = dict(conn.execute(select(instances.c.id, instances.c.state_entered_at)).all())
    assert found == {1: DAY0 + timedelta(days=3), 2: DAY0 + timedelta(days=5)}
    db.dispose()
