"""A migration's map that sends instances downstream of their state, past events they never took,
is a warning of the plan (code ``skipped_events``) naming those events in Chinese and English,
also forward within a loop (shipped parcels put on hold that nobody held); a map back to a state
every instance there went through, or to the same state renamed, is not. The warning is confirmed
like the domain's move checks' warnings: without it nothing moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import yaml

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.migration import ConfirmationNeeded, migrate, plan
from engine.migration_skips import SKIPPED_EVENTS
from engine.registry import Registry
from engine.runtime import Engine
from engine.tx import Tx

V1 = """
process: parcel
version: 1
label: {zh: 包裹, en: Parcel}
initial: [received]
states:
  received: {label: {zh: 已收件, en: Received}}
  packed: {label: {zh: 已打包, en: Packed}}
  shipped: {label: {zh: 运输中, en: Shipped}}
  held: {label: {zh: 暂扣, en: Held}}
  delivered: {label: {zh: 已送达, en: Delivered}, final: true}
events:
  pack: {label: {zh: 打包, en: Pack}, from: received, to: packed}
  ship: {label: {zh: 发运, en: Ship}, from: packed, to: shipped}
  hold: {label: {zh: 扣留, en: Hold}, from: shipped, to: held}
  release: {label: {zh: 放行, en: Release}, from: held, to: shipped}
  deliver: {label: {zh: 投递, en: Deliver}, from: shipped, to: delivered}
"""
V2 = (  # ``packed`` renamed ``boxed``
    V1.replace("version: 1", "version: 2")
    .replace(
        "  packed: {label: {zh: 已打包, en: Packed}}", "  boxed: {label: {zh: 已装箱, en: Boxed}}"
    )
    .replace("to: packed}", "to: boxed}")
    .replace("from: packed,", "from: boxed,")
)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    v1 = parse_definition(yaml.safe_load(V1), "parcel.v1.yaml", Registry())
    v2 = parse_definition(yaml.safe_load(V2), "parcel.v2.yaml", Registry())
    eng = Engine(make_engine(db_url), [v1, v2], Registry(), clock=SimulatedClock(START))
    yield eng
    eng.db.dispose()


def parcels(engine: Engine, *states: str) -> dict[str, int]:
    definition = engine.definition("parcel", 1)

    def work(tx: Tx) -> dict[str, int]:
        return {
            state: engine.start_in(tx, definition, state, state, {}, "test").instance_id
            for state in states
        }

    return engine.transaction(work)


def test_a_map_downstream_names_the_skipped_events_and_moves_nothing_unconfirmed(
    engine: Engine,
) -> None:
    ids = parcels(engine, "received", "packed", "shipped")
    mapping = {"received": "shipped", "packed": "boxed", "shipped": "shipped"}
    migration = plan(engine, "parcel", 1, 2, mapping)
    assert list(migration.warnings) == [SKIPPED_EVENTS]
    warning = migration.warnings[SKIPPED_EVENTS]
    assert (warning.instances, warning.ids) == (1, [ids["received"]])
    assert "received → shipped skips: pack, ship" in warning.message_en
    assert "Pack" in warning.message_en and "Ship" in warning.message_en
    assert "received → shipped" in warning.message_zh
    assert "打包" in warning.message_zh and "发运" in warning.message_zh
    assert "packed" not in warning.message_en  # the renamed state is no skip
    with pytest.raises(ConfirmationNeeded) as refused:
        migrate(engine, migration, actor="ops")
    assert f"--confirm {SKIPPED_EVENTS}" in refused.value.message_en
    assert queries.instance(engine.db, ids["received"])["definition_version"] == 1  # type: ignore[index]

    report = migrate(engine, migration, actor="ops", confirmed=[SKIPPED_EVENTS])
    assert report.migrated == 3 and report.confirmed == {SKIPPED_EVENTS: 1}
    moved = queries.history(engine.db, ids["received"])[-1]
    assert moved["data"]["confirmed"] == [SKIPPED_EVENTS]
    assert "confirmed" not in queries.history(engine.db, ids["packed"])[-1]["data"]


def test_a_renamed_source_state_is_judged_in_its_own_version(engine: Engine) -> None:
    parcels(engine, "packed")
    migration = plan(engine, "parcel", 1, 2, {"packed": "delivered"})
    assert (
        "packed → delivered skips: ship, deliver" in migration.warnings[SKIPPED_EVENTS].message_en
    )


@pytest.mark.parametrize(
    "mapping",
    [
        {"shipped": "received"},  # back to an earlier state
        {"held": "shipped"},  # back within a loop: every held parcel was shipped
        {"packed": "boxed"},  # the same state renamed
    ],
)
def test_a_map_back_within_a_loop_or_renaming_warns_of_nothing(
    engine: Engine, mapping: dict[str, str]
) -> None:
    parcels(engine, *mapping)
    migration = plan(engine, "parcel", 1, 2, mapping)
    assert migration.warnings == {}
    assert migrate(engine, migration, actor="ops").migrated == 1


def test_a_map_forward_within_a_loop_warns_of_the_event_skipped(engine: Engine) -> None:
    """``shipped=held`` puts parcels on hold that nobody held (the map once passed unwarned: the
    loop back to ``shipped`` hid that ``held`` is downstream of it)."""
    ids = parcels(engine, "shipped")
    migration = plan(engine, "parcel", 1, 2, {"shipped": "held"})
    warning = migration.warnings[SKIPPED_EVENTS]
    assert (warning.instances, warning.ids) == (1, [ids["shipped"]])
    assert "shipped → held skips: hold" in warning.message_en
