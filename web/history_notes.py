"""What a history row changed besides the state, in the page's language: who a task went to (and
from), a follow-up date, a priority, why a check refused a completion, a supervisor's reason.

Only the keys named here are shown, each through its own wording: a history row's ``data`` may
hold anything an event carried (form fields, payloads), and a page shows none of that raw.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.interventions import CANCEL_EVENT, MOVE_EVENT
from web import i18n

SUPERVISOR_EVENTS = (CANCEL_EVENT, MOVE_EVENT)
_SEP = {"zh": "；", "en": "; "}


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


def history_note(row: Mapping[str, Any]) -> str:
    """The row's change in words, or an empty string when it is a plain transition."""
    data = row.get("data")
    if not isinstance(data, Mapping) or not data:
        return ""
    lang = i18n.current_lang()
    parts = _team(data)
    if data.get("reason_zh") or data.get("reason_en"):  # a refused completion
        parts.append(i18n.message(str(data.get("reason_zh", "")), str(data.get("reason_en", ""))))
    elif isinstance(data.get("reason"), str) and row.get("event") in SUPERVISOR_EVENTS:
        parts.append(i18n.t("note_reason").format(reason=data["reason"]))
    return _SEP[lang].join(parts)
