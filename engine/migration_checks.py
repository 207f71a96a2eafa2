"""The domain's move checks in an instance migration (``engine.migration``).

A migration that maps a state to another (``--map OLD=NEW``) moves instances between states as a
supervisor's move does (``engine.interventions.move``), so it runs the same checks
(``Registry.add_move_check``) for every instance whose state changes, with the ``Move`` of its old
state (tagged as the source version tags it) and its new one (as the target version does).

The checks see the other instances as the migration leaves them (``MigratedView``): one still on
the source version in a state the plan moves is shown in its target state, with the target
version's tags and label. Two instances of one business key that the migration moves together
thus see each other moved, and the plan's survey, which writes nothing, finds what the chunks
will find unless someone else changes the instances in between.

``MigratedView.survey`` runs the checks for the plan; ``MigratedView.checked_chunk`` runs them in
a chunk's transaction, under the locks a supervisor's move takes (the business keys', in key
order, before the instances' rows). Warnings are counted per code (``WarningCount``): how many
instances, the first few ids and the first instance's message in the domain's words (which mask
personal data).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, Table, select

from engine.definition import ProcessDefinition
from engine.errors import UnknownProcess
from engine.event_data import view_of
from engine.interventions import run_move_checks
from engine.models import Instance
from engine.registry import MoveWarning
from engine.runtime import Engine
from engine.transition_context import InstanceView
from engine.tx import Tx

INSTANCES: Table = Instance.__table__  # type: ignore[assignment]
SAMPLE = 5
"""How many instance ids a warning's count names."""
SURVEY_PAGE = 1000


@dataclass
class WarningCount:
    """The instances one warning code was found on, and its first message."""

    code: str
    message_zh: str
    message_en: str
    instances: int = 0
    ids: list[int] = field(default_factory=list)

    def add(self, instance_id: int) -> None:
        self.instances += 1
        if len(self.ids) < SAMPLE:
            self.ids.append(instance_id)

    def shown_ids(self) -> str:
        more = ", ..." if self.instances > len(self.ids) else ""
        return ", ".join(str(i) for i in self.ids) + more


class Unconfirmed(Exception):
    """A chunk's checks warned with codes not confirmed (its transaction is rolled back)."""

    def __init__(self, warnings: list[WarningCount]) -> None:
        super().__init__(", ".join(w.code for w in warnings))
        self.warnings = warnings


def confirmation_messages(
    warnings: Sequence[WarningCount], migrated: int | None
) -> tuple[str, str]:
    """What refusing a migration for ``warnings`` says (zh, en): each code, its instances and
    first message, and how to confirm; ``migrated``: the instances moved before the chunk that
    found them, None when the plan found them (nothing moved)."""
    found_zh = "；".join(
        f"{w.code}：{w.instances:,} 个实例（如 {w.shown_ids()}），例：{w.message_zh}"
        for w in warnings
    )
    found_en = "; ".join(
        f"{w.code}: {w.instances:,} instances (e.g. {w.shown_ids()}), e.g. {w.message_en}"
        for w in warnings
    )
    flags = " ".join(f"--confirm {w.code}" for w in warnings)
    if migrated is None:
        head_zh, head_en = (
            "迁移需确认，未迁移任何实例",
            "the migration needs confirming; nothing was moved",
        )
    else:
        head_zh = f"迁移时出现计划之后的警告，本批未迁移（此前已迁移 {migrated:,} 个实例，重新运行即可继续）"
        head_en = (
            "warnings appeared after the plan, while migrating; this chunk was not moved "
            f"({migrated:,} instances were migrated before it; running again resumes)"
        )
    return (
        f"{head_zh}：{found_zh}。如确需迁移，请加上 {flags} 重新运行",
        f"{head_en}: {found_en}. To migrate all the same, run again with {flags}",
    )


def tally(found: Mapping[int, Sequence[MoveWarning]]) -> dict[str, WarningCount]:
    """Warnings per instance id, counted per code (in the order first found)."""
    counts: dict[str, WarningCount] = {}
    for instance_id, warnings in found.items():
        for warning in warnings:
            counts.setdefault(
                warning.code, WarningCount(warning.code, warning.message_zh, warning.message_en)
            ).add(instance_id)
    return counts


def candidates(source: ProcessDefinition, state: str, after: int, size: int) -> Select[Any]:
    """The next ``size`` instances in ``state`` on the source version past id ``after``, with
    what a check's context needs."""
    columns = INSTANCES.c
    return (
        select(
            columns.id,
            columns.process,
            columns.definition_version,
            columns.business_key,
            columns.state,
            columns.version,
            columns.variables,
        )
        .where(
            columns.process == source.key,
            columns.definition_version == source.version,
            columns.state == state,
            columns.id > after,
        )
        .order_by(columns.id)
        .limit(size)
    )


class MigratedView:
    """The move checks of one migration, and the instances as the migration leaves them.

    Args:
        engine: the engine (its registry's move checks, its definitions).
        source, target: the two versions.
        targets: each source state the plan moves, and its target state.
        event: the history event of the migration (``ctx.event`` for the checks).
    """

    def __init__(
        self,
        engine: Engine,
        source: ProcessDefinition,
        target: ProcessDefinition,
        targets: Mapping[str, str],
        event: str,
    ) -> None:
        self.engine = engine
        self.source = source
        self.target = target
        self.targets = dict(targets)
        self.event = event
        self.checks = engine.registry.move_checks(source.key)

    def checks_state(self, state: str) -> bool:
        """Whether instances in ``state`` are checked: it changes and the process has checks."""
        return bool(self.checks) and self.targets.get(state, state) != state

    def find(self, tx: Tx, process: str, business_key: str) -> list[InstanceView]:
        """``Engine.find``, with the instances the migration moves shown where it moves them."""
        views = []
        for row in tx.all(
            self.engine.sql.select_family, {"process": process, "bkey": business_key}
        ):
            state, definition = row.state, self._definition(row.process, row.definition_version)
            if (row.process, row.definition_version) == (self.source.key, self.source.version):
                if row.state in self.targets:
                    state, definition = self.targets[row.state], self.target
            views.append(view_of(row, state, definition))
        return views

    def warnings(self, tx: Tx, row: Any, actor: str, now: datetime) -> list[MoveWarning]:
        """What the checks say of moving the instance ``row`` (on the source version) to its
        target state."""
        goal = self.targets[row.state]
        data = {"to": goal, "from_version": self.source.version, "to_version": self.target.version}
        ctx = self.engine.context(tx, row, self.event, data, actor, now)
        ctx.finder = lambda process, key: self.find(tx, process, key)
        return run_move_checks(self.checks, ctx, self.source, self.target, row.state, goal)

    def survey(self, actor: str) -> dict[str, WarningCount]:
        """The warnings of every checked instance, read without writing (the plan's)."""
        found: dict[int, list[MoveWarning]] = {}
        now = self.engine.clock.now()
        states = [state for state in self.targets if self.checks_state(state)]
        with self.engine.db.connect() as conn:
            tx = Tx(conn.connection.driver_connection, self.engine.dialect)
            for state in states:
                after = 0
                while rows := conn.execute(
                    candidates(self.source, state, after, SURVEY_PAGE)
                ).all():
                    for row in rows:
                        if warnings := self.warnings(tx, row, actor, now):
                            found[row.id] = warnings
                    after = rows[-1].id
        return tally(found)

    def checked_chunk(
        self,
        conn: Connection,
        state: str,
        after: int,
        size: int,
        actor: str,
        now: datetime,
        confirmed: Collection[str],
    ) -> tuple[list[Any], int, dict[int, list[str]]]:
        """A chunk of instances in ``state`` (which changes) in its transaction ``conn``: the
        business keys locked first (``Engine.check_exclusive``'s lock, in key order, before the
        rows, as a supervisor's move takes it before writing its instance), then the rows, then
        the checks. Returns the rows to move, the last id looked at (``after`` when none was
        left) and the confirmed codes per instance moved with warnings.

        Raises:
            Unconfirmed: a warning's code is not in ``confirmed``.
        """
        found = conn.execute(candidates(self.source, state, after, size)).all()
        if not found:
            return [], after, {}
        tx = Tx(conn.connection.driver_connection, self.engine.dialect)
        for key in sorted({row.business_key for row in found if row.business_key is not None}):
            tx.lock(f"{self.source.key}:{key}")
        ids = [row.id for row in found]
        query = candidates(self.source, state, after, size).where(INSTANCES.c.id.in_(ids))
        rows = list(conn.execute(query.with_for_update(skip_locked=True)).all())
        warned = {row.id: w for row in rows if (w := self.warnings(tx, row, actor, now))}
        refused = {
            iid: unconfirmed
            for iid, warnings in warned.items()
            if (unconfirmed := [w for w in warnings if w.code not in confirmed])
        }
        if refused:
            raise Unconfirmed(list(tally(refused).values()))
        codes = {iid: sorted({w.code for w in warnings}) for iid, warnings in warned.items()}
        return rows, ids[-1], codes

    def _definition(self, process: str, version: int) -> ProcessDefinition | None:
        try:
            return self.engine.definition(process, version)
        except UnknownProcess:
            return None
