"""Our BPMN extension (namespace ``urn:shebao-workflow:bpmn``): what a definition says that BPMN 2.0
cannot, carried in ``extensionElements`` so that an exported file imports back to the same definition.

Owns the element vocabulary (``shebao:process``, ``shebao:event``, ``shebao:state``, ``shebao:task``,
``shebao:field``, ``shebao:option``, ``shebao:fact``, ``shebao:timer``, ``shebao:notice``), writing
it from specs and reading it back, and its moddle descriptor (``moddle_descriptor()``) so bpmn-js and bpmn-moddle know
every attribute. What BPMN itself says is never repeated here: names (the labels in the export's
language, the other language in ``documentation``), sources and targets (sequence flows), guards
(gateway conditions), candidate groups (``potentialOwner`` / ``camunda:candidateGroups``) and timer
values (``timeDuration`` / ``timeDate``) are read from the BPMN elements on import.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from engine.durations import Duration
from engine.specs import (
    EventSpec,
    Fact,
    FormField,
    Label,
    NoticeSpec,
    Reference,
    TaskSpec,
    TimerSpec,
)

URI = "urn:shebao-workflow:bpmn"
PREFIX = "shebao"
ET.register_namespace(PREFIX, URI)


def q(name: str) -> str:
    return f"{{{URI}}}{name}"


def _words(values: Iterable[str]) -> str:
    return " ".join(values)


def _label_attrs(label: Label) -> dict[str, str]:
    return {"labelZh": label.zh, "labelEn": label.en}


def _element(parent: ET.Element, name: str, attrs: dict[str, str]) -> ET.Element:
    return ET.SubElement(parent, q(name), {k: v for k, v in attrs.items() if v != ""})


# -- writing -----------------------------------------------------------------------------------


def write_process(
    parent: ET.Element,
    version: int,
    lang: str,
    policy: str | None,
    history_ttl: Duration | None = None,
) -> None:
    attrs = {"version": str(version), "lang": lang, "policy": policy or ""}
    if history_ttl is not None:
        attrs["historyTtl"] = history_ttl.text
    _element(parent, "process", attrs)


def write_event(parent: ET.Element, event: EventSpec) -> None:
    element = _element(
        parent,
        "event",
        {
            "name": event.name,
            **_label_attrs(event.label),
            "guards": _words(event.guards),
            "actions": _words(event.actions),
            "senders": _words(event.senders),
        },
    )
    for f in event.fields:
        write_field(element, f)
    for notice in event.notices:
        write_notice(element, notice)


def write_notice(parent: ET.Element, notice: NoticeSpec) -> None:
    """A notice the event writes to the outbox: its kind, recipient variable, texts, channel."""
    _element(
        parent,
        "notice",
        {
            "kind": notice.kind,
            "to": notice.to,
            "channel": notice.channel,
            "textZh": notice.text.zh,
            "textEn": notice.text.en,
        },
    )


def write_state(parent: ET.Element, tags: frozenset[str]) -> None:
    if tags:
        _element(parent, "state", {"tags": _words(sorted(tags))})


def write_task(parent: ET.Element, task: TaskSpec) -> None:
    element = _element(
        parent,
        "task",
        {
            "name": task.name,
            **_label_attrs(task.label),
            "scope": task.scope or "",
            "due": task.due.text if task.due else "",
            "duePolicy": task.due_policy or "",
            "events": _words(task.events),
        },
    )
    for f in task.form:
        write_field(element, f)
    for fact in task.facts:
        _element(element, "fact", {"path": fact.path, **_label_attrs(fact.label)})


def write_field(parent: ET.Element, f: FormField) -> None:
    ref = f.references
    element = _element(
        parent,
        "field",
        {
            "name": f.name,
            **_label_attrs(f.label),
            "type": f.type,
            "required": "true" if f.required else "false",
            "process": ref.process if ref else "",
            "tag": (ref.tag or "") if ref else "",
            "businessKeyFrom": (ref.business_key_from or "") if ref else "",
            "optionsFrom": f.options_from or "",
        },
    )
    for value, label in f.options:
        _element(element, "option", {"value": value, **_label_attrs(label)})


def write_timer(parent: ET.Element, timer: TimerSpec, policy: str | None, value: str) -> None:
    """The event a timer fires, and the policy value it was resolved from (so an import can tell
    an unchanged policy timer from one a modeller changed)."""
    kind = "duration" if timer.policy_duration else "date" if timer.policy else ""
    _element(
        parent,
        "timer",
        {
            "event": timer.event,
            "policyPath": timer.policy or "",
            "policyKind": kind,
            "policy": policy or "" if timer.policy else "",
            "resolved": value if timer.policy else "",
        },
    )


# -- reading -----------------------------------------------------------------------------------


def find(element: ET.Element, name: str) -> ET.Element | None:
    """The ``shebao:<name>`` element among ``element``'s ``extensionElements``."""
    return element.find(
        f"{{http://www.omg.org/spec/BPMN/20100524/MODEL}}extensionElements/{q(name)}"
    )


def find_all(element: ET.Element, name: str) -> list[ET.Element]:
    return element.findall(
        f"{{http://www.omg.org/spec/BPMN/20100524/MODEL}}extensionElements/{q(name)}"
    )


def words(element: ET.Element | None, attr: str) -> tuple[str, ...]:
    if element is None:
        return ()
    return tuple(element.get(attr, "").split())


def read_label(element: ET.Element) -> Label:
    return Label(element.get("labelZh", ""), element.get("labelEn", ""))


def read_field(element: ET.Element) -> FormField:
    process = element.get("process")
    return FormField(
        name=element.get("name", ""),
        label=read_label(element),
        type=element.get("type", "text"),
        required=element.get("required", "true") == "true",
        options=tuple((o.get("value", ""), read_label(o)) for o in element.findall(q("option"))),
        references=(
            Reference(process, element.get("tag"), element.get("businessKeyFrom"))
            if process
            else None
        ),
        options_from=element.get("optionsFrom") or None,
    )


def read_notice(element: ET.Element) -> NoticeSpec:
    return NoticeSpec(
        kind=element.get("kind", ""),
        to=element.get("to", ""),
        text=Label(element.get("textZh", ""), element.get("textEn", "")),
        channel=element.get("channel", "sms"),
    )


def read_facts(element: ET.Element) -> tuple[Fact, ...]:
    return tuple(Fact(f.get("path", ""), read_label(f)) for f in element.findall(q("fact")))


# -- the moddle descriptor ---------------------------------------------------------------------

_STRINGS = {
    "process": ("version", "lang", "policy", "historyTtl"),
    # automatic: read from files of exporter version 2 and before (a message door then)
    "event": ("name", "labelZh", "labelEn", "guards", "actions", "senders", "automatic"),
    "state": ("tags",),
    "task": ("name", "labelZh", "labelEn", "scope", "due", "duePolicy", "events"),
    "field": (
        "name",
        "labelZh",
        "labelEn",
        "type",
        "required",
        "process",
        "tag",
        "businessKeyFrom",
        "optionsFrom",
    ),
    "option": ("value", "labelZh", "labelEn"),
    "fact": ("path", "labelZh", "labelEn"),
    "timer": ("event", "policyPath", "policyKind", "policy", "resolved"),
    "notice": ("kind", "to", "channel", "textZh", "textEn"),
}
_CHILDREN = {
    "event": (("fields", "field"), ("notices", "notice")),
    "task": (("fields", "field"), ("facts", "fact")),
    "field": (("options", "option"),),
}
_ALLOWED_IN = {
    "process": ["bpmn:Process"],
    "event": ["bpmn:Process"],
    "state": ["bpmn:FlowNode"],
    "task": ["bpmn:UserTask"],
    "timer": ["bpmn:Event"],
}


def moddle_descriptor() -> dict[str, Any]:
    """The moddle package (JSON) describing this namespace, for bpmn-js and bpmn-moddle."""
    types = []
    for name, attrs in _STRINGS.items():
        properties: list[dict[str, Any]] = [
            {"name": a, "isAttr": True, "type": "String"} for a in attrs
        ]
        for prop, child in _CHILDREN.get(name, ()):
            properties.append({"name": prop, "isMany": True, "type": child.capitalize()})
        described: dict[str, Any] = {
            "name": name.capitalize(),
            "superClass": ["Element"],
            "properties": properties,
        }
        if name in _ALLOWED_IN:
            described["meta"] = {"allowedIn": _ALLOWED_IN[name]}
        types.append(described)
    return {
        "name": "shebao-workflow",
        "uri": URI,
        "prefix": PREFIX,
        "xml": {"tagAlias": "lowerCase"},
        "associations": [],
        "types": types,
    }
