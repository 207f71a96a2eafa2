"""Instance migration's plan: where each populated state of a source version goes in the target
version, what becomes of its instances' task and timers, the domain's move checks' warnings, and
the warning of a map that skips events (``engine.migration_skips``) (``engine.migration`` applies
it; its docstring tells the whole)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Table, func, select

from engine.migration_checks import SAMPLE, MigratedView, WarningCount, confirmation_messages
from engine.migration_skips import SKIPPED_EVENTS, skip_messages
from engine.models import Instance
from engine.runtime import Engine
from engine.specs import StateSpec

INSTANCES: Table = Instance.__table__  # type: ignore[assignment]
EVENT = "migrate"
"""The history event of a migration (no definition declares it: diagrams leave it out)."""


class MigrationRefused(ValueError):
    """The plan cannot be applied: names the populated states that have no target."""


class ConfirmationNeeded(MigrationRefused):
    """The domain's move checks warn about instances the plan moves, and the operator has not
    confirmed those warnings' codes: nothing was moved (``migrated`` 0), or, when the warnings
    appeared only while moving, the chunks before (``migrated`` instances) and not that one."""

    code = "confirmation_required"

    def __init__(self, warnings: list[WarningCount], *, migrated: int | None = None) -> None:
        self.message_zh, self.message_en = confirmation_messages(warnings, migrated)
        super().__init__(f"{self.message_zh} / {self.message_en}")
        self.warnings = warnings
        self.migrated = migrated or 0


@dataclass(frozen=True)
class StateMove:
    """Where one source state's instances go, and what becomes of their task and timers."""

    source: str
    target: str
    instances: int
    task: str  # "kept", "recreated", "closed" (no task in the target) or "none"
    timers: str  # "kept", "recreated", "cancelled" or "none"
    due_declared: str | None = None
    """A kept task whose due date the target declares otherwise: the target version and what it
    declares (``v2 declares P20D``); the open tasks keep theirs. (A kept timer has the same
    duration: a timer declared otherwise is recreated.)"""
    skips: bool = False
    """The move skips events the instances never took (``engine.migration_skips``)."""

    def describe(self) -> str:
        due = f" (its due date stays; {self.due_declared})" if self.due_declared else ""
        return (
            f"{self.source} -> {self.target}: {self.instances:,} instances, "
            f"task {self.task}{due}, timers {self.timers}"
        )


@dataclass
class MigrationPlan:
    process: str
    source_version: int
    target_version: int
    moves: list[StateMove] = field(default_factory=list)
    unmapped: dict[str, int] = field(default_factory=dict)
    """Populated source states with no target state, and their instances."""
    warnings: dict[str, WarningCount] = field(default_factory=dict)
    """The domain's move checks' warnings about the instances whose state changes, per code."""

    @property
    def instances(self) -> int:
        return sum(move.instances for move in self.moves) + sum(self.unmapped.values())

    @property
    def targets(self) -> dict[str, str]:
        """Each populated source state with a target, and that target."""
        return {move.source: move.target for move in self.moves}

    def unconfirmed(self, confirmed: Collection[str]) -> list[WarningCount]:
        """The warnings whose code is not in ``confirmed``."""
        return [w for code, w in self.warnings.items() if code not in confirmed]

    def lines(self) -> list[str]:
        head = f"{self.process} v{self.source_version} -> v{self.target_version}"
        found = [f"{head}: {self.instances:,} instances"]
        found += [f"  {move.describe()}" for move in self.moves]
        found += [f"  {s}: {n:,} instances, NO TARGET STATE" for s, n in self.unmapped.items()]
        for w in self.warnings.values():
            found.append(f"  WARNING {w.code}: {w.instances:,} instances (ids {w.shown_ids()})")
            found += [f"    {w.message_zh}", f"    {w.message_en}"]
        return found


def _same_task(old: StateSpec, new: StateSpec) -> str:
    if new.task is None:
        return "closed" if old.task else "none"
    if old.task and (old.task.name, old.task.candidate_group) == (
        new.task.name,
        new.task.candidate_group,
    ):
        return "kept"
    return "recreated"


def _due_declared(old: StateSpec, new: StateSpec, version: int) -> str | None:
    """What ``new``'s task declares as its due date, when it is not what ``old``'s declares."""
    if old.task is None or new.task is None:
        return None
    declared = [(t.due.text if t.due else None, t.due_policy) for t in (old.task, new.task)]
    if declared[0] == declared[1]:
        return None
    text, policy = declared[1]
    return f"v{version} declares {text or (f'policy {policy}' if policy else 'no due date')}"


def _same_timers(old: StateSpec, new: StateSpec) -> str:
    def shape(spec: StateSpec) -> list[tuple[Any, ...]]:
        return sorted(
            (t.event, t.after.text if t.after else None, t.policy, t.policy_duration)
            for t in spec.timers
        )

    if not new.timers:
        return "cancelled" if old.timers else "none"
    return "kept" if shape(old) == shape(new) else "recreated"


def plan(
    engine: Engine,
    process: str,
    source_version: int,
    target_version: int,
    mapping: Mapping[str, str] | None = None,
    *,
    actor: str = "migration",
) -> MigrationPlan:
    """The plan for the process's instances on ``source_version`` (see the module docstring),
    with the warnings of the domain's move checks (run as ``actor``) for the instances whose
    state changes.

    Raises:
        UnknownProcess: either version is not loaded.
        MigrationRefused: the two versions are the same; ``mapping`` names a state neither
            version has.
    """
    if source_version == target_version:
        raise MigrationRefused(
            f"源版本与目标版本相同，无需迁移 / from v{source_version} to v{target_version}: the "
            "same version, nothing to migrate"
        )
    source = engine.definition(process, source_version)
    target = engine.definition(process, target_version)
    mapping = dict(mapping or {})
    for old_name, new_name in mapping.items():
        if old_name not in source.states:
            raise MigrationRefused(
                f"v{source_version} 没有状态 {old_name!r} / v{source_version} has no state {old_name!r}"
            )
        if new_name not in target.states:
            raise MigrationRefused(
                f"v{target_version} 没有状态 {new_name!r} / v{target_version} has no state {new_name!r}"
            )
    with engine.db.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                select(INSTANCES.c.state, func.count())
                .where(
                    INSTANCES.c.process == process,
                    INSTANCES.c.definition_version == source_version,
                )
                .group_by(INSTANCES.c.state)
            ).all()
        )
    result = MigrationPlan(process, source_version, target_version)
    for state in source.states:
        n = int(counts.get(state, 0))
        if not n:
            continue
        goal = mapping.get(state, state)
        if goal not in target.states:
            result.unmapped[state] = n
            continue
        old, new = source.states[state], target.states[goal]
        task = _same_task(old, new)
        due = _due_declared(old, new, target_version) if task == "kept" else None
        result.moves.append(StateMove(state, goal, n, task, _same_timers(old, new), due))
    view = MigratedView(engine, source, target, result.targets, EVENT)
    if any(view.checks_state(move.source) for move in result.moves):
        result.warnings = view.survey(actor)
    if skipping := skip_messages(source, target, result.targets):
        result.moves = [replace(move, skips=move.source in skipping) for move in result.moves]
        result.warnings[SKIPPED_EVENTS] = _skip_warning(engine, result, skipping)
    return result


def _skip_warning(
    engine: Engine, migration: MigrationPlan, skipping: Mapping[str, tuple[str, str]]
) -> WarningCount:
    """The warning of the moves that skip events (``skipping``: each one's source state and
    what to say of it), counted as the move checks' warnings are."""
    states = list(skipping)
    with engine.db.connect() as conn:
        ids = conn.scalars(
            select(INSTANCES.c.id)
            .where(
                INSTANCES.c.process == migration.process,
                INSTANCES.c.definition_version == migration.source_version,
                INSTANCES.c.state.in_(states),
            )
            .order_by(INSTANCES.c.id)
            .limit(SAMPLE)
        ).all()
    return WarningCount(
        SKIPPED_EVENTS,
        "；".join(zh for zh, _ in skipping.values()),
        "; ".join(en for _, en in skipping.values()),
        instances=sum(move.instances for move in migration.moves if move.skips),
        ids=list(ids),
    )
