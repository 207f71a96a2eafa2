"""Checks of a whole process definition, made once its states and events are built.

Owns what no single state or event can check alone: the graph (initial, source and target states
exist, every state is reachable, a non-final state has a way out, timers and tasks end with events
that leave their state), the placeholders of the notices' texts, and the guard and action names
against the registry (``NameRegistry``), and the policy values timers and due dates name. Each failure raises ``DefinitionError`` through the
definition's ``Reader``, naming the dotted key; ``engine.definition`` builds the specs and calls
these checks.
"""

from __future__ import annotations

from typing import Protocol

from engine.definition_reader import Reader
from engine.notice_templates import parse_template, unknown_placeholders
from engine.specs import EventSpec, StateSpec


class NameRegistry(Protocol):
    """What validation needs to know of the registry: which guard and action names exist."""

    def has_guard(self, name: str) -> bool: ...

    def has_action(self, name: str) -> bool: ...


def check_graph(
    reader: Reader,
    states: dict[str, StateSpec],
    events: dict[str, EventSpec],
    initial: tuple[str, ...],
) -> dict[str, tuple[str, ...]]:
    """The names of the events leaving each state, once the graph is found sound.

    The initial states and every event's source and target states exist, no event leaves a final
    state, every state is reached from an initial one, a state that is not final has an event
    leaving it, and a state's timers and task name only events that leave it.

    Raises:
        DefinitionError: naming the key of the first fault found.
    """
    for i, state in enumerate(initial):
        if state not in states:
            raise reader.fail(f"initial[{i}]", f"unknown state {state!r}")
    outgoing: dict[str, list[str]] = {name: [] for name in states}
    for name, event in events.items():
        if event.target not in states:
            raise reader.fail(f"events.{name}.to", f"unknown target state {event.target!r}")
        for source in event.sources:
            if source not in states:
                raise reader.fail(f"events.{name}.from", f"unknown source state {source!r}")
            if states[source].final:
                raise reader.fail(f"events.{name}.from", f"event from final state {source!r}")
            outgoing[source].append(name)
    reached, frontier = set(initial), list(initial)
    while frontier:
        for event_name in outgoing[frontier.pop()]:
            target = events[event_name].target
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    for name, spec in states.items():
        if name not in reached:
            raise reader.fail(f"states.{name}", "unreachable state: no event leads to it")
        if not spec.final and not outgoing[name]:
            raise reader.fail(f"states.{name}", "no event leaves this state; mark it final: true")
        for i, timer in enumerate(spec.timers):
            if timer.event not in outgoing[name]:
                raise reader.fail(
                    f"states.{name}.timers[{i}].event",
                    f"event {timer.event!r} does not leave state {name!r}",
                )
        if spec.task:
            for event_name in spec.task.events:
                if event_name not in outgoing[name]:
                    raise reader.fail(
                        f"states.{name}.task.events",
                        f"event {event_name!r} does not leave state {name!r}",
                    )
    return {name: tuple(names) for name, names in outgoing.items()}


def check_notices(
    reader: Reader,
    states: dict[str, StateSpec],
    events: dict[str, EventSpec],
    registry: NameRegistry | None,
) -> None:
    """Every placeholder of a notice's text names a field of the event's data (its ``fields:``,
    or the form of a task it ends), a variable (``variables.<path>``) or, when the registry is
    given, a registered fact.

    Raises:
        DefinitionError: naming the text (``events.<name>.notices[i].text.<lang>``) and the first
            unknown placeholder.
    """
    has_fact = getattr(registry, "has_fact", None) if registry is not None else None
    for name, event in events.items():
        if not event.notices:
            continue
        fields = {f.name for f in event.fields}
        for spec in states.values():
            if spec.task is not None and name in spec.task.events:
                fields.update(f.name for f in spec.task.form)
        for i, notice in enumerate(event.notices):
            key = f"events.{name}.notices[{i}]"
            for lang in ("zh", "en"):
                template = parse_template(notice.text.get(lang))
                unknown = unknown_placeholders(template, fields, has_fact)
                if unknown:
                    raise reader.fail(
                        f"{key}.text.{lang}",
                        f"unknown placeholder {{{unknown[0]}}}: not a field of the event, not "
                        "variables.<path> and no fact registered by that name",
                    )


def check_names(reader: Reader, events: dict[str, EventSpec], registry: NameRegistry) -> None:
    """Every guard and action an event names is registered in ``registry``.

    Raises:
        DefinitionError: naming the event's ``guard`` or ``action`` key.
    """
    for name, event in events.items():
        for guard in event.guards:
            if not registry.has_guard(guard):
                raise reader.fail(f"events.{name}.guard", f"no guard registered as {guard!r}")
        for action in event.actions:
            if not registry.has_action(action):
                raise reader.fail(f"events.{name}.action", f"no action registered as {action!r}")


def check_option_sources(
    reader: Reader,
    states: dict[str, StateSpec],
    events: dict[str, EventSpec],
    registry: NameRegistry | None,
) -> None:
    """Every option source a form field names (``options: {from: name}``) is registered, when
    the registry can tell.

    Raises:
        DefinitionError: naming the field's ``options.from`` key.
    """
    has_options = getattr(registry, "has_options", None) if registry is not None else None
    if has_options is None:
        return
    named = [(f"events.{n}.fields", f) for n, e in events.items() for f in e.fields] + [
        (f"states.{n}.task.form", f) for n, s in states.items() if s.task for f in s.task.form
    ]
    for where, f in named:
        if f.options_from is not None and not has_options(f.options_from):
            raise reader.fail(
                f"{where}.{f.name}.options.from",
                f"no option source registered as {f.options_from!r}",
            )


def check_policy_paths(
    reader: Reader, states: dict[str, StateSpec], registry: NameRegistry | None
) -> None:
    """Every policy value a timer or a task's due date names is one the registry's policies give
    (``Registry.policy_path_problem``), when the registry can tell.

    Raises:
        DefinitionError: naming the timer's or the task's key and what the policies lack.
    """
    problem_of = getattr(registry, "policy_path_problem", None) if registry else None
    if problem_of is None:
        return
    for name, spec in states.items():
        named = [
            (
                f"states.{name}.timers[{i}]." + ("after.policy" if t.policy_duration else "policy"),
                t.policy,
            )
            for i, t in enumerate(spec.timers)
            if t.policy
        ]
        if spec.task is not None and spec.task.due_policy:
            named.append((f"states.{name}.task.due.policy", spec.task.due_policy))
        for key, path in named:
            problem = problem_of(path)
            if problem:
                raise reader.fail(key, f"unknown policy value {path!r}: {problem}")


__all__ = ["NameRegistry", "check_graph", "check_names", "check_notices", "check_policy_paths"]
