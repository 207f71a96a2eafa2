"""Instances of a process per state, the figures every door reports: the supervisors' process
page, ``GET /api/v1/processes/{process}/counts`` and ``shebao stats``. One ``GROUP BY state``
query (``engine.queries.counts_by_state``), read against the process's definition.

Owns ``ProcessCounts``, whose ``states`` always add up to its ``total``: the definition's states
in file order (zeros included), then any state only another version of the process has
(instances not migrated yet, by name), then the engine's reserved ``CANCELLED`` (instances a
supervisor cancelled: a row of their own, zero included, since no definition has it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from engine.definition import ProcessDefinition
from engine.queries import counts_by_state
from engine.specs import CANCELLED


@dataclass(frozen=True)
class ProcessCounts:
    """A process's instances per state (see the module) and their total."""

    process: str
    states: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def cancelled(self) -> int:
        """Instances a supervisor cancelled (in the reserved ``CANCELLED`` state)."""
        return self.states[CANCELLED]


def process_counts(db: Engine, definition: ProcessDefinition) -> ProcessCounts:
    """The instances of ``definition``'s process per state, ordered as ``ProcessCounts`` says."""
    found = counts_by_state(db, definition.key)
    states = {state: found.pop(state, 0) for state in definition.states}
    cancelled = found.pop(CANCELLED, 0)
    states.update(sorted(found.items()))
    states[CANCELLED] = cancelled
    return ProcessCounts(definition.key, states)
