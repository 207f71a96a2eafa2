"""Supervisor interventions (engine.interventions) on each database: cancel and move with a reason.

A move must leave the same task and timer rows a normal transition into the target leaves; a
cancel ends the instance for every door of the engine; a stale version, an ended instance, a
missing reason or a wrong target change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from engine import interventions, queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.errors import EventNotAllowed
from engine.interventions import (
    CANCELLED,
    InstanceEnded,
    InvalidTarget,
    ReasonRequired,
    StaleIntervention,
)
from engine.registry import Registry
from engine.runtime import Engine
from engine.timers import TimerSweep

CLAIM = """
process: claim
version: 1
label: {zh: 报销, en: Claim}
initial: draft
states:
  draft:
    label: {zh: 草稿, en: Draft}
  review:
    label: {zh: 审核中, en: In review}
    task:
      name: check
      candidate_group: clerk
      scope: region
      events: [approve, reject]
      due: P3D
    timers:
      - {after: P2D, event: remind}
      - {after: P10D, event: expire}
  waiting:
    label: {zh: 等待材料, en: Waiting for papers}
    timers:
      - {after: P1D, event: wake}
  approved:
    label: {zh: 已批准, en: Approved}
    final: true
  rejected:
    label: {zh: 已拒绝, en: Rejected}
    final: true
events:
  submit: {label: {zh: 提交, en: Submit}, from: draft, to: review}
  remind: {label: {zh: 提醒, en: Remind}, from: review, to: review}
  expire: {label: {zh: 过期, en: Expire}, from: review, to: rejected}
  approve: {label: {zh: 批准, en: Approve}, from: review, to: approved}
  reject: {label: {zh: 拒绝, en: Reject}, from: review, to: rejected}
  park: {label: {zh: 暂停, en: Park}, from: review, to: waiting}
  wake: {label: {zh: 恢复, en: Wake}, from: waiting, to: review}
"""

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
BOSS = "staff:boss"


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def engine(db_url: str, clock: SimulatedClock) -> Iterator[Engine]:
    registry = Registry()
    definition = parse_definition(yaml.safe_load(CLAIM), "claim.yaml", registry)
    eng = Engine(make_engine(db_url), [definition], registry, clock=clock)
    yield eng
    eng.db.dispose()


def new_claim(engine: Engine, key: str = "c-1") -> int:
    return engine.start("claim", business_key=key, variables={"region": "huian"}).instance_id


def in_review(engine: Engine, key: str = "c-1") -> int:
    instance_id = new_claim(engine, key)
    engine.fire(instance_id, "submit", actor="alice")
    return instance_id


def version_of(engine: Engine, instance_id: int) -> int:
    row = queries.instance(engine.db, instance_id)
    assert row is not None
    return int(row["version"])


def rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task or timer rows without what differs between two instances (ids)."""
    return [{k: v for k, v in r.items() if k not in ("id", "instance_id")} for r in found]


def snapshot(engine: Engine, instance_id: int) -> tuple[Any, ...]:
    """Everything an intervention could change: the instance, history, tasks, timers."""
    return (
        queries.instance(engine.db, instance_id),
        queries.history(engine.db, instance_id),
        queries.tasks_of(engine.db, instance_id),
        queries.timers_of(engine.db, instance_id),
    )


def test_a_move_opens_the_same_task_and_timers_as_a_normal_transition_into_the_state(
    engine: Engine, clock: SimulatedClock
) -> None:
    normal, moved = new_claim(engine, "a"), new_claim(engine, "b")
    clock.advance(timedelta(hours=3))
    engine.fire(normal, "submit", actor="alice")
    done = interventions.move(
        engine, moved, "review", expected_version=1, actor=BOSS, reason="材料已线下补齐"
    )
    assert (done.from_state, done.to_state, done.version) == ("draft", "review", 2)
    assert queries.instance(engine.db, moved)["state"] == "review"  # type: ignore[index]
    opened = rows(queries.tasks_of(engine.db, moved))
    assert opened == rows(queries.tasks_of(engine.db, normal))
    assert opened[0]["candidate_group"] == "clerk" and opened[0]["scope"] == "huian"
    assert opened[0]["due_at"] == START + timedelta(hours=3, days=3)
    pending = rows(queries.timers_of(engine.db, moved, "pending"))
    assert pending == rows(queries.timers_of(engine.db, normal, "pending"))
    assert [t["event"] for t in pending] == ["remind", "expire"]
    last = queries.history(engine.db, moved)[-1]
    assert (last["event"], last["from_state"], last["to_state"], last["actor"]) == (
        "supervisor_move",
        "draft",
        "review",
        BOSS,
    )
    assert last["data"] == {"reason": "材料已线下补齐"}


def test_a_move_closes_the_old_states_task_and_timers_as_leaving_it_by_an_event_does(
    engine: Engine, clock: SimulatedClock
) -> None:
    normal, moved = in_review(engine, "a"), in_review(engine, "b")
    clock.advance(timedelta(hours=1))
    engine.fire(normal, "park", actor=BOSS)
    interventions.move(engine, moved, "waiting", expected_version=2, actor=BOSS, reason="等材料")
    [old_task] = queries.tasks_of(engine.db, moved)
    [normal_task] = queries.tasks_of(engine.db, normal)
    assert (old_task["status"], old_task["closed_by"], old_task["closed_at"]) == (
        normal_task["status"],
        normal_task["closed_by"],
        normal_task["closed_at"],
    )
    assert (old_task["status"], old_task["outcome"]) == ("cancelled", "supervisor_move")
    assert rows(queries.timers_of(engine.db, moved)) == rows(queries.timers_of(engine.db, normal))
    assert [(t["event"], t["status"]) for t in queries.timers_of(engine.db, moved)] == [
        ("remind", "cancelled"),
        ("expire", "cancelled"),
        ("wake", "pending"),
    ]


def test_a_moved_instance_runs_on_by_its_definition(engine: Engine, clock: SimulatedClock) -> None:
    instance_id = in_review(engine)
    interventions.move(engine, instance_id, "waiting", expected_version=2, actor=BOSS, reason="x")
    clock.advance(timedelta(days=1, minutes=1))
    TimerSweep(engine).sweep()
    row = queries.instance(engine.db, instance_id)
    assert row is not None and row["state"] == "review"
    assert [t["name"] for t in queries.tasks_of(engine.db, instance_id, "open")] == ["check"]


def test_cancel_ends_the_instance_closing_its_task_and_timers(
    engine: Engine, clock: SimulatedClock
) -> None:
    instance_id = in_review(engine)
    clock.advance(timedelta(hours=2))
    done = interventions.cancel(
        engine, instance_id, expected_version=2, actor=BOSS, reason="重复申请"
    )
    assert (done.event, done.from_state, done.to_state) == (
        "supervisor_cancel",
        "review",
        CANCELLED,
    )
    assert queries.instance(engine.db, instance_id)["state"] == CANCELLED  # type: ignore[index]
    [task] = queries.tasks_of(engine.db, instance_id)
    assert (task["status"], task["closed_by"], task["outcome"], task["closed_at"]) == (
        "cancelled",
        BOSS,
        "supervisor_cancel",
        START + timedelta(hours=2),
    )
    assert {t["status"] for t in queries.timers_of(engine.db, instance_id)} == {"cancelled"}
    last = queries.history(engine.db, instance_id)[-1]
    assert (last["event"], last["from_state"], last["to_state"], last["data"]) == (
        "supervisor_cancel",
        "review",
        CANCELLED,
        {"reason": "重复申请"},
    )
    # every door is shut now: events, and a timer sweep long after every former due date
    with pytest.raises(EventNotAllowed):
        engine.fire(instance_id, "approve")
    clock.advance(timedelta(days=30))
    TimerSweep(engine).sweep()
    assert queries.instance(engine.db, instance_id)["state"] == CANCELLED  # type: ignore[index]


def test_an_ended_instance_can_be_neither_cancelled_nor_moved(engine: Engine) -> None:
    approved = in_review(engine, "a")
    engine.fire(approved, "approve")
    cancelled = in_review(engine, "b")
    interventions.cancel(engine, cancelled, expected_version=2, actor=BOSS, reason="x")
    for instance_id in (approved, cancelled):
        before = snapshot(engine, instance_id)
        version = version_of(engine, instance_id)
        with pytest.raises(InstanceEnded):
            interventions.cancel(
                engine, instance_id, expected_version=version, actor=BOSS, reason="again"
            )
        with pytest.raises(InstanceEnded):
            interventions.move(
                engine, instance_id, "review", expected_version=version, actor=BOSS, reason="back"
            )
        assert snapshot(engine, instance_id) == before


def test_a_stale_version_changes_nothing(engine: Engine) -> None:
    instance_id = in_review(engine)
    seen = version_of(engine, instance_id)
    engine.fire(instance_id, "remind")  # someone else moved it on meanwhile
    before = snapshot(engine, instance_id)
    with pytest.raises(StaleIntervention) as caught:
        interventions.cancel(engine, instance_id, expected_version=seen, actor=BOSS, reason="x")
    assert (caught.value.seen, caught.value.current) == (seen, seen + 1)
    with pytest.raises(StaleIntervention):
        interventions.move(
            engine, instance_id, "waiting", expected_version=seen, actor=BOSS, reason="x"
        )
    assert snapshot(engine, instance_id) == before


def test_the_same_form_sent_twice_acts_once(engine: Engine) -> None:
    instance_id = in_review(engine)
    interventions.move(engine, instance_id, "waiting", expected_version=2, actor=BOSS, reason="x")
    before = snapshot(engine, instance_id)
    with pytest.raises(StaleIntervention):
        interventions.move(
            engine, instance_id, "waiting", expected_version=2, actor=BOSS, reason="x"
        )
    assert snapshot(engine, instance_id) == before
    assert [h["event"] for h in before[1]].count("supervisor_move") == 1


@pytest.mark.parametrize("reason", ["", "   ", "长" * 501, None])
def test_a_reason_is_required_and_bounded(engine: Engine, reason: str | None) -> None:
    instance_id = in_review(engine)
    before = snapshot(engine, instance_id)
    with pytest.raises(ReasonRequired):
        interventions.cancel(
            engine,
            instance_id,
            expected_version=2,
            actor=BOSS,
            reason=reason,  # type: ignore[arg-type]
        )
    with pytest.raises(ReasonRequired):
        interventions.move(
            engine,
            instance_id,
            "waiting",
            expected_version=2,
            actor=BOSS,
            reason=reason,  # type: ignore[arg-type]
        )
    assert snapshot(engine, instance_id) == before


def test_a_reason_of_500_characters_is_kept_whole(engine: Engine) -> None:
    instance_id = in_review(engine)
    interventions.cancel(engine, instance_id, expected_version=2, actor=BOSS, reason="理" * 500)
    assert queries.history(engine.db, instance_id)[-1]["data"] == {"reason": "理" * 500}


@pytest.mark.parametrize("target", ["review", "nowhere", CANCELLED])
def test_a_move_goes_to_another_state_of_the_definition_only(engine: Engine, target: str) -> None:
    instance_id = in_review(engine)
    before = snapshot(engine, instance_id)
    with pytest.raises(InvalidTarget):
        interventions.move(engine, instance_id, target, expected_version=2, actor=BOSS, reason="x")
    assert snapshot(engine, instance_id) == before


def test_a_move_into_a_final_state_ends_the_instance(engine: Engine) -> None:
    instance_id = in_review(engine)
    interventions.move(engine, instance_id, "approved", expected_version=2, actor=BOSS, reason="x")
    assert queries.tasks_of(engine.db, instance_id, "open") == []
    assert queries.timers_of(engine.db, instance_id, "pending") == []
    with pytest.raises(InstanceEnded):
        interventions.cancel(engine, instance_id, expected_version=3, actor=BOSS, reason="x")


def test_the_reserved_state_has_a_label_in_both_languages(engine: Engine) -> None:
    definition = engine.definition("claim")
    assert interventions.state_label(definition, CANCELLED, "zh") == "已由主管终止"
    assert interventions.state_label(definition, CANCELLED, "en") == "Cancelled by a supervisor"
    assert interventions.label_of(definition, "review").en == "In review"
    assert interventions.state_label(definition, None, "en") == "-"
    assert CANCELLED not in definition.states  # no definition can name it: not snake_case
