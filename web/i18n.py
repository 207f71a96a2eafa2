"""The pages' language: Chinese by default, English on request; the words pages use beside labels.

``?lang=en|zh`` on any page switches the language; it is kept in the session and in a long-lived
cookie, so it survives logging out. The JSON API has no language to pick: its answers carry both
(``message_zh``, ``message_en``), and its requests skip the switch. Process words (states,
events, tasks, form fields) come from the definitions' own ``Label``s; the words of the pages
themselves are the data module ``web.words``. This module picks the language and turns words,
labels, times and durations into text.
"""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g, request, session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from engine import interventions
from engine.definition import Label, ProcessDefinition
from web.staff import ID_LIKE
from web.words import GROUPS, WORDS
from workflows.identity import mask_id_number
from workflows.payment_words import channel_name

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
COOKIE = "shebao_lang"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def regions() -> dict[str, Label]:
    """Every region the service serves, with its name (from the policy files)."""
    from web.extensions import domain_of

    return {r.key: Label(r.name.zh, r.name.en) for r in domain_of().regions}


def current_lang() -> str:
    """The language of this request: ``?lang=``, else the session, else the cookie, else Chinese."""
    if "lang" in g:
        return str(g.lang)
    return DEFAULT_LANG


class _Counting(string.Formatter):
    """``str.format`` that also reads ``{count:one|many}``: ``one`` for a count of 1."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if "|" in format_spec:
            one, many = format_spec.split("|", 1)
            return one if value == 1 else many
        return super().format_field(value, format_spec)


_COUNTING = _Counting()


class CountedWords(str):
    """A word that says a count (``sends {count} {count:notice|notices}``): its ``format``
    picks the singular or the plural, so a template formats it as any other word."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        return _COUNTING.format(str(self), *args, **kwargs)


def t(key: str) -> str:
    """A page word in the current language (the key itself when unknown)."""
    label = WORDS.get(key)
    if not label:
        return key
    text = label.get(current_lang())
    return CountedWords(text) if "|" in text else text


def group_label(group: str) -> str:
    label = GROUPS.get(group)
    return label.get(current_lang()) if label else group


def scope_label(scope: str | None) -> str:
    """A scope (a bank key or a region) in words."""
    from web.extensions import domain_of

    if scope is None:
        return WORDS["all"].get(current_lang())
    known = domain_of().regions
    region = known.find(scope)
    if region is not None:
        return region.name.zh if current_lang() == "zh" else region.name.en
    bank = known.bank_label(scope)
    if bank is not None:
        return bank.zh if current_lang() == "zh" else bank.en
    return scope


def policy_label(policy_id: str | None, year: int | None = None) -> str:
    """A policy year in words: its region's name and the year (``佛山市 2022年度``, ``Foshan
    2022``), not its key; ``year`` (or the key itself) when the service does not know it."""
    from web.extensions import domain_of

    if not policy_id:
        return str(year) if year else "-"
    policy = domain_of().regions.policy(str(policy_id))
    if policy is None:
        return str(year) if year else str(policy_id)
    if current_lang() == "zh":
        return f"{policy.region.name.zh} {policy.year}年度"
    return f"{policy.region.name.en} {policy.year}"


def fact_value(value: Any) -> str:
    """A task fact in words: yes/no, lists joined, times local, ``-`` for none."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, list | tuple):
        return (
            "、".join(str(v) for v in value)
            if current_lang() == "zh"
            else ", ".join(map(str, value))
        )
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            return local_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def local_time(value: datetime | None, with_time: bool = True) -> str:
    """An aware time shown in China Standard Time (``-`` for none)."""
    if value is None:
        return "-"
    local = value.astimezone(LOCAL_TZ)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def message(zh: str, en: str) -> str:
    """Pick one of two messages (an error's ``message_zh``/``message_en``) by language."""
    return en if current_lang() == "en" else zh


def _pick_language() -> None:
    if request.path.startswith("/api/"):
        return  # JSON answers carry both languages (message_zh, message_en) and no page words
    asked = request.args.get("lang")
    if asked in LANGS:
        session["lang"] = asked
        g.lang = asked
        g.lang_changed = True
        return
    remembered = session.get("lang") or request.cookies.get(COOKIE)
    g.lang = remembered if remembered in LANGS else DEFAULT_LANG


def _remember_language(response: Response) -> Response:
    if g.get("lang_changed"):
        response.set_cookie(COOKIE, g.lang, max_age=3600 * 24 * 365, samesite="Lax", httponly=True)
    return response


def language_back() -> str:
    """Where the language links lead back to: a page a GET serves, never with an ID number.

    A GET page is itself (its query kept, but for ``lang``); a page answered to a POST (a
    refused form, a confirmation at ``/inbox/20/complete``) leads to the nearest path above it a
    GET serves (``/inbox/20``). An ID number in the query drops the query, in the path the page."""
    if request.method in ("GET", "HEAD"):
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
        back = request.path + (f"?{urlencode(args)}" if args else "")
        if not ID_LIKE.search(unquote(back)):
            return back
    path = request.path
    while path and path != "/":
        if _served_by_get(path) and not ID_LIKE.search(unquote(path)):
            return path
        path = path.rstrip("/").rsplit("/", 1)[0] or "/"
    return "/"


def _served_by_get(path: str) -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:  # ``/inbox`` for ``/inbox/``: the redirect is served by a GET too
        return True
    except HTTPException:
        return False
    return True


def _template_globals() -> dict[str, Any]:
    return {
        "t": t,
        "lang": current_lang(),
        "group_label": group_label,
        "scope_label": scope_label,
        "policy_label": policy_label,
        "notice_kind_label": notice_kind_label,
        "local_time": local_time,
        "state_label": state_label,
        "event_label": event_label,
        "task_label": task_label,
        "mask_id": mask_id_number,
        "fact_value": fact_value,
        "actor_label": actor_label,
        "task_status_label": task_status_label,
        "channel_label": channel_label,
        "security_kind_label": security_kind_label,
        "message": message,
        "language_back": language_back,
    }


def init_app(app: Flask) -> None:
    """Pick the language before every request and give templates the helpers."""
    app.before_request(_pick_language)
    app.after_request(_remember_language)
    app.context_processor(_template_globals)
    app.add_template_filter(duration_text, "duration")


def state_label(definition: ProcessDefinition, state: str | None) -> str:
    """A state of ``definition`` in words, the engine's reserved state of an instance a
    supervisor cancelled included (the name itself when neither knows it)."""
    return interventions.state_label(definition, state, current_lang())


def event_label(definition: ProcessDefinition, event: str) -> str:
    if event == "start":
        return WORDS["start"].get(current_lang())
    spec = definition.events.get(event)
    if spec:
        return spec.label.get(current_lang())
    # the engine's own history events (a refused completion, a team or supervisor action)
    word = WORDS.get(f"history_event_{event}")
    return word.get(current_lang()) if word else event


def task_label(definition: ProcessDefinition, state: str, name: str) -> str:
    spec = definition.states.get(state)
    if spec is None or spec.task is None:
        return name
    return spec.task.label.get(current_lang())


# -- issue 18: words for what pages showed raw (statuses, actors, security kinds, durations) ------


def _word_or(key: str, fallback: str) -> str:
    """The word for ``key`` if there is one (without asking ``WORDS`` for a missing key)."""
    return WORDS[key].get(current_lang()) if key in WORDS else fallback


def task_status_label(status: str | None) -> str:
    """A task's status (open, claimed, completed, cancelled) in words."""
    return "-" if status is None else _word_or(f"task_status_{status}", status)


def channel_label(channel: str | None) -> str:
    """A channel (12333, counter, wechat, ...) in words, the domain's (``CHANNELS``); an unknown
    one as it is."""
    if not channel:
        return "-"
    words = channel_name(channel)
    return message(words.zh, words.en)


def actor_label(actor: str | None) -> str:
    """Who did something: a part of the service or a channel in words; a username as it is (a
    supervisor's action, recorded as ``staff:<username>``, by the username)."""
    if not actor:
        return "-"
    if actor.startswith("staff:"):
        return actor.split(":", 1)[1] or "-"
    if actor.startswith("channel:"):
        return t("actor_channel").format(channel=channel_label(actor.split(":", 1)[1]))
    return _word_or(f"actor_{actor}", actor)


def notice_kind_label(kind: str) -> str:
    """What a notice says, in words (``card_ready``: 制卡完成待领取); the kind if unknown."""
    return _word_or(f"notice_kind_{kind}", kind)


def security_kind_label(kind: str) -> str:
    """A kind of security event (``web.security_log.KINDS``) in words."""
    return _word_or(f"security_kind_{kind}", kind)


_DURATION_UNITS = (
    ("years", r"(\d+)Y"),
    ("months", r"(\d+)M"),
    ("weeks", r"(\d+)W"),
    ("days", r"(\d+)D"),
)
_TIME_UNITS = (("hours", r"(\d+)H"), ("minutes", r"(\d+)M"), ("seconds", r"(\d+)S"))


def _unit(unit: str, n: int) -> str:
    words = t(f"duration_{unit}").format(n=n)
    return words.removesuffix("s") if n == 1 and current_lang() == "en" else words


def duration_text(value: Any) -> str:
    """An ISO 8601 duration (``P30D``, ``PT1H``, ``P1Y2M``) in words: "30 天", "30 days".

    A ``timedelta`` is shown in days (and hours); anything else is returned as it is.
    """
    import re
    from datetime import timedelta

    if isinstance(value, timedelta):
        days, seconds = value.days, value.seconds
        parts = [_unit("days", days)] if days else []
        if seconds >= 3600 or not parts:
            parts.append(_unit("hours", seconds // 3600))
        return (" " if current_lang() == "en" else "").join(parts)
    text = str(value or "")
    match = re.fullmatch(r"P(?!$)([0-9YMWD]*)(?:T([0-9HMS]+))?", text)
    if not match:
        return text
    parts = []
    for (unit, pattern), part in [
        *((u, match.group(1) or "") for u in _DURATION_UNITS),
        *((u, match.group(2) or "") for u in _TIME_UNITS),
    ]:
        found = re.search(pattern, part)
        if found:
            parts.append(_unit(unit, int(found.group(1))))
    return (" " if current_lang() == "en" else "").join(parts) or text
