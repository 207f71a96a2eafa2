"""Notices: what an event tells people, written to the outbox in the event's own transaction.

Owns writing the ``wf_notice`` rows: each notice's texts in Chinese and English, their
placeholders filled (``engine.notice_templates``, which also says what a placeholder may name) and
masked (``Registry.mask_text``: a reason quoting a resident ID number is stored, listed and
delivered masked), and the recipient read from the instance's variables, whole (a channel that
needs the address gets it; one that shows it masks it). ``Engine.fire_in`` calls
``NoticeWriter.write`` after every transition whose event declares ``notices:``, so each door (the
API, a task, an import, a timer, a follow-up event) writes them, and an event that is rolled back
leaves none. Delivering them is ``engine.outbox``'s job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, Text, bindparam, cast, insert, literal_column, select
from sqlalchemy.engine import Dialect

from engine.id_lists import InIds
from engine.models import Notice
from engine.notice_templates import MISSING, VARIABLES, Template, lookup, parse_template, show
from engine.registry import Registry
from engine.specs import EventSpec, NoticeSpec
from engine.sqlexec import Prepared
from engine.statements import instances
from engine.tx import Tx

log = logging.getLogger(__name__)

NOTICES: Table = Notice.__table__  # type: ignore[assignment]


def _hashable(value: Any) -> Any:
    """A variable's value as part of a cache key (lists and mappings by their JSON text)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _stored(zh: str, en: str) -> Any:
    return zh if zh == en else {"zh": zh, "en": en}


class NoticeWriter:
    """Writes an event's notices inside the caller's transaction.

    Args:
        registry: where the facts the texts name are found.
        dialect: the database's, to compile the insert once.
    """

    def __init__(self, registry: Registry, dialect: Dialect) -> None:
        self.registry = registry
        columns = [c.name for c in NOTICES.columns if c.name != "id"]
        self._insert = Prepared(insert(NOTICES).inline(), dialect, columns)
        self._insert.fusable = True  # a firing's notices go out with its other writes (Tx)
        self._templates: dict[str, Template] = {}
        self._uses: dict[NoticeSpec, tuple[str, ...] | None] = {}
        self._batch_inserts: dict[tuple[str, ...], Prepared] = {}
        self._dialect = dialect

    def _template(self, text: str) -> Template:
        found = self._templates.get(text)
        if found is None:
            found = self._templates[text] = parse_template(text)
        return found

    def write(
        self,
        tx: Tx,
        spec: EventSpec,
        *,
        instance_id: int,
        process: str,
        variables: Mapping[str, Any],
        data: Mapping[str, Any],
        now: datetime,
    ) -> int:
        """Write the notices ``spec`` declares for one firing; the number written."""
        rows = [
            row
            for notice in spec.notices
            if (row := self.row(notice, spec, instance_id, process, variables, data, now))
        ]
        tx.many(self._insert, rows)
        return len(rows)

    def write_batch(
        self,
        tx: Tx,
        spec: EventSpec,
        process: str,
        variables_of: Mapping[int, Mapping[str, Any]],
        now: datetime,
    ) -> int:
        """Write the notices ``spec`` declares for many instances that the same event moved at
        once (the timer sweep: no event data). When every placeholder of a notice's texts is a
        fact that declared the variables it uses, its texts are rendered once per distinct value
        of those variables and written by one ``INSERT ... SELECT`` per value (the recipient read
        from the instance's variables in SQL); otherwise row by row."""
        written = 0
        for notice in spec.notices:
            uses = self._batch_uses(notice)
            if uses is None:
                rows = [
                    row
                    for iid, variables in variables_of.items()
                    if (row := self.row(notice, spec, iid, process, variables, {}, now))
                ]
                tx.many(self._insert, rows)
                written += len(rows)
                continue
            groups: dict[tuple[Any, ...], list[int]] = {}
            for iid, variables in variables_of.items():
                key = tuple(_hashable(variables.get(u)) for u in uses)
                groups.setdefault(key, []).append(iid)
            statement = self._batch_insert(notice)
            for iids in groups.values():
                texts, stored = self._render(notice, iids[0], variables_of[iids[0]], {}, now)
                written += tx.run(
                    statement,
                    {
                        "iids": iids,
                        "b_process": process,
                        "b_event": spec.name,
                        "b_kind": notice.kind,
                        "b_channel": notice.channel,
                        "b_zh": texts["zh"],
                        "b_en": texts["en"],
                        "b_data": stored,
                        "b_now": now,
                    },
                )
        return written

    def _batch_insert(self, notice: NoticeSpec) -> Prepared:
        """``INSERT INTO wf_notice ... SELECT`` over the instances of a batch with one text."""
        path = tuple(notice.to.split("."))
        if path not in self._batch_inserts:
            columns = NOTICES.c
            source = select(
                instances.c.id,
                cast(bindparam("b_process"), String),
                cast(bindparam("b_event"), String),
                cast(bindparam("b_kind"), String),
                instances.c.variables[path].as_string(),
                cast(bindparam("b_channel"), String),
                cast(bindparam("b_zh"), Text),
                cast(bindparam("b_en"), Text),
                bindparam("b_data", type_=columns.data.type),
                literal_column("'pending'"),
                literal_column("0"),
                bindparam("b_now", type_=columns.created_at.type),
            ).where(InIds(instances.c.id, "iids"))
            names = [
                "instance_id",
                "process",
                "event",
                "kind",
                "recipient",
                "channel",
                "text_zh",
                "text_en",
                "data",
                "status",
                "attempts",
                "created_at",
            ]
            self._batch_inserts[path] = Prepared(
                insert(NOTICES).from_select(names, source), self._dialect
            )
        return self._batch_inserts[path]

    def row(
        self,
        notice: NoticeSpec,
        spec: EventSpec,
        instance_id: int,
        process: str,
        variables: Mapping[str, Any],
        data: Mapping[str, Any],
        now: datetime,
        batch: dict[Any, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The outbox row of one notice. ``batch``: a cache shared by the rows of one batch
        (``write_batch``): when every placeholder of the texts is a fact that declared the
        variables it uses, the texts are rendered once per distinct value of those variables."""
        uses = self._batch_uses(notice) if batch is not None and not data else None
        if batch is not None and uses is not None:
            key = (notice.kind, spec.name, *(_hashable(variables.get(u)) for u in uses))
            rendered = batch.get(key)
            if rendered is None:
                rendered = batch[key] = self._render(notice, instance_id, variables, data, now)
        else:
            rendered = self._render(notice, instance_id, variables, data, now)
        texts, stored = rendered
        recipient = lookup(variables, notice.to)
        return {
            "instance_id": instance_id,
            "process": process,
            "event": spec.name,
            "kind": notice.kind,
            "recipient": None if recipient is None else str(recipient),
            "channel": notice.channel,
            "text_zh": texts["zh"],
            "text_en": texts["en"],
            "data": stored,
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "locked_by": None,
            "lock_expires_at": None,
            "delivered_at": None,
        }

    def _batch_uses(self, notice: NoticeSpec) -> tuple[str, ...] | None:
        """The variables the notice's texts depend on, when every placeholder is a fact that
        declared them (None: the texts must be rendered per instance)."""
        if notice not in self._uses:
            names = {
                name
                for lang in ("zh", "en")
                for name in self._template(notice.text.get(lang)).placeholders
            }
            uses: set[str] = set()
            for name in names:
                declared = self.registry.fact_uses(name) if self.registry.has_fact(name) else None
                if declared is None:
                    self._uses[notice] = None
                    break
                uses.update(declared)
            else:
                self._uses[notice] = tuple(sorted(uses))
        return self._uses[notice]

    def _render(
        self,
        notice: NoticeSpec,
        instance_id: int,
        variables: Mapping[str, Any],
        data: Mapping[str, Any],
        now: datetime,
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """The notice's texts in Chinese and English, and the values shown in them, each value
        through the registry's text mask (an ID number typed into a reason goes out masked)."""
        facts: dict[str, Any] = {}

        def value(name: str) -> Any:
            if name.startswith(VARIABLES + "."):
                return lookup(variables, name[len(VARIABLES) + 1 :])
            if name in data or not self.registry.has_fact(name):
                return data.get(name)  # a field (one left out is missing)
            if name not in facts:
                facts[name] = self._fact(name, notice, instance_id, variables, data, now)
            return facts[name]

        texts: dict[str, str] = {}
        values: dict[str, Any] = {}
        for lang in ("zh", "en"):
            pieces = []
            for literal, name in self._template(notice.text.get(lang)).parts:
                pieces.append(literal)
                if name is not None:
                    shown = self.registry.mask_text(show(value(name), lang))
                    pieces.append(shown)
                    values.setdefault(name, {})[lang] = shown
            texts[lang] = "".join(pieces)
        stored = {
            name: _stored(shown.get("zh", MISSING), shown.get("en", MISSING))
            for name, shown in values.items()
        }
        return texts, stored

    def _fact(
        self,
        name: str,
        notice: NoticeSpec,
        instance_id: int,
        variables: Mapping[str, Any],
        data: Mapping[str, Any],
        now: datetime,
    ) -> Any:
        """A fact's value; a failing fact shows as missing and is logged (a notice must never
        stop the event that causes it)."""
        try:
            return self.registry.get_fact(name)(variables, data, now)
        except Exception:  # noqa: BLE001 - see the docstring
            log.warning(
                "notice %s of instance %s: fact %r failed",
                notice.kind,
                instance_id,
                name,
                exc_info=True,
            )
            return None


__all__ = ["NoticeWriter"]
