"""A user task's form (``form:``, an event's ``fields:``) and facts (``facts:``) as written in a
definition file, checked and built into ``FormField`` and ``Fact`` specs."""

from __future__ import annotations

import re
from typing import Any

from engine.definition_reader import Reader
from engine.forms import FIELD_TYPES
from engine.specs import Fact, FormField, Label, Reference


def _build_options(reader: Reader, value: Any, key: str) -> tuple[tuple[str, Label], ...]:
    if not isinstance(value, list):
        raise reader.fail(key, "expected a list of {value, label}")
    options = []
    for i, item in enumerate(value):
        data = reader.mapping(item, f"{key}[{i}]")
        reader.only_keys(data, f"{key}[{i}]", ("value", "label"))
        options.append(
            (
                reader.name(data.get("value"), f"{key}[{i}].value"),
                reader.label(data.get("label"), f"{key}[{i}].label"),
            )
        )
    return tuple(options)


def _build_reference(reader: Reader, value: Any, key: str) -> Reference:
    data = reader.mapping(value, key)
    reader.only_keys(data, key, ("process", "tag", "business_key_from"))
    return Reference(
        process=reader.name(data.get("process"), f"{key}.process"),
        tag=reader.name(data["tag"], f"{key}.tag") if "tag" in data else None,
        business_key_from=(
            reader.name(data["business_key_from"], f"{key}.business_key_from")
            if "business_key_from" in data
            else None
        ),
    )


def build_form(reader: Reader, value: Any, key: str) -> tuple[FormField, ...]:
    if not isinstance(value, list):
        raise reader.fail(key, "expected a list of fields")
    fields = []
    for i, item in enumerate(value):
        item_key = f"{key}[{i}]"
        if isinstance(item, str):
            name = reader.name(item, item_key)
            fields.append(FormField(name=name, label=Label(zh=name, en=name)))
            continue
        data = reader.mapping(item, item_key)
        reader.only_keys(
            data, item_key, ("name", "label", "type", "required", "options", "references")
        )
        name = reader.name(data.get("name"), f"{item_key}.name")
        label = reader.label(data["label"], f"{item_key}.label") if "label" in data else None
        kind = str(data.get("type", "text"))
        if kind not in FIELD_TYPES:
            raise reader.fail(f"{item_key}.type", f"expected one of {', '.join(FIELD_TYPES)}")
        options = _build_options(reader, data.get("options", []), f"{item_key}.options")
        if (kind == "choice") != bool(options):
            raise reader.fail(f"{item_key}.options", "a choice field, and only it, lists options")
        references = None
        if (kind == "reference") != ("references" in data):
            raise reader.fail(f"{item_key}.references", "a reference field, and only it, says what")
        if "references" in data:
            references = _build_reference(reader, data["references"], f"{item_key}.references")
        fields.append(
            FormField(
                name=name,
                label=label or Label(zh=name, en=name),
                type=kind,
                required=bool(data.get("required", True)),
                options=options,
                references=references,
            )
        )
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise reader.fail(key, f"a field is listed twice: {names}")
    return tuple(fields)


def build_facts(reader: Reader, value: Any, key: str) -> tuple[Fact, ...]:
    if not isinstance(value, list):
        raise reader.fail(key, "expected a list of {path, label}")
    facts = []
    for i, item in enumerate(value):
        data = reader.mapping(item, f"{key}[{i}]")
        reader.only_keys(data, f"{key}[{i}]", ("path", "label"))
        path = data.get("path")
        if not isinstance(path, str) or not re.match(
            r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$", path
        ):
            raise reader.fail(f"{key}[{i}].path", f"expected a dotted variable path, got {path!r}")
        facts.append(Fact(path=path, label=reader.label(data.get("label"), f"{key}[{i}].label")))
    return tuple(facts)
