"""Parse and validate a BPMN-style process definition file into an immutable ``ProcessDefinition``.

A definition is data: states (BPMN activities; a ``task:`` makes one a user task, none makes it a wait
for an outside message), events (sequence flows) and timers (boundary timer events). It is parsed
once into frozen dataclasses that nothing changes at run time. A broken file is refused at load with
the file, the key and what is wrong. Each element is checked as it is built here; the checks of the
whole definition (its graph, the notices' placeholders, the registered names) are
``engine.definition_checks``'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from engine.definition_checks import (
    NameRegistry,
    check_graph,
    check_names,
    check_notices,
    check_option_sources,
    check_policy_paths,
)
from engine.definition_forms import build_facts, build_form
from engine.definition_reader import Reader, UniqueKeyLoader
from engine.durations import Duration
from engine.errors import DefinitionError
from engine.notice_templates import parse_template
from engine.specs import (
    EventSpec,
    Fact,
    FormField,
    Label,
    NoticeSpec,
    ProcessDefinition,
    RetrySpec,
    StateSpec,
    TaskSpec,
    TimerSpec,
)


def _build_task(reader: Reader, value: Any, key: str) -> TaskSpec:
    data = reader.mapping(value, key)
    reader.only_keys(
        data, key, ("name", "label", "candidate_group", "scope", "form", "events", "due", "facts")
    )
    name = reader.name(data.get("name"), f"{key}.name")
    return TaskSpec(
        name=name,
        label=reader.label(data["label"], f"{key}.label") if "label" in data else Label(name, name),
        candidate_group=reader.name(data.get("candidate_group"), f"{key}.candidate_group"),
        scope=reader.name(data["scope"], f"{key}.scope") if data.get("scope") else None,
        form=build_form(reader, data.get("form", []), f"{key}.form"),
        events=reader.names(data.get("events"), f"{key}.events"),
        due=_task_due(reader, data["due"], f"{key}.due") if "due" in data else None,
        facts=build_facts(reader, data.get("facts", []), f"{key}.facts"),
        due_policy=_task_due_policy(reader, data.get("due"), f"{key}.due"),
    )


def _task_due(reader: Reader, value: Any, key: str) -> Duration | None:
    """``due: P30D``: a literal duration (``due: {policy: <path>}`` is ``_task_due_policy``)."""
    return None if isinstance(value, dict) else reader.duration(value, key)


def _task_due_policy(reader: Reader, value: Any, key: str) -> str | None:
    """``due: {policy: card.loss_report_lapses_after}``: the policy value the due date is, as a
    timer's ``after: {policy: ...}`` (the region's duration from entering the state, or a date)."""
    if not isinstance(value, dict):
        return None
    reader.only_keys(value, key, ("policy",))
    return _policy_path(reader, value.get("policy"), f"{key}.policy")


def _build_timers(reader: Reader, value: Any, key: str) -> tuple[TimerSpec, ...]:
    timers = []
    allowed = ("after", "policy", "event", "retry")
    for item_key, data in reader.records(value, key, "timers", allowed):
        if ("after" in data) == ("policy" in data):
            raise reader.fail(item_key, "a timer needs exactly one of 'after' or 'policy'")
        event = reader.name(data.get("event"), f"{item_key}.event")
        retry = (
            _build_retry(reader, data["retry"], f"{item_key}.retry") if "retry" in data else None
        )
        after = data.get("after")
        if isinstance(after, dict):  # after: {policy: card.activation_reminder_after}
            reader.only_keys(after, f"{item_key}.after", ("policy",))
            path = _policy_path(reader, after.get("policy"), f"{item_key}.after.policy")
            timer = TimerSpec(event=event, policy=path, policy_duration=True, retry=retry)
        elif "after" in data:
            duration = reader.duration(after, f"{item_key}.after")
            timer = TimerSpec(event=event, after=duration, retry=retry)
        else:
            path = _policy_path(reader, data["policy"], f"{item_key}.policy")
            timer = TimerSpec(event=event, policy=path, retry=retry)
        timers.append(timer)
    return tuple(timers)


def _build_retry(reader: Reader, value: Any, key: str) -> RetrySpec:
    """``retry: {times: 3, backoff: PT5M}``: at most 3 attempts, 5, then 10 minutes apart."""
    data = reader.mapping(value, key)
    reader.only_keys(data, key, ("times", "backoff"))
    times = data.get("times")
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 100:
        raise reader.fail(
            f"{key}.times", f"expected a whole number of attempts 1-100, got {times!r}"
        )
    if "backoff" not in data:
        raise reader.fail(f"{key}.backoff", "a retry policy needs a backoff (e.g. PT5M)")
    backoff = reader.duration(data["backoff"], f"{key}.backoff")
    if backoff.years or backoff.months:
        raise reader.fail(f"{key}.backoff", "a backoff is counted in weeks, days, hours, minutes")
    return RetrySpec(times=times, backoff=backoff)


def _history_ttl(reader: Reader, value: Any) -> Duration:
    """``history_ttl: P3650D``: whole days, as Camunda's ``historyTimeToLive`` counts them."""
    ttl = reader.duration(value, "history_ttl")
    if ttl.years or ttl.months or ttl.delta.total_seconds() % 86400 or ttl.delta.days < 1:
        raise reader.fail("history_ttl", f"expected whole days (e.g. P3650D), got {value!r}")
    return ttl


def _policy_path(reader: Reader, value: Any, key: str) -> str:
    if not isinstance(value, str) or not re.match(r"^[a-z_]+(\.[a-z_]+)+$", value):
        raise reader.fail(key, f"expected a dotted path, got {value!r}")
    return value


def _build_notices(reader: Reader, value: Any, key: str) -> tuple[NoticeSpec, ...]:
    """``notices: [{kind, to: {variable: id_number}, text: {zh, en}, channel?}]``."""
    notices = []
    for item_key, data in reader.records(value, key, "notices", ("kind", "to", "text", "channel")):
        if "to" not in data:
            raise reader.fail(f"{item_key}.to", "say who is told: to: {variable: <name>}")
        to = reader.mapping(data["to"], f"{item_key}.to")
        reader.only_keys(to, f"{item_key}.to", ("variable",))
        path = reader.variable_path(to.get("variable"), f"{item_key}.to.variable")
        if "text" not in data:
            raise reader.fail(f"{item_key}.text", "a notice needs a text in Chinese and English")
        text = reader.label(data["text"], f"{item_key}.text")
        for lang in ("zh", "en"):
            try:
                parse_template(text.get(lang))
            except ValueError as exc:
                raise reader.fail(f"{item_key}.text.{lang}", str(exc)) from None
        notices.append(
            NoticeSpec(
                kind=reader.name(data.get("kind"), f"{item_key}.kind"),
                to=path,
                text=text,
                channel=reader.name(data.get("channel", "sms"), f"{item_key}.channel"),
            )
        )
    return tuple(notices)


# One table: each element of a state, and what builds it from the raw YAML.
_STATE_ELEMENTS: dict[str, Callable[[Reader, Any, str], Any]] = {
    "label": lambda reader, value, key: reader.label(value, key),
    "final": lambda reader, value, key: bool(value),
    "task": _build_task,
    "timers": _build_timers,
    "tags": lambda reader, value, key: frozenset(reader.names(value, key)),
}


def _build_state(reader: Reader, name: str, value: Any, key: str) -> StateSpec:
    data = reader.mapping(value, key)
    reader.only_keys(data, key, _STATE_ELEMENTS)
    if "label" not in data:
        raise reader.fail(f"{key}.label", "every state needs a label in Chinese and English")
    parts = {
        elem: build(reader, data[elem], f"{key}.{elem}")
        for elem, build in _STATE_ELEMENTS.items()
        if elem in data
    }
    return StateSpec(name=name, **parts)


def _build_event(reader: Reader, name: str, value: Any, key: str) -> EventSpec:
    data = reader.mapping(value, key)
    reader.only_keys(
        data,
        key,
        (
            "from",
            "to",
            "label",
            "guard",
            "action",
            "senders",
            "fields",
            "retry",
            "notices",
            "automatic",
        ),
    )
    automatic = data.get("automatic", False)
    if not isinstance(automatic, bool):
        raise reader.fail(f"{key}.automatic", "true or false")
    if automatic and (data.get("senders") or data.get("fields")):
        raise reader.fail(
            f"{key}.automatic", "an automatic event is fired by the engine: no senders, no fields"
        )
    if "label" not in data:
        raise reader.fail(f"{key}.label", "every event needs a label in Chinese and English")
    sources = reader.names(data.get("from"), f"{key}.from")
    if not sources:
        raise reader.fail(f"{key}.from", "an event needs at least one source state")
    return EventSpec(
        name=name,
        label=reader.label(data["label"], f"{key}.label"),
        sources=sources,
        target=reader.name(data.get("to"), f"{key}.to"),
        guards=reader.names(data.get("guard"), f"{key}.guard"),
        actions=reader.names(data.get("action"), f"{key}.action"),
        senders=reader.names(data.get("senders"), f"{key}.senders"),
        fields=build_form(reader, data.get("fields", []), f"{key}.fields"),
        notices=_build_notices(reader, data.get("notices", []), f"{key}.notices"),
        retry=_build_retry(reader, data["retry"], f"{key}.retry") if "retry" in data else None,
        automatic=automatic,
    )


def _with_task_defaults(
    spec: StateSpec, outgoing: tuple[str, ...], events: dict[str, EventSpec]
) -> StateSpec:
    """A task that names no events ends with any event leaving its state but a timer's; a task
    that declares no form asks for the fields its events carry."""
    if spec.task is None:
        return spec
    task = spec.task
    if not task.events:
        timer_events = {timer.event for timer in spec.timers}
        task = replace(task, events=tuple(n for n in outgoing if n not in timer_events))
    if not task.form:
        form: dict[str, FormField] = {}
        for name in task.events:
            for f in events[name].fields:
                form.setdefault(f.name, f)
        task = replace(task, form=tuple(form.values()))
    return replace(spec, task=task)


def parse_definition(
    raw: Any, source: str = "<string>", registry: NameRegistry | None = None
) -> ProcessDefinition:
    """Validate already-loaded YAML data and build the definition.

    Args:
        raw: the document, as YAML loads it.
        source: the file name used in error messages.
        registry: when given, every guard and action name must be registered in it.

    Raises:
        DefinitionError: naming the file, the key and what is wrong.
    """
    reader = Reader(source)
    data = reader.mapping(raw, "<document>")
    reader.only_keys(
        data,
        "<document>",
        ("process", "version", "label", "initial", "states", "events", "history_ttl"),
    )
    key = reader.name(data.get("process"), "process")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise reader.fail("version", f"expected a positive integer, got {version!r}")
    states_raw = reader.mapping(data.get("states"), "states")
    events_raw = reader.mapping(data.get("events"), "events")
    states = {
        reader.name(n, f"states.{n}"): _build_state(reader, n, v, f"states.{n}")
        for n, v in states_raw.items()
    }
    events = {
        reader.name(n, f"events.{n}"): _build_event(reader, n, v, f"events.{n}")
        for n, v in events_raw.items()
    }
    clash = set(states) & set(events)
    if clash:
        raise reader.fail(f"events.{sorted(clash)[0]}", "an event may not share a state's name")
    initial = reader.names(data.get("initial"), "initial")
    if not initial:
        raise reader.fail("initial", "name the state (or states) an instance starts in")
    outgoing = check_graph(reader, states, events, initial)
    states = {
        name: _with_task_defaults(spec, outgoing[name], events) for name, spec in states.items()
    }
    check_notices(reader, states, events, registry)
    check_policy_paths(reader, states, registry)
    check_option_sources(reader, states, events, registry)
    if registry is not None:
        check_names(reader, events, registry)
    return ProcessDefinition(
        key=key,
        version=version,
        label=reader.label(data.get("label"), "label"),
        initial=initial,
        states=states,
        events=events,
        source=source,
        history_ttl=_history_ttl(reader, data["history_ttl"]) if "history_ttl" in data else None,
        _outgoing=outgoing,
    )


def read_definition(path: str | Path) -> str:
    """A definition file's text (``DefinitionError`` when it cannot be read)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(str(path), "<file>", f"cannot read: {exc}") from None


def load_definition(path: str | Path, registry: NameRegistry | None = None) -> ProcessDefinition:
    """Read, parse and validate one definition file."""
    return parse_text(read_definition(path), str(path), registry)


def parse_text(text: str, source: str, registry: NameRegistry | None = None) -> ProcessDefinition:
    """Parse and validate a definition's YAML text (a file's, or a deployed version's)."""
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise DefinitionError(source, "<yaml>", str(exc).replace("\n", " ")) from None
    return parse_definition(raw, source=source, registry=registry)


def load_definitions(
    directory: str | Path, registry: NameRegistry | None = None
) -> dict[str, ProcessDefinition]:
    """Load every ``*.yaml`` directly under ``directory`` (policies live in a sub-folder)."""
    found: dict[str, ProcessDefinition] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        definition = load_definition(path, registry)
        if definition.key in found:
            raise DefinitionError(str(path), "process", f"{definition.key!r} defined twice")
        found[definition.key] = definition
    return found


__all__ = [
    "EventSpec",
    "Fact",
    "FormField",
    "Label",
    "NoticeSpec",
    "ProcessDefinition",
    "StateSpec",
    "TaskSpec",
    "TimerSpec",
    "load_definition",
    "load_definitions",
    "parse_definition",
    "parse_text",
    "read_definition",
]
