"""The Engine on each database: start, fire, refusals, history, tasks, timers, races, idempotency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from engine import queries
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.errors import (
    EventNotAllowed,
    IdempotencyConflict,
    InvalidTaskOutcome,
    TaskClaimedByOther,
    TaskFormInvalid,
    TaskNotOpen,
    TransitionRefused,
    UnknownEvent,
)
from engine.registry import Registry
from engine.runtime import Engine, Idempotency
from engine.transition_context import TransitionContext

ORDER = """
process: order
version: 1
label: {zh: 订单, en: Order}
initial: [placed, imported]
states:
  placed:
    label: {zh: 已下单, en: Placed}
    timers:
      - {after: P2D, event: nudge}
      - {after: P10D, event: expire}
  imported:
    label: {zh: 已导入, en: Imported}
  review:
    label: {zh: 审核中, en: In review}
    task:
      name: check
      candidate_group: clerk
      scope: region
      form: [note]
      events: [approve, reject]
  approved:
    label: {zh: 已批准, en: Approved}
    final: true
  rejected:
    label: {zh: 已拒绝, en: Rejected}
    final: true
events:
  submit: {label: {zh: 提交, en: Submit}, from: [placed, imported], to: review, guard: has_amount,
           action: stamp, fields: [{name: via, required: false}, {name: n, type: integer, required: false}]}
  nudge: {label: {zh: 提醒, en: Nudge}, from: placed, to: placed}
  expire: {label: {zh: 过期, en: Expire}, from: placed, to: rejected}
  approve: {label: {zh: 批准, en: Approve}, from: review, to: approved, guard: slow}
  reject: {label: {zh: 拒绝, en: Reject}, from: review, to: rejected}
"""

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Hooks:
    """Guards and actions for the test process; ``barrier`` lets two threads meet mid-firing."""

    def __init__(self) -> None:
        self.barrier: threading.Barrier | None = None
        self.registry = Registry()
        self.registry.add_guard("has_amount", self.has_amount)
        self.registry.add_guard("slow", self.slow)
        self.registry.add_action("stamp", self.stamp)

    @staticmethod
    def has_amount(ctx: TransitionContext) -> bool:
        if ctx.variables.get("amount", 0) <= 0:
            raise TransitionRefused("金额必须大于零", "amount must be positive")
        return True

    def slow(self, ctx: TransitionContext) -> bool:
        if self.barrier is not None:
            try:
                self.barrier.wait(timeout=1.0)
            except threading.BrokenBarrierError:
                pass  # SQLite: the other writer waits at BEGIN IMMEDIATE, so we meet nobody
        return ctx.data.get("ok", True) is not False

    @staticmethod
    def stamp(ctx: TransitionContext) -> None:
        ctx.variables["submitted_by"] = ctx.actor


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def engine(db_url: str, hooks: Hooks, clock: SimulatedClock) -> Iterator[Engine]:
    definition = parse_definition(yaml.safe_load(ORDER), "order.yaml", hooks.registry)
    eng = Engine(make_engine(db_url), [definition], hooks.registry, clock=clock)
    yield eng
    eng.db.dispose()


def to_review(engine: Engine) -> int:
    started = engine.start("order", business_key="o-1", variables={"amount": 5, "region": "huian"})
    engine.fire(started.instance_id, "submit", actor="alice")
    return started.instance_id


def test_start_writes_instance_history_and_timers(engine: Engine) -> None:
    started = engine.start("order", business_key="o-1", variables={"amount": 5}, actor="alice")
    assert (started.to_state, started.version) == ("placed", 1)
    assert [
        (h["event"], h["from_state"], h["to_state"], h["actor"])
        for h in queries.history(engine.db, started.instance_id)
    ] == [("start", None, "placed", "alice")]
    timers = queries.timers_of(engine.db, started.instance_id, "pending")
    assert [(t["event"], t["due_at"]) for t in timers] == [
        ("nudge", START + timedelta(days=2)),
        ("expire", START + timedelta(days=10)),
    ]


def test_fire_moves_state_and_closes_timers_and_opens_task(
    engine: Engine, clock: SimulatedClock
) -> None:
    started = engine.start("order", variables={"amount": 5, "region": "huian"})
    clock.advance(timedelta(hours=1))
    done = engine.fire(started.instance_id, "submit", actor="bob", data={"via": "api"})
    assert (done.from_state, done.to_state, done.version) == ("placed", "review", 2)
    row = queries.instance(engine.db, started.instance_id)
    assert row["state"] == "review" and row["version"] == 2
    assert row["variables"]["submitted_by"] == "bob"  # the action's change was saved
    assert queries.timers_of(engine.db, started.instance_id, "pending") == []
    assert {t["status"] for t in queries.timers_of(engine.db, started.instance_id)} == {"cancelled"}
    [task] = queries.tasks_of(engine.db, started.instance_id, "open")
    assert (task["name"], task["candidate_group"], task["scope"]) == ("check", "clerk", "huian")
    last = queries.history(engine.db, started.instance_id)[-1]
    assert (last["event"], last["data"], last["occurred_at"]) == (
        "submit",
        {"via": "api"},
        START + timedelta(hours=1),
    )


def test_refused_event_names_the_events_allowed_now(engine: Engine) -> None:
    started = engine.start("order", variables={"amount": 5})
    with pytest.raises(EventNotAllowed) as caught:
        engine.fire(started.instance_id, "approve")
    assert caught.value.allowed == ["submit", "nudge", "expire"]
    # the message says the state and the events in words; the keys stay in the fields
    assert "“Submit”" in caught.value.message_en and "“批准”" in caught.value.message_zh
    assert "“已下单”" in caught.value.message_zh and "submit" not in caught.value.message_en
    assert (caught.value.event, caught.value.state) == ("approve", "placed")
    with pytest.raises(UnknownEvent):
        engine.fire(started.instance_id, "teleport")
    assert len(queries.history(engine.db, started.instance_id)) == 1


def test_guard_refusal_keeps_state_and_writes_nothing(engine: Engine) -> None:
    started = engine.start("order", variables={"amount": 0})
    with pytest.raises(TransitionRefused) as caught:
        engine.fire(started.instance_id, "submit")
    assert caught.value.message_zh == "金额必须大于零"
    row = queries.instance(engine.db, started.instance_id)
    assert (row["state"], row["version"]) == ("placed", 1)
    assert len(queries.history(engine.db, started.instance_id)) == 1


def test_second_start_state_and_internal_event(engine: Engine) -> None:
    imported = engine.start("order", variables={"amount": 1}, state="imported")
    assert imported.to_state == "imported"
    placed = engine.start("order", variables={"amount": 1})
    nudged = engine.fire(placed.instance_id, "nudge")
    assert nudged.to_state == "placed"
    # a non-interrupting event keeps the state's timers
    assert len(queries.timers_of(engine.db, placed.instance_id, "pending")) == 2


def test_complete_task_validates_claim_and_form(engine: Engine) -> None:
    instance_id = to_review(engine)
    [task] = queries.tasks_of(engine.db, instance_id, "open")
    engine.claim_task(task["id"], "carol")
    with pytest.raises(TaskClaimedByOther):
        engine.complete_task(task["id"], actor="dave", data={"note": "x"})
    with pytest.raises(InvalidTaskOutcome, match="choose one of"):  # two outcomes: never guessed
        engine.complete_task(task["id"], actor="carol", data={"note": "x"})
    with pytest.raises(TaskFormInvalid) as caught:
        engine.complete_task(task["id"], actor="carol", data={}, outcome="approve")
    assert caught.value.missing == ["note"]
    done = engine.complete_task(task["id"], actor="carol", data={"note": "ok"}, outcome="reject")
    assert done.to_state == "rejected"
    [closed] = queries.tasks_of(engine.db, instance_id)
    assert (closed["status"], closed["closed_by"], closed["outcome"]) == (
        "completed",
        "carol",
        "reject",
    )
    assert queries.history(engine.db, instance_id)[-1]["task_id"] == task["id"]
    with pytest.raises(TaskNotOpen):
        engine.complete_task(task["id"], actor="carol", data={"note": "again"})


def test_two_threads_firing_on_one_instance_exactly_one_wins(
    engine: Engine, hooks: Hooks, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="engine.runtime")
    instance_id = to_review(engine)
    hooks.barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(
                engine.fire(instance_id, "approve", actor=threading.current_thread().name)
            )
        except Exception as exc:  # noqa: BLE001 - the loser's error is what we inspect
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt, name=f"t{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], EventNotAllowed)
    approvals = [h for h in queries.history(engine.db, instance_id) if h["event"] == "approve"]
    assert len(approvals) == 1
    assert queries.instance(engine.db, instance_id)["version"] == 3
    if db_url.startswith("postgresql"):
        # both read version 2 before either wrote: the optimistic lock turned one away
        assert "lost a race" in caplog.text


def test_idempotent_delivery_is_a_no_op_and_a_changed_body_conflicts(engine: Engine) -> None:
    started = engine.start("order", variables={"amount": 5, "region": "r"})
    key = Idempotency("bank:icbc", "msg-1")
    first = engine.fire(started.instance_id, "submit", data={"n": 1}, idempotency=key)
    again = engine.fire(started.instance_id, "submit", data={"n": 1}, idempotency=key)
    assert again.replayed and not first.replayed
    assert (again.to_state, again.version) == (first.to_state, first.version)
    assert [h["event"] for h in queries.history(engine.db, started.instance_id)] == [
        "start",
        "submit",
    ]
    with pytest.raises(IdempotencyConflict):
        engine.fire(started.instance_id, "submit", data={"n": 2}, idempotency=key)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # conftest's, PostgreSQL only
def test_a_delivery_waits_while_its_key_is_held_and_another_key_does_not(
    engine: Engine,
) -> None:
    """PostgreSQL: the key's transaction lock (``idempotency:<scope>:<key>``, taken by the same
    statement that reads the instance) holds a second delivery of the key until the first
    transaction ends; a delivery of another key goes ahead. (SQLite's writers wait for each
    other at ``BEGIN IMMEDIATE`` whatever the key.)"""
    held_key, free_key = Idempotency("bank:icbc", "held-1"), Idempotency("bank:icbc", "free-1")
    first = engine.start("order", variables={"amount": 5, "region": "r"})
    second = engine.start("order", variables={"amount": 5, "region": "r"})
    results: dict[str, object] = {}

    def deliver(name: str, instance_id: int, key: Idempotency) -> None:
        try:
            results[name] = engine.fire(instance_id, "submit", idempotency=key)
        except BaseException as exc:  # reported by the assertions below
            results[name] = exc

    with engine.db.connect() as holder:  # a first delivery of held-1, still in its transaction
        holder.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('idempotency:bank:icbc:held-1'))"
        )
        waiting = threading.Thread(target=deliver, args=("held", first.instance_id, held_key))
        waiting.start()
        free = threading.Thread(target=deliver, args=("free", second.instance_id, free_key))
        free.start()
        free.join(timeout=10)
        assert not free.is_alive() and getattr(results["free"], "to_state", None) == "review"
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the second delivery of held-1 did not wait for the key"
        holder.rollback()
    waiting.join(timeout=10)
    assert getattr(results["held"], "to_state", None) == "review", results["held"]


class NotYours(Exception):
    pass


def test_a_callers_admit_check_sees_the_row_and_a_refusal_writes_nothing(engine: Engine) -> None:
    started = engine.start("order", variables={"amount": 5, "region": "huian"})
    seen: list[tuple[str, str, str]] = []

    def only_region(region: str) -> object:
        def admit(row: object) -> None:
            seen.append((row.process, row.state, row.variables["region"]))  # type: ignore[attr-defined]
            if row.variables["region"] != region:  # type: ignore[attr-defined]
                raise NotYours(region)

        return admit

    key = Idempotency("api:t", "msg-1")
    with pytest.raises(NotYours):
        engine.fire(started.instance_id, "submit", idempotency=key, admit=only_region("foshan"))
    assert seen == [("order", "placed", "huian")]
    assert [h["event"] for h in queries.history(engine.db, started.instance_id)] == ["start"]
    assert queries.instance(engine.db, started.instance_id)["version"] == 1  # type: ignore[index]
    # the key was not spent on the refusal: the same delivery, admitted, applies once
    done = engine.fire(started.instance_id, "submit", idempotency=key, admit=only_region("huian"))
    assert (done.to_state, done.replayed) == ("review", False)
    again = engine.fire(started.instance_id, "submit", idempotency=key, admit=only_region("huian"))
    assert again.replayed and len(seen) == 2  # a replay answers the recorded result


def test_counts_by_state(engine: Engine) -> None:
    for _ in range(3):
        engine.start("order", variables={"amount": 1})
    to_review(engine)
    assert queries.counts_by_state(engine.db, "order") == {"placed": 3, "review": 1}


DECISION = """
process: decision
version: 1
label: {zh: 审核, en: Decision}
initial: review
states:
  review:
    label: {zh: 审核中, en: In review}
    task: {name: decide, candidate_group: clerk, events: [accept, refuse]}
  accepted: {label: {zh: 通过, en: Accepted}, final: true}
  refused: {label: {zh: 不通过, en: Refused}, final: true}
events:
  accept:
    label: {zh: 通过, en: Accept}
    from: review
    to: accepted
    fields:
      - {name: kind, type: choice, options: [{value: a, label: {zh: 甲, en: A}}]}
      - {name: note, required: false}
  refuse:
    label: {zh: 不通过, en: Refuse}
    from: review
    to: refused
    fields: [{name: reason}, {name: note, required: false}]
"""


def test_a_task_asks_each_outcome_for_the_fields_it_carries_alone(
    db_url: str, clock: SimulatedClock
) -> None:
    """A task's form is its outcomes' fields; completing it with one outcome asks for that
    outcome's fields (and those every outcome carries), not for another outcome's: refusing
    needs only its reason. What the form holds in another outcome's field is not this one's."""
    registry = Registry()
    definition = parse_definition(yaml.safe_load(DECISION), "decision.yaml", registry)
    assert [f.name for f in definition.states["review"].task.form] == [  # type: ignore[union-attr]
        "kind",
        "note",
        "reason",
    ]
    assert definition.outcome_only_fields("review") == {"kind": ("accept",), "reason": ("refuse",)}
    assert [f.name for f in definition.outcome_form("review", "refuse")] == ["note", "reason"]
    engine = Engine(make_engine(db_url), [definition], registry, clock=clock)
    try:
        first = engine.start("decision", business_key="d-1").instance_id
        [task] = queries.tasks_of(engine.db, first, "open")
        with pytest.raises(TaskFormInvalid) as caught:
            engine.complete_task(task["id"], actor="carol", data={}, outcome="refuse")
        assert caught.value.missing == ["reason"]
        with pytest.raises(TaskFormInvalid) as caught:
            engine.complete_task(task["id"], actor="carol", data={"reason": "x"}, outcome="accept")
        assert caught.value.missing == ["kind"]
        done = engine.complete_task(
            task["id"],
            actor="carol",
            data={"reason": "不符", "kind": "", "note": ""},
            outcome="refuse",
        )
        assert done.to_state == "refused"
        assert queries.history(engine.db, first)[-1]["data"] == {"reason": "不符"}
        second = engine.start("decision", business_key="d-2").instance_id
        [task] = queries.tasks_of(engine.db, second, "open")
        done = engine.complete_task(
            task["id"], actor="carol", data={"kind": "a", "reason": "left over"}, outcome="accept"
        )
        assert done.to_state == "accepted"
        assert queries.history(engine.db, second)[-1]["data"] == {"kind": "a"}
    finally:
        engine.db.dispose()
