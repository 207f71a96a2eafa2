"""What a transition sets off after itself, in its own transaction: the follow-ups its domain
actions ask for (``ctx.emit`` fires an event, ``ctx.start`` starts an instance) and the
definition's ``automatic`` events, which the engine fires as soon as an instance enters one of
their states and their guards hold. A chain of them is bounded (``MAX_FOLLOW_UPS``), so a loop in
the domain's actions or a definition's automatic events ends in ``TooManyFollowUps``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.errors import DuplicateInstance, TooManyFollowUps, TransitionRefused
from engine.outcomes import Transition
from engine.specs import ProcessDefinition
from engine.transition_context import FollowUp
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.runtime import Engine

MAX_FOLLOW_UPS = 200


def new_budget() -> list[int]:
    """How many follow-ups a chain may still run (one list, shared down the chain)."""
    return [MAX_FOLLOW_UPS]


def _spend(budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise TooManyFollowUps(MAX_FOLLOW_UPS)


def follow(
    engine: Engine,
    tx: Tx,
    asked: FollowUp,
    actor: str,
    now: datetime,
    cause: dict[str, Any],
    budget: list[int],
) -> Transition | None:
    """Run one follow-up an action asked for: fire its event, or start its instance, unless
    one with the same business key sits in a state tagged ``unless_tagged``: then nothing
    happens and None says so (a start that did not happen is not listed as if it had)."""
    _spend(budget)
    data = {**asked.data, "cause": cause}
    if asked.event is not None:
        assert asked.instance_id is not None
        row = engine.load(tx, asked.instance_id)
        return engine.fire_in(tx, row, asked.event, actor, data, now=now, budget=budget)
    assert asked.process is not None
    definition = engine.definition(asked.process)
    tagged = [s for s in definition.initial if asked.state_tagged in definition.states[s].tags]
    state = asked.state or (tagged[0] if tagged else definition.initial[0])
    if asked.unless_tagged:
        blocking = definition.tagged(asked.unless_tagged)
        try:
            engine.check_exclusive(tx, asked.process, str(asked.business_key), blocking)
        except DuplicateInstance:
            return None
    return engine.start_in(
        tx, definition, state, asked.business_key, dict(asked.variables), actor, data, now
    )


def automatic(
    engine: Engine,
    tx: Tx,
    definition: ProcessDefinition,
    state: str,
    instance_id: int,
    actor: str,
    now: datetime,
    budget: list[int],
) -> Transition | None:
    """Fire the first ``automatic`` event leaving ``state`` whose guards hold, if any: a
    refusal writes nothing (guards run before any write), so it only means "not now"."""
    for event in definition.automatic_from(state):
        _spend(budget)
        row = engine.load(tx, instance_id)
        if row.state != state:
            return None  # a follow-up moved it on already
        try:
            return engine.fire_in(tx, row, event, actor, {}, now=now, budget=budget)
        except TransitionRefused:
            continue
    return None
