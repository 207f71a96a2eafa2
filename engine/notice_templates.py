"""Notice templates: the ``{name}`` placeholders of a notice's texts, checked and shown.

Owns the template language of ``notices:`` texts (in Chinese and English): parsing a text into
literal pieces and placeholders, finding the placeholders a definition cannot fill (checked when
it is loaded) and showing a value in a text's language (when the event fires). Writing the
notices is ``engine.notices``'s job.

A placeholder names one of:

- ``{variables.path}``: an instance variable (after the event's actions ran);
- ``{field}``: a field of the event's data (its ``fields:``, or the form of a task it ends);
- ``{fact}``: a fact the domain registers (``Registry.add_fact``), computed from the variables,
  the data and the time; a value with ``zh`` and ``en`` shows in each text's own language.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from string import Formatter
from typing import Any

VARIABLES = "variables"
MISSING = "—"
"""What a placeholder shows when its value is missing (the notice is written all the same)."""
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


@dataclass(frozen=True)
class Template:
    """A parsed text: literal pieces, each followed by a placeholder (or None at the end)."""

    parts: tuple[tuple[str, str | None], ...]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name in self.parts if name is not None))


def parse_template(text: str) -> Template:
    """The placeholders of ``text`` (``{{`` and ``}}`` are literal braces).

    Raises:
        ValueError: an unmatched brace, a format spec or conversion (``{x:>3}``, ``{x!r}``), or a
            placeholder that is neither a snake_case name nor ``variables.<dotted path>``.
    """
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in Formatter().parse(text):
        if name is None:
            parts.append((literal, None))
            continue
        shown = "{" + name + "}"
        if spec or conversion:
            raise ValueError(f"placeholder {shown} may not carry a format or conversion")
        if not _NAME.match(name) and not (
            name.startswith(VARIABLES + ".") and _PATH.match(name[len(VARIABLES) + 1 :])
        ):
            raise ValueError(
                f"placeholder {shown}: expected a name or variables.<dotted path>"
                if name
                else "an empty placeholder {}"
            )
        parts.append((literal, name))
    return Template(tuple(parts))


def unknown_placeholders(
    template: Template, fields: Collection[str], has_fact: Any | None
) -> list[str]:
    """The placeholders of ``template`` that name no variable path, no field in ``fields`` and (if
    ``has_fact`` is given) no registered fact."""
    unknown = []
    for name in template.placeholders:
        if name.startswith(VARIABLES + ".") or name in fields:
            continue
        if has_fact is not None and not has_fact(name):
            unknown.append(name)
    return unknown


def lookup(values: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in nested mappings; None when any step is missing."""
    value: Any = values
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def show(value: Any, lang: str) -> str:
    """A value as a text in ``lang`` shows it."""
    if value is None or value == "":
        return MISSING
    zh, en = getattr(value, "zh", None), getattr(value, "en", None)
    if isinstance(zh, str) and isinstance(en, str):
        return en if lang == "en" else zh
    if isinstance(value, bool):
        return ("yes" if value else "no") if lang == "en" else ("是" if value else "否")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


__all__ = [
    "MISSING",
    "VARIABLES",
    "Template",
    "lookup",
    "parse_template",
    "show",
    "unknown_placeholders",
]
