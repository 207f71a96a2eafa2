"""``wf_instance.state_entered_at`` (migration 0016): filled from the history on upgrade.

A database at 0015 holds cards whose last update was a reminder that left them where they were;
upgraded to the head, each instance's ``state_entered_at`` is when it entered its state (the last
history row that changed the state, or the start), not its last update, and the age heat reads it.
On SQLite and (marker postgres) on a partitioned PostgreSQL of its own; the downgrade gives the
column back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from engine import diagram_heat
from engine.db import normalise_url
from engine.definition import load_definitions
from engine.statements import instances
from tests.engine.own_database import blank_database, raw_moment
from web.config import PROJECT_ROOT
from web.migrate import alembic_config, upgrade_database

DAY0 = datetime(2021, 7, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own (``_entered`` beside the suite's on PostgreSQL)."""
    with blank_database(request.param, tmp_path, "_entered") as url:
        yield url


def at(postgres: bool, day: int) -> datetime | str:
    """Day ``day`` as the raw statements bind it."""
    return raw_moment(DAY0 + timedelta(days=day), postgres)


# instance id: (state, last update, history rows as (day, event, from, to))
CARDS = {
    1: (
        "awaiting_activation",
        230,
        [
            (0, "start", None, "applied"),
            (3, "produce", "applied", "produced"),
            (11, "notify_holder", "produced", "awaiting_activation"),
            (200, "remind_holder", "awaiting_activation", "awaiting_activation"),
            (230, "take_back_uncollected", "awaiting_activation", "awaiting_activation"),
        ],
    ),
    2: ("applied", 40, [(40, "start", None, "applied")]),
    3: ("produced", 50, []),  # no history (removed by hand): its last update stands
}


def test_upgrade_fills_state_entered_at_from_the_history(blank_url: str) -> None:
    upgrade_database(blank_url, "0015")
    db = create_engine(normalise_url(blank_url))
    postgres = db.dialect.name == "postgresql"
    with db.begin() as conn:
        for iid, (state, updated, rows) in CARDS.items():
            conn.execute(
                text(
                    "INSERT INTO wf_instance (id, process, definition_version, business_key,"
                    " state, version, variables, created_at, updated_at) VALUES (:id, 'card', 1,"
                    " :key, :state, 1, '{}', :created, :updated)"
                ),
                {
                    "id": iid,
                    "key": f"k{iid}",
                    "state": state,
                    "created": at(postgres, 0),
                    "updated": at(postgres, updated),
                },
            )
            for day, event, source, target in rows:
                conn.execute(
                    text(
                        "INSERT INTO wf_history (instance_id, process, event, from_state,"
                        " to_state, actor, occurred_at) VALUES (:i, 'card', :e, :f, :t, 'test',"
                        " :at)"
                    ),
                    {
                        "i": iid,
                        "e": event,
                        "f": source,
                        "t": target,
                        "at": at(postgres, day),
                    },
                )
    upgrade_database(blank_url)

    with db.connect() as conn:
        found = dict(conn.execute(select(instances.c.id, instances.c.state_entered_at)).all())
    assert found == {
        1: DAY0 + timedelta(days=11),  # the reminder and the take-back stayed
        2: DAY0 + timedelta(days=40),
        3: DAY0 + timedelta(days=50),
    }
    card = load_definitions(PROJECT_ROOT / "definitions")["card"]
    now = DAY0 + timedelta(days=240)
    ages = diagram_heat.oldest_by_state(db, card, now)
    assert round(ages["awaiting_activation"] / 86400) == 229  # not 10, from the take-back

    command.downgrade(alembic_config(blank_url), "0015")  # gives the column back
    with db.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("wf_instance")}
    assert "state_entered_at" not in columns
    db.dispose()
