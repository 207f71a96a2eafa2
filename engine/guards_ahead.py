"""Guards judged ahead: which events an instance could take now, its guards run without firing
anything (what a refusal's ``allowed`` lists, what a record's ``allowed_events`` shows).

A guard runs here as it runs in a firing (``engine.machine``): with the engine clock's time, the
given actor, a copy of the instance's variables, other instances read in a read-only transaction
that is rolled back; nothing is written, no action runs, no history or refusal is recorded. The
event's data is not there yet: the guard sees an empty mapping that notes whether it was read.

The rule, guard by guard (an event is taken only when all its guards pass):

- a guard that refuses (returns False or raises ``TransitionRefused``) without having read the
  event's data refuses whatever data is sent: the event is left out;
- a guard that read the event's data cannot be judged before the data is sent (a presented ID
  number, an amount, a time of payment): whatever it answered, it does not exclude the event;
- a guard that fails otherwise (an error, not a refusal) is not judged either: the event is kept
  and the error logged, as the firing itself will answer it.

So a guard whose refusal is sometimes data-free (no refund at all in this policy year) should
decide that before it reads the data, to be judged ahead.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import TransitionRefused
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger(__name__)


class Unsent(Mapping[str, Any]):
    """Event data that has not been sent: empty, and ``read`` once a guard looked at it."""

    def __init__(self) -> None:
        self.read = False

    def __getitem__(self, key: str) -> Any:
        self.read = True
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        self.read = True
        return iter(())

    def __len__(self) -> int:
        self.read = True
        return 0


def possible_now(
    engine: Engine, instance_id: int, events: Sequence[str], *, actor: str
) -> list[str]:
    """Of ``events``, in their order, those that leave the instance's state now and whose guards
    do not refuse them whatever data they bring (the module's rule). Events without guards are
    not read for; an instance that no longer exists takes none."""
    found = list(events)

    def judge(tx: Tx) -> list[str]:
        row = tx.one(engine.sql.select_instance, {"iid": instance_id})
        if row is None:
            return []
        definition = engine.definition(row.process, row.definition_version)
        leaving = definition.outgoing(row.state)
        now = engine.clock.now()
        return [
            event
            for event in found
            if event in leaving and not _refused(engine, tx, row, event, actor, now)
        ]

    return engine.read(judge)


def _refused(engine: Engine, tx: Tx, row: Any, event: str, actor: str, now: Any) -> bool:
    """Whether one of ``event``'s guards refuses it on ``row`` whatever data it brings."""
    spec = engine.definition(row.process, row.definition_version).events[event]
    for name in spec.guards:
        data, variables = Unsent(), copy.deepcopy(dict(row.variables or {}))
        ctx = engine.context(tx, row, event, data, actor, now, variables=variables)
        try:
            passed = engine.registry.get_guard(name)(ctx) is not False
        except TransitionRefused:
            passed = False
        except Exception as exc:  # the firing answers it; a preview keeps the event
            log.warning(
                "guard %s failed when judged ahead (instance %s, event %s): %s",
                name,
                row.id,
                event,
                type(exc).__name__,
            )
            continue
        if not passed and not data.read:
            return True
    return False
