"""What a decision page shows beside a task's form: the facts the decision depends on, the
instances a reference field may name, what each choice does, why the task exists, the
completions a check refused, and the person's other records.

Everything is read from the definition (the outcome events, their target states with the tasks,
timers and notices those bring) and from the database (the instance's history, the person's other
instances by their exact business keys), never from per-task templates: a new task type in a
definition file gets the same page. An outcome is irreversible when its target state is final;
the inbox asks for a confirmation before completing with one (``needs_confirmation``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine as SqlEngine
from werkzeug.datastructures import MultiDict

from engine.definition import Label, ProcessDefinition
from engine.runtime import Engine
from engine.specs import TaskSpec
from engine.state_entries import enters, entries
from engine.tasks import REFUSED
from web import i18n
from web.pages import search_queries as sq
from web.staff import Staff
from workflows.regions import Regions


@dataclass(frozen=True)
class Choice:
    """One outcome of a task: the event and what completing with it does."""

    event: str
    label: Label
    target: str
    target_label: Label
    opens_task: Label | None
    timers: tuple[Label, ...]
    notices: int
    """How many notices the event sends (to the holder, the payer...)."""
    irreversible: bool


def choices(definition: ProcessDefinition, events: Sequence[str]) -> list[Choice]:
    """The task's outcomes, each with its effects as the definition declares them."""
    found = []
    for name in events:
        event = definition.events[name]
        target = definition.states[event.target]
        found.append(
            Choice(
                event=name,
                label=event.label,
                target=event.target,
                target_label=target.label,
                opens_task=target.task.label if target.task else None,
                timers=tuple(
                    definition.events[t.event].label
                    for t in target.timers
                    if t.event in definition.events
                ),
                notices=len(event.notices),
                irreversible=target.final,
            )
        )
    return found


def needs_confirmation(definition: ProcessDefinition, outcome: str | None) -> bool:
    """Whether completing with ``outcome`` ends the instance (a final target state)."""
    event = definition.events.get(outcome or "")
    return bool(event and definition.states[event.target].final)


def why(history: Sequence[Mapping[str, Any]], task: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The history row by which the instance entered the task's state (the latest move into it
    at or before the task was created; staying in the state, a reminder or a team action, did
    not create the task), named by the task's state: a migration enters no state, so a task it
    kept or recreated under a renamed state names the event that entered the state under its
    old name (``engine.state_entries``). None when the history does not hold it."""
    entered = None
    for row, entry in entries(history):
        if row["to_state"] != task["state"] or not enters(entry):
            continue
        if task["created_at"] is None or entry["occurred_at"] <= task["created_at"]:
            entered = {**entry, "to_state": row["to_state"]}
    return entered


def refusals(history: Sequence[Mapping[str, Any]], task_id: int) -> list[Mapping[str, Any]]:
    """The completions of ``task_id`` a check refused, oldest first, with their reasons."""
    return [r for r in history if r["event"] == REFUSED and r["task_id"] == task_id]


def other_records(
    db: SqlEngine,
    regions: Regions,
    user: Staff,
    instance: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The person's other instances (their record, cards, years, reviews) the user may see, by
    the exact business keys an ID number's records have; none when the instance names nobody."""
    number = str((instance.get("variables") or {}).get("id_number") or "")
    if not number:
        return []
    with db.connect() as conn:
        rows = sq.by_keys(conn, sq.keys_of_person(regions, number))
    return [
        r
        for r in rows
        if r["id"] != instance["id"] and sq.may_see(user, r["process"], r["variables"] or {})
    ]


def with_options(engine: Engine, spec: TaskSpec | None, variables: Any) -> TaskSpec | None:
    """The task with its form's options resolved for the instance (a field declared
    ``options: {from: ...}`` offers the instance's own, as the declared reduction categories)."""
    if spec is None:
        return None
    return replace(spec, form=engine.with_options(spec.form, variables or {}))


def posted(form: MultiDict[str, str], leave: Collection[str]) -> dict[str, Any]:
    """A posted form as the engine takes it: one value per field, or the list of them where a
    field was posted more than once (the boxes ticked of a ``choices`` field)."""
    return {
        name: values[0] if len(values) == 1 else values
        for name, values in form.to_dict(flat=False).items()
        if name not in leave
    }


def _in_words(value: Any, lang: str) -> Any:
    """A value with ``zh`` and ``en`` (or a list of such) in ``lang``; anything else as it is."""
    if isinstance(value, list | tuple):
        return [_in_words(v, lang) for v in value]
    zh, en = getattr(value, "zh", None), getattr(value, "en", None)
    if isinstance(zh, str) and isinstance(en, str):
        return en if lang == "en" else zh
    return value


def task_facts(
    spec: Any, variables: Mapping[str, Any], registry: Any = None
) -> list[tuple[Any, Any]]:
    """The facts the task's decision depends on (``facts:`` in its definition), with their values
    from the instance's variables (dotted paths); a missing one is None. A value whose words the
    domain owns (``Registry.add_value_words``: a reduction category's label) shows in them."""
    found = []
    # a fact holding a value of one of the form's choices is shown as that choice's words
    choices = (
        {value: label for field in spec.form for value, label in field.options} if spec else {}
    )
    for fact in spec.facts if spec else ():
        value: Any = variables
        for part in fact.path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value in choices:
            value = choices[value].get(i18n.current_lang())
        elif registry is not None and value is not None:
            words = registry.value_words(fact.path, variables, value)
            value = _in_words(words, i18n.current_lang())
        found.append((fact.label, value))
    return found


def reference_choices(
    engine: Engine, instance_id: int, spec: Any
) -> dict[str, list[dict[str, Any]]]:
    """For each ``reference`` field of the task's form: the instances it may name now."""
    fields = [f for f in (spec.form if spec else ()) if f.type == "reference"]
    if not fields:
        return {}

    def work(tx: Any) -> dict[str, list[dict[str, Any]]]:
        row = engine.load(tx, instance_id)
        return {
            f.name: [
                {"id": v.id, "state": v.state, "process": v.process, "variables": v.variables}
                for v in engine.reference_options(tx, row, f)
            ]
            for f in fields
        }

    return engine.read(work)
