"""What a history row changed besides the state, in the page's language: who a task went to (and
from), a follow-up date, a priority, why a check refused a completion, a supervisor's reason, what
a decision chose or wrote, and what the domain has the history show of an event whichever door it
came by (``Registry.add_history_field``: a reduction claim's category in words and its evidence,
the reason of a refusal the domain passed on).

Only the keys named here are shown, each through its own wording: a history row's ``data`` may
hold anything an event carried (form fields, payloads), and a page shows none of that raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.interventions import CANCEL_EVENT, MOVE_EVENT
from engine.specs import FormField
from web import i18n

SUPERVISOR_EVENTS = (CANCEL_EVENT, MOVE_EVENT)
_SEP = {"zh": "；", "en": "; "}
_COLON = {"zh": "：", "en": ": "}
SHOWN_ELSEWHERE = ("id_number", "amount", "datetime")
"""Field types a history note leaves out: ID numbers are personal data, and payments show on
the record's own payment lines."""


def _who(name: Any) -> str:
    return i18n.actor_label(str(name)) if name else i18n.t("unclaimed")


def _date(value: Any) -> str:
    if not value:
        return i18n.t("follow_up_none")
    try:
        return i18n.local_time(datetime.fromisoformat(str(value)), with_time=False)
    except ValueError:
        return i18n.t("follow_up_none")


def _team(data: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    if "assignee" in data:
        parts.append(
            i18n.t("note_holder").format(
                before=_who(data.get("previous")), after=_who(data["assignee"])
            )
        )
        if data.get("owner"):
            parts.append(f"{i18n.t('delegated_by')} {i18n.actor_label(str(data['owner']))}")
    elif "follow_up_at" in data:
        parts.append(
            i18n.t("note_follow_up").format(
                before=_date(data.get("previous")), after=_date(data["follow_up_at"])
            )
        )
    elif "priority" in data:
        parts.append(
            i18n.t("note_priority").format(before=data.get("previous"), after=data["priority"])
        )
    return parts


def _declared_fields(definition: Any, row: Mapping[str, Any]) -> list[FormField]:
    """The fields the row's event and, for a completed task, its form declare."""
    if not isinstance(getattr(definition, "events", None), Mapping):
        return []  # a page without the instance's definition (or jinja's Undefined)
    event = definition.events.get(row.get("event"))
    fields = list(event.fields) if event is not None else []
    state = definition.states.get(row.get("from_state"))
    if row.get("task_id") and state is not None and state.task is not None:
        fields += [f for f in state.task.form if f not in fields]
    return fields


def _options(field: FormField, row: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A choices field's options: listed, or those its source gives the row's instance now."""
    if field.options_from is None or not row.get("instance_id"):
        return field.options
    from engine import queries
    from web.extensions import engine_of

    engine = engine_of()
    instance = queries.instance(engine.db, int(row["instance_id"]))
    variables = (instance or {}).get("variables") or {}
    return engine.with_options((field,), variables)[0].options


def _history_field(definition: Any, row: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """Whether the domain has the history show the row's event's field ``name`` whichever door
    it came by (``Registry.add_history_field``), and its words if any."""
    from web.extensions import engine_of

    process = str(row.get("process") or getattr(definition, "key", ""))
    return engine_of().registry.history_field(process, str(row.get("event")), name)


def _variables(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The row's instance's variables now (what the domain's words of a value read: its
    region)."""
    from engine import queries
    from web.extensions import engine_of

    if not row.get("instance_id"):
        return {}
    instance = queries.instance(engine_of().db, int(row["instance_id"]))
    return (instance or {}).get("variables") or {}


def _in_words(value: Any) -> str:
    """A value with ``zh`` and ``en`` (or a list of such) in the page's language."""
    if isinstance(value, list | tuple):
        return ("、" if i18n.current_lang() == "zh" else ", ").join(_in_words(v) for v in value)
    zh, en = getattr(value, "zh", None), getattr(value, "en", None)
    if isinstance(zh, str) and isinstance(en, str):
        return i18n.message(zh, en)
    return str(value)


def _decision(definition: Any, row: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """What a person chose or wrote when deciding (the form's choices, a note), by the fields'
    labels: never an ID number (only its check's outcome is history) nor an undeclared key."""
    parts = []
    for field in _declared_fields(definition, row):
        value = data.get(field.name)
        if value in (None, "") or field.type in SHOWN_ELSEWHERE:
            continue
        declared, words = _history_field(definition, row, field.name)
        if field.type == "text" and not row.get("task_id") and not declared:
            continue  # an outside system's words (a bank's reason) are its data, not a decision
        label = i18n.message(field.label.zh, field.label.en)
        if words is not None:  # in the domain's words (a reduction category's label)
            value = _in_words(words(_variables(row), value))
        elif field.type == "choice":
            chosen = dict(field.options).get(str(value))
            value = i18n.message(chosen.zh, chosen.en) if chosen else value
        elif field.type == "choices":  # the values chosen, in words where the form lists them
            words = dict(_options(field, row))
            values = value if isinstance(value, list) else [value]
            shown = [
                i18n.message(w.zh, w.en) if (w := words.get(str(v))) else str(v) for v in values
            ]
            value = ("、" if i18n.current_lang() == "zh" else ", ").join(shown)
        elif field.type == "boolean":
            value = i18n.t("yes") if value else i18n.t("no")
        elif field.type == "reference":
            value = f"#{value}"
        text = str(value)
        parts.append(f"{label}{_COLON[i18n.current_lang()]}{text[:200]}")
    return parts


def history_note(row: Mapping[str, Any], definition: Any = None) -> str:
    """The row's change in words, or an empty string when it is a plain transition. With the
    instance's ``definition``, a decision's declared fields are shown by their labels too."""
    data = row.get("data")
    if not isinstance(data, Mapping) or not data:
        return ""
    lang = i18n.current_lang()
    parts = _team(data)
    if data.get("reason_zh") or data.get("reason_en"):  # a refused completion
        parts.append(i18n.message(str(data.get("reason_zh", "")), str(data.get("reason_en", ""))))
    elif isinstance(data.get("reason"), str) and row.get("event") in SUPERVISOR_EVENTS:
        parts.append(i18n.t("note_reason").format(reason=data["reason"]))
    else:
        parts += _decision(definition, row, data)
    return _SEP[lang].join(parts)
