"""Every staff page of the app, found from its url_map, and a checker of a page's visible words.

Shared by the translation test (``tests/web/test_translations.py``, Flask test client) and the
accessibility test (``tests/browser/test_accessibility.py``, Chromium). Pages are the GET routes of
every blueprint but the JSON API, health checks and static files (and no SVG or other download); a
route's arguments are filled with real ids of a seeded demo by their name (``SAMPLERS``). A page
whose argument has no sampler fails the tests, so that a new page cannot go unchecked.

The checker (``untranslated``) reads a page as a user does: the text of the document, without
scripts and styles, plus the words of ``title``, ``aria-label``, ``placeholder`` and ``alt``
attributes and of button values. An element marked ``translate="no"`` holds data (usernames,
business keys, error messages of other systems) and is skipped, as is one whose ``lang`` is not
the page's (the language switch names each language in its own words).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from lxml import html as lxml_html
from sqlalchemy import select
from sqlalchemy.engine import Engine as SqlEngine

from engine.models import Incident, Instance, Task

NOT_PAGES_BLUEPRINTS = ("api", "health", "static")
"""Blueprints that are not staff pages: the JSON API, health checks and metrics, static files.
Any other blueprint's GET routes are pages (a new blueprint is checked without a change here)."""
NOT_PAGES = {"auth.language", "auth.logout", "auth.home", "account.session_status"}
"""GET routes that only redirect, or answer a page's script in JSON."""
PER_STATE = 1
"""Sample instances and tasks per (process, state): enough to see every state's page once."""


@dataclass(frozen=True)
class PageUrl:
    endpoint: str
    url: str


def page_rules(app: Flask) -> list[Any]:
    """The url_map rules that are staff pages."""
    rules = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".", 1)[0]
        if blueprint in NOT_PAGES_BLUEPRINTS or rule.endpoint in NOT_PAGES:
            continue
        if "GET" not in (rule.methods or set()):
            continue
        if re.search(r"\.(svg|png|csv|json|xml|bpmn|pdf|zip)$", rule.rule):
            continue  # downloads, not pages
        rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


def _instances(db: SqlEngine, process: str | None = None) -> list[int]:
    """One instance per (process, state), oldest first."""
    query = select(Instance.id, Instance.process, Instance.state).order_by(Instance.id)
    if process:
        query = query.where(Instance.process == process)
    seen: dict[tuple[str, str], list[int]] = {}
    with db.connect() as conn:
        for row in conn.execute(query):
            ids = seen.setdefault((row.process, row.state), [])
            if len(ids) < PER_STATE:
                ids.append(int(row.id))
    return [i for ids in seen.values() for i in ids]


def _tasks(db: SqlEngine) -> list[int]:
    """One task per (process, task name, status)."""
    seen: dict[tuple[str, str, str], int] = {}
    query = select(Task.id, Task.process, Task.name, Task.status).order_by(Task.id)
    with db.connect() as conn:
        for row in conn.execute(query):
            seen.setdefault((row.process, row.name, row.status), int(row.id))
    return list(seen.values())


def _incidents(db: SqlEngine) -> list[int]:
    with db.connect() as conn:
        return [int(i) for i in conn.execute(select(Incident.id).limit(2)).scalars()]


def _search_tokens(app: Flask) -> list[dict[str, Any]]:
    """A kept search (a name) for every live login session: each client that logged in before
    the pages were listed opens its own results page; another's token is a 404 page."""
    from sqlalchemy import insert

    from web.models import SearchQuery, StaffSession

    kept, live = SearchQuery.__table__, StaffSession.__table__
    db = _engine_db(app)
    with db.begin() as conn:
        ids = list(conn.execute(select(live.c.id).where(live.c.revoked_at.is_(None))).scalars())
        now = conn.execute(select(live.c.created_at).order_by(live.c.id.desc())).scalar()
        taken = set(conn.execute(select(kept.c.token)).scalars())
        for session_id in ids:
            if f"sample-{session_id}" in taken:
                continue
            conn.execute(
                insert(kept).values(
                    token=f"sample-{session_id}", session_id=session_id, query="张", created_at=now
                )
            )
    return [{"token": f"sample-{i}"} for i in ids] or [{"token": "sample-none"}]


Sampler = Callable[[Flask], list[dict[str, Any]]]


def _engine_db(app: Flask) -> SqlEngine:
    from web.app import engine_of

    return engine_of(app).db


def _process_keys(app: Flask) -> list[dict[str, Any]]:
    from web.app import engine_of

    return [{"key": key} for key in sorted(engine_of(app).processes)]


def _process_states(app: Flask) -> list[dict[str, Any]]:
    from web.app import engine_of

    engine = engine_of(app)
    return [
        {"key": key, "state": state}
        for key, definition in sorted(engine.processes.items())
        for state in definition.states
    ]


SAMPLERS: dict[frozenset[str], Sampler] = {
    frozenset(): lambda app: [{}],
    frozenset({"task_id"}): lambda app: [{"task_id": i} for i in _tasks(_engine_db(app))],
    frozenset({"instance_id"}): lambda app: [
        {"instance_id": i} for i in _instances(_engine_db(app))
    ],
    frozenset({"person_id"}): lambda app: [
        {"person_id": i} for i in _instances(_engine_db(app), "person")
    ],
    frozenset({"incident_id"}): lambda app: [
        {"incident_id": i} for i in _incidents(_engine_db(app))
    ],
    frozenset({"key"}): _process_keys,
    frozenset({"token"}): _search_tokens,
    frozenset({"key", "state"}): _process_states,
}
"""Values for a route's arguments, by the set of their names."""


def page_urls(app: Flask) -> list[PageUrl]:
    """Every staff page with real ids; raises ``LookupError`` for a route nobody can fill."""
    urls: list[PageUrl] = []
    with app.test_request_context():
        from flask import url_for

        for rule in page_rules(app):
            names = frozenset(rule.arguments)
            sampler = SAMPLERS.get(names)
            if sampler is None:
                raise LookupError(
                    f"{rule.endpoint} ({rule.rule}): no sample values for {sorted(names)}; "
                    "add a sampler to tests/staff_pages.py SAMPLERS"
                )
            for values in sampler(app):
                urls.append(PageUrl(rule.endpoint, url_for(rule.endpoint, **values)))
    return urls


# -- what a user reads ----------------------------------------------------------------------------

READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
SKIPPED_TAGS = {"script", "style", "noscript", "template"}


def _texts(element: Any, lang: str) -> Iterator[str]:
    tag = element.tag if isinstance(element.tag, str) else ""
    tag = tag.rsplit("}", 1)[-1].lower()
    other_language = element.get("lang") not in (None, lang)
    if tag in SKIPPED_TAGS or element.get("translate") == "no" or other_language:
        if element.tail:
            yield element.tail
        return
    for name in READ_ATTRIBUTES:
        if element.get(name):
            yield element.get(name)
    if tag == "input" and element.get("type") in ("submit", "button") and element.get("value"):
        yield element.get("value")
    if element.text and isinstance(element.tag, str):
        yield element.text
    for child in element:
        yield from _texts(child, lang)
    if element.tail:
        yield element.tail


def visible_text(page: str) -> list[str]:
    """The pieces of text of an HTML page a user reads (see the module docstring)."""
    document = lxml_html.document_fromstring(page)
    lang = document.get("lang")
    return [" ".join(piece.split()) for piece in _texts(document, lang) if piece.strip()]


ISO_DURATION = re.compile(
    r"(?<![A-Za-z0-9])P(?:\d+[YMWD])*(?:T(?:\d+(?:\.\d+)?[HMS])+)?(?![A-Za-z0-9])"
)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
FULL_WIDTH = re.compile(r"[\u3000-\u303f\uff00-\uffef]")
"""Chinese (full-width) punctuation: ，：；（）、。【】 and the ideographic space."""
ASCII_COLON_AFTER_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]\s?:")
"""A Chinese label closed by an ASCII colon (``着色依据:``): Chinese pages use ``：``."""
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
MASKED_ID = re.compile(r"[0-9*]{17}[0-9Xx*]")
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'’-]*")
ALLOWED_IN_ZH = {
    # abbreviations and proper names staff read as they are
    "ICBC", "BOC", "CCB", "ABC", "ID", "API", "SVG", "TOTP", "BPMN", "URL", "CSV", "PDF",
    "Graphviz", "shebao", "OK", "PostgreSQL", "SQLite", "IP",
    # the language switch names the other language in its own words
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    problem: str
    text: str

    def __str__(self) -> str:
        return f"{self.problem}: {self.text!r}"


def untranslated(
    texts: Iterable[str],
    lang: str,
    *,
    raw_names: Iterable[str] = (),
    allowed: Iterable[str] = (),
) -> list[Finding]:
    """What a page in ``lang`` shows that is not in that language.

    Both languages: ISO 8601 durations and raw keys (``snake_case`` words: i18n keys and state,
    event or task names). English pages: Chinese words not in ``allowed`` (people's names), and
    Chinese punctuation outside Chinese words (``Complete：Activate``).
    Chinese pages also: ``raw_names`` (process names that have labels),
    any word of ASCII letters that is not in ``ALLOWED_IN_ZH`` or ``allowed`` (usernames); a word
    with a digit in it is a number (card numbers, masked ID numbers, business keys), not a word;
    and an ASCII colon closing Chinese words (``着色依据:``).
    """
    names = set(raw_names)
    ok = ALLOWED_IN_ZH | set(allowed)
    findings: list[Finding] = []
    for text in texts:
        for match in ISO_DURATION.finditer(text):
            if len(match.group()) > 1:
                findings.append(Finding("ISO 8601 duration", text))
        for match in RAW_KEY.finditer(text):
            if match.group() not in ok:
                findings.append(Finding("raw key or name", text))
        if lang != "zh":
            for match in CJK.finditer(text):
                if match.group() not in ok:
                    findings.append(Finding(f"Chinese {match.group()!r} in an English page", text))
            if FULL_WIDTH.search(CJK.sub("", text)):
                findings.append(Finding("Chinese punctuation in an English page", text))
            continue
        if ASCII_COLON_AFTER_CHINESE.search(text):
            findings.append(Finding("ASCII colon after Chinese words in a Chinese page", text))
        for match in ASCII_WORD.finditer(MASKED_ID.sub(" ", text)):
            word = match.group().strip(".'’-")
            if not word or word in ok or any(c.isdigit() for c in word):
                continue
            if word in names:
                findings.append(Finding(f"raw process name {word!r}", text))
            else:
                findings.append(Finding(f"English {word!r} in a Chinese page", text))
    unique: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        unique.setdefault((finding.problem, finding.text), finding)
    return list(unique.values())
