"""A user task's form (``form:``, an event's ``fields:``) and facts (``facts:``) as written in a
definition file, checked and built into ``FormField`` and ``Fact`` specs.

A ``choice`` or ``choices`` field lists its options, or names where each instance's come from
(``options: {from: declared_reductions}``): an option source the domain registers
(``Registry.add_options``), checked when the definitions load with the registry."""

from __future__ import annotations

from typing import Any

from engine.definition_reader import Reader
from engine.forms import FIELD_TYPES
from engine.specs import Fact, FormField, Label, Reference


def _build_options(reader: Reader, value: Any, key: str) -> tuple[tuple[str, Label], ...]:
    return tuple(
        (
            reader.name(data.get("value"), f"{item_key}.value"),
            reader.label(data.get("label"), f"{item_key}.label"),
        )
        for item_key, data in reader.records(value, key, "{value, label}", ("value", "label"))
    )


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
    fields = []
    for item_key, item in reader.listed(value, key, "fields"):
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
        raw_options = data.get("options", [])
        options_from = None
        if isinstance(raw_options, dict):
            reader.only_keys(raw_options, f"{item_key}.options", ("from",))
            options_from = reader.name(raw_options.get("from"), f"{item_key}.options.from")
            raw_options = []
        options = _build_options(reader, raw_options, f"{item_key}.options")
        if (kind in ("choice", "choices")) != bool(options or options_from):
            raise reader.fail(
                f"{item_key}.options",
                "a choice or choices field, and only it, lists options (or {from: source})",
            )
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
                options_from=options_from,
            )
        )
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise reader.fail(key, f"a field is listed twice: {names}")
    return tuple(fields)


def build_facts(reader: Reader, value: Any, key: str) -> tuple[Fact, ...]:
    return tuple(
        Fact(
            path=reader.variable_path(data.get("path"), f"{item_key}.path"),
            label=reader.label(data.get("label"), f"{item_key}.label"),
        )
        for item_key, data in reader.records(value, key, "{path, label}", ("path", "label"))
    )
