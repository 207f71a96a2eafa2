"""One shared ``transitions`` Machine per definition version, reused for every instance.

The Machine holds no model: each firing passes a ``TransitionContext`` whose ``state`` attribute the
Machine reads and writes, so the ordered pipeline (conditions -> before -> change state -> after)
runs exactly as ``transitions`` defines it, without building a Machine per instance or per request.
``auto_transitions`` is off (the ``to_<state>()`` shortcuts would skip every guard) and guards and
actions are resolved by name through the registry when the Machine is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transitions import Machine

from engine.definition import ProcessDefinition
from engine.registry import Action, Guard, Registry, TransitionContext


def _condition(name: str, guard: Guard) -> Callable[[Any], bool]:
    def check(event_data: Any) -> bool:
        ctx: TransitionContext = event_data.model
        if guard(ctx) is False:
            ctx.refused_by = name
            return False
        return True

    check.__name__ = f"guard_{name}"
    return check


def _callback(action: Action) -> Callable[[Any], None]:
    def run(event_data: Any) -> None:
        action(event_data.model)

    return run


class SharedMachine:
    """The state machine of one definition version, shared by all its instances."""

    def __init__(self, definition: ProcessDefinition, registry: Registry) -> None:
        self.definition = definition
        self.machine = Machine(
            model=None,
            states=list(definition.states),
            initial=definition.initial[0],
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        for event in definition.events.values():
            self.machine.add_transition(
                event.name,
                list(event.sources),
                event.target,
                conditions=[_condition(g, registry.get_guard(g)) for g in event.guards],
                before=[_callback(registry.get_action(a)) for a in event.actions],
            )
        self._events = self.machine.events

    def fire(self, ctx: TransitionContext) -> bool:
        """Run ``ctx.event`` from ``ctx.state``; True when it moved, False when a guard said no.

        The caller has checked that the event leaves the state. A guard may also raise
        ``TransitionRefused`` with its own reason, which propagates.
        """
        return bool(self._events[ctx.event].trigger(ctx))
