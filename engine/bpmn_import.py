"""Import a BPMN file back into a definition: XML -> the YAML a ``definitions/*.yaml`` file holds.

Owns reading what ``engine.bpmn`` writes, possibly edited in a modeller (moved shapes, renamed
labels, changed timer durations, another candidate group). The BPMN decides what it can say: states
are the elements with ids ``state_<name>``, their labels the ``name`` (the export's language) and the
first ``documentation`` (the other); an event's sources and target come from the sequence flows, its
guards from the gateway conditions, whether it is ``automatic`` from the gateway ``auto_<state>`` a
state is entered through (in files of exporter version 2, from ``shebao:event automatic``), a task's
candidate group from ``potentialOwner`` or ``camunda:candidateGroups`` and its due date from
``camunda:dueDate``, a timer's duration from its ``timeDuration``. Our extension (``engine.bpmn_ext``) gives the rest: tags, task names, scopes, form
fields, facts, actions, senders, notices, which policy value a timer was (an unchanged value
stays a policy reference; a changed one becomes a literal duration), and the policy value a task's
due date names (``duePolicy``; it wins over ``camunda:dueDate``). Anything the engine cannot run is
refused with ``BpmnImportError`` naming the element: a parallel gateway, a script task, a flow that
splits without a gateway, a fixed timer date, a repeating timer.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import yaml

from engine import bpmn_ext as ext
from engine.bpmn_camunda import c as camunda_attr
from engine.bpmn_camunda import parse_due_date
from engine.bpmn_expr import parse_timer_value
from engine.bpmn_read import NAME, BpmnImportError, Door, Reader, b_tag, label_of, local
from engine.durations import parse_duration
from engine.specs import FormField, Label, NoticeSpec


class _Flowing(dict[str, Any]):
    """A mapping YAML writes on one line (labels, timers); lists of names are written so too."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flowing, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_Dumper.add_representer(
    list,
    lambda d, v: d.represent_sequence(
        "tag:yaml.org,2002:seq", v, flow_style=all(isinstance(x, str) for x in v)
    ),
)


def to_yaml(raw: dict[str, Any]) -> str:
    """The imported definition as YAML text (labels, timers and lists of names on one line)."""
    return yaml.dump(raw, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def _label_data(label: Label) -> _Flowing:
    return _Flowing(zh=label.zh, en=label.en)


def _notice_data(notice: NoticeSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": notice.kind, "to": _Flowing(variable=notice.to)}
    if notice.channel != "sms":
        data["channel"] = notice.channel
    data["text"] = {"zh": notice.text.zh, "en": notice.text.en}
    return data


def _field_data(f: FormField) -> dict[str, Any]:
    data: dict[str, Any] = {"name": f.name, "label": _label_data(f.label)}
    if f.type != "text":
        data["type"] = f.type
    if not f.required:
        data["required"] = False
    if f.options:
        data["options"] = [_Flowing(value=v, label=_label_data(lb)) for v, lb in f.options]
    if f.options_from:
        data["options"] = _Flowing({"from": f.options_from})
    if f.references:
        ref = f.references
        data["references"] = _Flowing(
            {"process": ref.process}
            | ({"tag": ref.tag} if ref.tag else {})
            | ({"business_key_from": ref.business_key_from} if ref.business_key_from else {})
        )
    return data


def _one_or_many(values: list[str] | tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


def import_bpmn(xml: bytes | str, process: str | None = None) -> dict[str, Any]:
    """The definition a BPMN document describes, as the data of a definition file.

    Args:
        xml: the document.
        process: the process key (``card``) or id (``process_card``) when the file holds several.

    Raises:
        BpmnImportError: naming the element the engine cannot run, or what is missing.
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise BpmnImportError(None, f"not an XML document: {exc}") from None
    if root.tag != b_tag("definitions"):
        raise BpmnImportError(None, "not a BPMN 2.0 document (no bpmn:definitions)")
    element = _pick(root, process)
    return _Importer(root, element).run()


def _pick(root: ET.Element, wanted: str | None) -> ET.Element:
    found = root.findall(b_tag("process"))
    if wanted:
        for candidate in found:
            if candidate.get("id") in (wanted, f"process_{wanted}"):
                return candidate
        raise BpmnImportError(wanted, "no such process in the file")
    if len(found) != 1:
        ids = ", ".join(p.get("id", "?") for p in found)
        raise BpmnImportError(None, f"{len(found)} processes ({ids}): name one with --process")
    return found[0]


class _Importer:
    def __init__(self, root: ET.Element, process: ET.Element) -> None:
        self.ident = process.get("id", "")
        self.key = (
            self.ident[len("process_") :] if self.ident.startswith("process_") else self.ident
        )
        if not NAME.match(self.key):
            raise BpmnImportError(self.ident, "a process id is process_<key>, key in snake_case")
        meta = ext.find(process, "process")
        self.version = int(meta.get("version", "1")) if meta is not None else 1
        self.lang = meta.get("lang", "zh") if meta is not None else "zh"
        self.history_ttl = meta.get("historyTtl") if meta is not None else None
        self.process = process
        messages = {m.get("id", ""): m.get("name", "") for m in root.findall(b_tag("message"))}
        self.r = Reader(process, self.lang, messages)
        self.declared = {e.get("name", ""): e for e in ext.find_all(process, "event")}

    def run(self) -> dict[str, Any]:
        states: dict[str, Any] = {}
        found: list[Door] = []
        for ident, node in self.r.nodes.items():
            if self.r.is_auto(ident):
                found += self.r.auto_doors(ident)
                continue
            state = self.r.state_of(ident)
            if state is None:
                if local(node.tag) in ("userTask", "receiveTask"):
                    raise BpmnImportError(ident, "a task is a state: give it the id state_<name>")
                continue
            if not NAME.match(state):
                raise BpmnImportError(ident, "a state's id is state_<name>, name in snake_case")
            doors = list(self.r.doors(state, node))
            found += doors
            states[state] = self.state(state, node, doors)
        return {
            "process": self.key,
            "version": self.version,
            "label": _Flowing(label_of(self.process, self.lang, self.ident)),
            "initial": _one_or_many(self.initial()),
            "states": states,
            "events": self.events(found, list(states)),
            **({"history_ttl": self.history_ttl} if self.history_ttl else {}),
        }

    def initial(self) -> list[str]:
        starts = [i for i, n in self.r.nodes.items() if local(n.tag) == "startEvent"]
        if len(starts) != 1:
            raise BpmnImportError(self.ident, f"expected one start event, found {len(starts)}")
        node = self.r.arrive(self.r.one_out(starts[0]).target)
        if self.r.state_of(node) or self.r.is_auto(node):
            return [self.r.target(self.r.one_out(starts[0]))]
        default = self.r.nodes[node].get("default")
        first, others = [], []
        for flow in self.r.out(node):
            if flow.id == default:
                first.append(self.r.target(flow))
                continue
            cond = self.r.condition(flow)
            if not cond.start_state or cond.start_state != self.r.target(flow):
                raise BpmnImportError(flow.id, 'expected start_state == "<the state it leads to>"')
            others.append(cond.start_state)
        return first + others

    def state(self, name: str, node: ET.Element, doors: list[Door]) -> dict[str, Any]:
        data: dict[str, Any] = {"label": _Flowing(label_of(node, self.lang, node.get("id", "")))}
        tags = ext.words(ext.find(node, "state"), "tags")
        if tags:
            data["tags"] = list(tags)
        if local(node.tag) == "endEvent" or (
            local(node.tag) == "userTask" and self.r.ends(node.get("id", ""))
        ):
            data["final"] = True
        if local(node.tag) == "userTask":
            data["task"] = self.task(name, node, [d.event for d in doors if d.kind == "task"])
        timers = [self.timer(d) for d in doors if d.kind == "timer"]
        if timers:
            data["timers"] = timers
        return data

    def task(self, state: str, node: ET.Element, outcomes: list[str]) -> dict[str, Any]:
        ident = node.get("id", "")
        spec = ext.find(node, "task")
        group = node.get(camunda_attr("candidateGroups"))
        owner = node.find(f"{b_tag('potentialOwner')}/{b_tag('resourceAssignmentExpression')}/*")
        group = group or (owner.text.strip() if owner is not None and owner.text else None)
        if not group or not NAME.match(group):
            raise BpmnImportError(ident, "a user task names one candidate group (snake_case)")
        declared = list(ext.words(spec, "events"))
        ordered = [e for e in declared if e in outcomes] + [
            e for e in outcomes if e not in declared
        ]
        data: dict[str, Any] = {"name": spec.get("name", state) if spec is not None else state}
        if spec is not None:
            data["label"] = _label_data(ext.read_label(spec))
        data["candidate_group"] = group
        if spec is not None and spec.get("scope"):
            data["scope"] = spec.get("scope")
        fields = (
            [ext.read_field(f) for f in spec.findall(ext.q("field"))] if spec is not None else []
        )
        if fields:
            data["form"] = [_field_data(f) for f in fields]
        facts = ext.read_facts(spec) if spec is not None else ()
        if facts:
            data["facts"] = [_Flowing(path=f.path, label=_label_data(f.label)) for f in facts]
        data["events"] = ordered
        due = node.get(camunda_attr("dueDate")) or (spec.get("due") if spec is not None else None)
        if spec is not None and spec.get("duePolicy"):  # due when the policy value says
            data["due"] = _Flowing(policy=spec.get("duePolicy"))
        elif due:
            try:
                data["due"] = parse_due_date(due).text
            except ValueError:
                raise BpmnImportError(ident, f"cannot read the due date {due!r}") from None
        return data

    def timer(self, door: Door) -> _Flowing:
        assert door.timer is not None
        ident = door.element
        spec = ext.find(self.r.nodes[ident], "timer")
        if door.timer.find(b_tag("timeCycle")) is not None:
            raise BpmnImportError(
                ident, "a repeating timer (timeCycle): the engine fires a timer once"
            )
        date = door.timer.find(b_tag("timeDate"))
        duration = door.timer.find(b_tag("timeDuration"))
        given = date if date is not None else duration
        value = parse_timer_value(given.text or "") if given is not None else ""
        path = spec.get("policyPath") if spec is not None else None
        if spec is not None and path and value == spec.get("resolved"):
            if spec.get("policyKind") == "duration":
                return _Flowing(after=_Flowing(policy=path), event=door.event)
            return _Flowing(policy=path, event=door.event)
        if date is not None or duration is None:
            raise BpmnImportError(
                ident,
                f"a fixed date ({value!r}) cannot be imported: dates come from the region's policy "
                + (f"({path}); change it in the policy file" if path else "(policy: <path>)"),
            )
        try:
            return _Flowing(after=parse_duration(value).text, event=door.event)
        except ValueError as exc:
            raise BpmnImportError(ident, str(exc)) from None

    def events(self, doors: list[Door], states: list[str]) -> dict[str, Any]:
        by_event: dict[str, list[Door]] = {}
        for door in doors:
            by_event.setdefault(door.event, []).append(door)
        order = [e for e in self.declared if e in by_event] + [
            e for e in by_event if e not in self.declared
        ]
        return {name: self.event(name, by_event[name], states) for name in order}

    def event(self, name: str, doors: list[Door], states: list[str]) -> dict[str, Any]:
        first = doors[0]
        for door in doors[1:]:
            if door.target != first.target:
                raise BpmnImportError(
                    door.element,
                    f"event {name!r} leads to {door.target!r} here and to {first.target!r} at "
                    f"{first.element}",
                )
            if door.guards != first.guards:
                raise BpmnImportError(
                    door.element, f"event {name!r} has other guards here than at {first.element}"
                )
        declared = self.declared.get(name)
        label = ext.read_label(declared) if declared is not None else None
        data: dict[str, Any] = {"label": _label_data(self.label(name, doors, label))}
        sources = [s for s in states if any(d.state == s for d in doors)]
        data["from"] = _one_or_many(sources)
        data["to"] = first.target
        if first.guards:
            data["guard"] = _one_or_many(first.guards)
        if declared is not None:
            for attr, key in (("actions", "action"), ("senders", "senders")):
                values = ext.words(declared, attr)
                if values:
                    data[key] = _one_or_many(values) if key == "action" else list(values)
            fields = [ext.read_field(f) for f in declared.findall(ext.q("field"))]
            if fields:
                data["fields"] = [_field_data(f) for f in fields]
            notices = [ext.read_notice(n) for n in declared.findall(ext.q("notice"))]
            if notices:
                data["notices"] = [_notice_data(n) for n in notices]
        # automatic: tried on entering its states (auto_<state>); a file of exporter version 2
        # or before says so in its extension, the event waiting there as a message
        automatic = any(d.kind == "auto" for d in doors)
        if automatic or (declared is not None and declared.get("automatic") == "true"):
            data["automatic"] = True
        return data

    def label(self, name: str, doors: list[Door], declared: Label | None) -> Label:
        """The event's label: a name a modeller changed wins over the declared one; two different
        changes are refused."""
        current = declared.get(self.lang) if declared else None
        shown = {d.label[0]: d for d in doors if d.label[0] and d.label[0].strip()}
        changed = {text: d for text, d in shown.items() if text != current}
        if len(changed) > 1:
            a, b = sorted(changed)[:2]
            raise BpmnImportError(
                changed[b].element,
                f"event {name!r} is named {b!r} here and {a!r} at {changed[a].element}",
            )
        if changed:
            text, door = next(iter(changed.items()))
            other = door.label[1] or (
                declared.get("en" if self.lang == "zh" else "zh") if declared else text
            )
            return Label(text, other) if self.lang == "zh" else Label(other, text)
        if declared is not None:
            return declared
        if shown:
            text, door = next(iter(shown.items()))
            other = door.label[1] or text
            return Label(text, other) if self.lang == "zh" else Label(other, text)
        return Label(name, name)


__all__ = ["BpmnImportError", "import_bpmn", "to_yaml"]
