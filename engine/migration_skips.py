"""An instance migration's map that skips events: ``--map produced=active`` puts cards that were
never handed to their holders nor activated into use, as if they had taken ``notify_holder`` and
``activate``. The plan (``engine.migration_plan``) warns of such a move, with the code
``SKIPPED_EVENTS``, and it is confirmed as the domain's move checks' warnings are
(``engine.migration``): nothing moves until the operator confirms the code, and the instances
moved keep it in their history row.

A move skips events when its target state is reachable from its source state in the
definition's graph (the shortest chain of events, ``ProcessDefinition.path_to``, names the events
skipped) and the instances need not have been in the target before: some path from an initial
state reaches the source without passing the target (the target does not **dominate** the
source). So a move back to an earlier state every instance there went through warns of nothing
(``loss_reported=active``: a card reported lost was active), nor does one to a state no path joins
to the source; a move forward, also within a loop, warns (``active=loss_reported`` reports cards
lost that nobody reported: ``report_loss`` skipped). The graph is the source version's, where the
instances took their events, when it has both states, else the target version's; a state renamed
between the versions (in neither with the other) is the same place in the flow, and warns of
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.specs import ProcessDefinition

SKIPPED_EVENTS = "skipped_events"
"""The code of the warning (``--confirm skipped_events``)."""


def skipped_events(
    source: ProcessDefinition, target: ProcessDefinition, old: str, new: str
) -> tuple[ProcessDefinition, tuple[str, ...]] | None:
    """The events a move from ``old`` (a state of ``source``) to ``new`` (of ``target``) skips,
    and the version whose graph says so; None when it skips none (see the module docstring)."""
    if old == new:
        return None
    for definition in (source, target):
        if old in definition.states and new in definition.states:
            forward = definition.path_to(new, start=old)
            if not forward or old not in reached_avoiding(definition, new):
                return None
            return definition, forward
    return None


def reached_avoiding(definition: ProcessDefinition, avoided: str) -> set[str]:
    """The states an instance can reach from an initial state without ever entering
    ``avoided``: a state missing here is one every instance in it went through ``avoided`` to
    reach (``avoided`` dominates it)."""
    seen = {s for s in definition.initial if s != avoided}
    frontier = list(seen)
    while frontier:
        state = frontier.pop()
        for name in definition.outgoing(state):
            following = definition.events[name].target
            if following != avoided and following not in seen:
                seen.add(following)
                frontier.append(following)
    return seen


def describe(
    definition: ProcessDefinition, old: str, new: str, events: Sequence[str]
) -> tuple[str, str]:
    """One skipping move in Chinese and English: ``produced → active skips: notify_holder,
    activate (Bank notifies the holder; ...)``."""
    labels = [definition.events[name].label for name in events]
    zh = "、".join(f"{label.zh}（{name}）" for label, name in zip(labels, events, strict=True))
    en = "; ".join(label.en for label in labels)
    return (
        f"{old} → {new} 跳过了这些实例从未经过的事件：{zh}",
        f"{old} → {new} skips: {', '.join(events)} ({en}), events these instances never took",
    )


def skip_messages(
    source: ProcessDefinition, target: ProcessDefinition, moves: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Each source state of ``moves`` (source state to target state) whose move skips events,
    and what to say of it (zh, en), in the order of ``moves``."""
    found = {}
    for old, new in moves.items():
        skipped = skipped_events(source, target, old, new)
        if skipped is not None:
            found[old] = describe(skipped[0], old, new, skipped[1])
    return found
