"""An event's data, checked: the fields of an event or a task's form (types, choices, checks) and
``reference`` fields, where one instance names another (a review of two cards held at once names
the card to keep, ``definitions/card_review.yaml``). Mixed into ``Engine``.

A reference names a process, optionally a tag its target's state must carry now and a variable
whose value must be the target's business key (``business_key_from``). The definitions' references
are checked when the engine loads them; a value is checked inside the firing's transaction, so the
target's state is read as the transaction sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.errors import DataInvalid, DefinitionError
from engine.forms import clean
from engine.registry import Registry
from engine.specs import FormField, Label
from engine.transition_context import InstanceView
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.definition import ProcessDefinition
    from engine.statements import HotPath


class EventData:
    """Mixed into ``Engine``; relies on its definitions, registry and hot-path statements."""

    sql: HotPath
    registry: Registry
    _definitions: dict[tuple[str, int], ProcessDefinition]
    _latest: dict[str, ProcessDefinition]

    if TYPE_CHECKING:

        def loaded(self, key: str, version: int) -> ProcessDefinition | None: ...

    def check_references(self) -> None:
        """Every ``reference`` field names a loaded process and a tag one of its states carries."""
        for definition in self._definitions.values():
            fields = [f for e in definition.events.values() for f in e.fields] + [
                f for s in definition.states.values() if s.task for f in s.task.form
            ]
            for field in fields:
                ref = field.references
                if ref is None:
                    continue
                target = self._latest.get(ref.process)
                if target is None:
                    raise DefinitionError(
                        definition.source, f"{field.name}.references", f"no process {ref.process!r}"
                    )
                if ref.tag and not target.tagged(ref.tag):
                    raise DefinitionError(
                        definition.source,
                        f"{field.name}.references",
                        f"no state of {ref.process!r} is tagged {ref.tag!r}",
                    )

    def clean_data(
        self,
        tx: Tx,
        row: Any,
        fields: tuple[FormField, ...],
        data: Mapping[str, Any],
        where: str,
        error: Callable[[list[Any]], Exception] | None = None,
        label: Label | None = None,
    ) -> dict[str, Any]:
        """``data`` checked against ``fields`` (types, choices, references) and normalised.

        Raises:
            DataInvalid (or what ``error`` builds): naming each field that failed, and the event
                by ``label`` (its words; ``where`` is its internal name).
        """
        variables = row.variables or {}
        fields = self.with_options(fields, variables)

        def resolve(field: FormField, target_id: int) -> bool:
            ref = field.references
            target = tx.one(self.sql.select_instance, {"iid": target_id})
            if ref is None or target is None or target.process != ref.process:
                return False
            if ref.business_key_from and target.business_key != variables.get(
                ref.business_key_from
            ):
                return False
            if ref.tag is None:
                return True
            definition = self.loaded(target.process, target.definition_version)
            spec = definition.states.get(target.state) if definition else None
            return spec is not None and ref.tag in spec.tags

        values, problems = clean(fields, data, checks=self.registry.field_checks(), resolve=resolve)
        if problems:
            raise error(problems) if error else DataInvalid(where, problems, label)
        return values

    def with_options(
        self, fields: tuple[FormField, ...], variables: Mapping[str, Any]
    ) -> tuple[FormField, ...]:
        """``fields`` with the options of those declared ``options: {from: name}`` resolved for
        an instance with ``variables`` (what its form offers, and all it accepts)."""
        return tuple(
            replace(f, options=self.registry.options_of(f.options_from, variables))
            if f.options_from is not None
            else f
            for f in fields
        )

    def reference_options(self, tx: Tx, row: Any, field: FormField) -> list[InstanceView]:
        """The instances a ``reference`` field of ``row``'s task may name now."""
        ref = field.references
        if ref is None or not ref.business_key_from:
            return []
        key = (row.variables or {}).get(ref.business_key_from)
        if key is None:
            return []
        found = self.find(tx, ref.process, str(key))
        return [v for v in found if ref.tag is None or ref.tag in v.tags]

    def find(self, tx: Tx, process: str, business_key: str) -> list[InstanceView]:
        """Instances of ``process`` with ``business_key`` inside ``tx``, oldest first, each seen
        under its own version (one deployed by another process is loaded first)."""
        return [
            view_of(row, row.state, self.loaded(row.process, row.definition_version))
            for row in tx.all(self.sql.select_family, {"process": process, "bkey": business_key})
        ]


def view_of(row: Any, state: str, definition: ProcessDefinition | None) -> InstanceView:
    """The instance ``row`` as a guard sees it, in ``state`` under ``definition`` (its own
    version's, or None when it is not loaded: no tags, label or events)."""
    spec = definition.states.get(state) if definition else None
    return InstanceView(
        row.id,
        row.process,
        state,
        row.business_key,
        row.variables or {},
        spec.tags if spec else frozenset(),
        spec.label if spec else None,
        definition.events_from(state) if definition else frozenset(),
    )
