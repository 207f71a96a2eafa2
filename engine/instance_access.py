"""What an ``Engine`` reads and locks of instances inside a transaction: a row by id, the context
a guard or an action sees, and the business-key lock that serialises the starts of one key (and the
domain paths whose reads decide what to start). Mixed into ``Engine``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.errors import ConcurrentModification, DuplicateInstance, InstanceNotFound
from engine.transition_context import InstanceView, TransitionContext
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.definition import ProcessDefinition
    from engine.statements import HotPath


class InstanceAccess:
    """Mixed into ``Engine``; relies on its definitions, hot-path statements and ``find``."""

    sql: HotPath

    if TYPE_CHECKING:

        def definition(self, key: str, version: int | None = None) -> ProcessDefinition: ...

        def loaded(self, key: str, version: int) -> ProcessDefinition | None: ...

        def met_new_version(self, key: str, version: int) -> bool: ...

        def find(self, tx: Tx, process: str, business_key: str) -> list[InstanceView]: ...

    def check_exclusive(
        self, tx: Tx, process: str, business_key: str, states: Collection[str]
    ) -> None:
        """Raise ``DuplicateInstance`` if ``business_key`` has an instance in one of ``states``.

        Takes a transaction-scoped lock on the key first, so two concurrent starts of the same
        key are serialised (SQLite serialises every writer already).

        Raises:
            ConcurrentModification: an instance of the key is on a version this engine met only
                now (another process deployed it): ``states`` were named by the versions known
                before, so the transaction runs again, judged by the versions as they are now.
        """
        self.lock_key(tx, process, business_key)
        rows = tx.all(self.sql.select_by_business_key, {"process": process, "bkey": business_key})
        for row in rows:
            if self.met_new_version(process, row.definition_version):
                raise ConcurrentModification(row.id)
        for row in rows:
            if row.state in states:
                definition = self.definition(process)  # the latest one's labels
                raise DuplicateInstance(process, business_key, row.id, row.state, definition)

    def lock_key(self, tx: Tx, process: str, business_key: str) -> None:
        """Hold, until ``tx`` ends, the lock ``check_exclusive`` takes on ``business_key``: a
        domain path whose own reads decide what to start (a replacement card, an import) takes
        it before them, so that it and every start of the same key run one after another. Take
        several in a fixed order (the domain's: a person's key before their card's)."""
        tx.lock(f"{process}:{business_key}")

    def context(
        self,
        tx: Tx,
        row: Any,
        event: str,
        data: Mapping[str, Any],
        actor: str,
        now: datetime,
        *,
        variables: dict[str, Any] | None = None,
    ) -> TransitionContext:
        """What a guard or an action sees of ``event`` fired on a loaded instance row in ``tx``
        (by ``actor`` at ``now``): the row's variables (a copy, unless ``variables`` gives the
        ones to use) and the event's data; other instances are found in the same transaction.
        The one place a firing's context is built: the engine's, the batch's, guards judged
        ahead."""
        definition = self.loaded(row.process, row.definition_version)
        return TransitionContext(
            row.id,
            row.process,
            row.business_key,
            row.state,
            event,
            dict(row.variables or {}) if variables is None else variables,
            data,
            actor,
            now,
            finder=lambda process, key: self.find(tx, process, key),
            events=definition.events_from(row.state) if definition else frozenset(),
            locker=lambda process, key: self.lock_key(tx, process, key),
        )

    def load(self, tx: Tx, instance_id: int) -> Any:
        """The instance row (id, process, definition_version, business_key, state, version,
        variables) inside a transaction; ``InstanceNotFound`` if there is none."""
        row = tx.one(self.sql.select_instance, {"iid": instance_id})
        if row is None:
            raise InstanceNotFound(instance_id)
        return row
