"""The registry of guards, actions and policy dates that definitions name (BPMN delegate expressions).

The domain (``workflows``) fills a ``Registry`` at start-up; the engine resolves names through it and
never imports the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Guard = Callable[["TransitionContext"], bool | None]
Action = Callable[["TransitionContext"], None]
PolicyDateResolver = Callable[[str, Mapping[str, Any]], tuple[datetime, str]]
PolicyRefResolver = Callable[[str], datetime]
PeriodicJob = Callable[[Any, datetime], int]
"""``job(engine, now) -> count``: domain work the scheduler runs on every tick after the sweep."""


@dataclass(slots=True)
class TransitionContext:
    """What a guard or an action sees of one firing; actions may change ``variables``.

    Attributes:
        instance_id: the instance (0 while it is being started).
        process: the definition key.
        business_key: the instance's business key, if any.
        state: the current state (the model attribute the shared Machine reads and writes).
        event: the event being fired.
        variables: the instance's variables; an action's changes are saved with the transition.
        data: the event's payload (form fields, message body).
        actor: who fires it (a user name, ``scheduler``, a token name).
        now: the engine clock's time for this transaction.
    """

    instance_id: int
    process: str
    business_key: str | None
    state: str
    event: str
    variables: dict[str, Any]
    data: Mapping[str, Any]
    actor: str
    now: datetime
    refused_by: str | None = field(default=None)


class Registry:
    """Named guards, actions and the policy-date resolver."""

    def __init__(self) -> None:
        self._guards: dict[str, Guard] = {}
        self._actions: dict[str, Action] = {}
        self._policy_dates: PolicyDateResolver | None = None
        self._policy_refs: PolicyRefResolver | None = None
        self._policy_reloader: Callable[[], None] | None = None
        self._periodic: dict[str, PeriodicJob] = {}

    def guard(self, name: str) -> Callable[[Guard], Guard]:
        """Decorator: register ``fn`` as the guard called ``name``."""

        def register(fn: Guard) -> Guard:
            self.add_guard(name, fn)
            return fn

        return register

    def action(self, name: str) -> Callable[[Action], Action]:
        """Decorator: register ``fn`` as the action called ``name``."""

        def register(fn: Action) -> Action:
            self.add_action(name, fn)
            return fn

        return register

    def add_guard(self, name: str, fn: Guard) -> None:
        if name in self._guards and self._guards[name] is not fn:
            raise ValueError(f"guard {name!r} registered twice")
        self._guards[name] = fn

    def add_action(self, name: str, fn: Action) -> None:
        if name in self._actions and self._actions[name] is not fn:
            raise ValueError(f"action {name!r} registered twice")
        self._actions[name] = fn

    def set_policy_date_resolver(self, fn: PolicyDateResolver) -> None:
        """``fn(path, variables) -> (moment, reference)`` for timers declared with ``policy:``."""
        self._policy_dates = fn

    def set_policy_ref_resolver(
        self, fn: PolicyRefResolver, reload: Callable[[], None] | None = None
    ) -> None:
        """``fn(reference) -> moment``: the date a pending timer's ``policy_ref`` names now, and
        ``reload()`` to re-read the policy files it answers from (``shebao policy reload``)."""
        self._policy_refs = fn
        self._policy_reloader = reload

    def add_periodic(self, name: str, job: PeriodicJob) -> None:
        """Run ``job(engine, now)`` on every scheduler tick, after the timer sweep.

        Jobs must be safe to repeat and to run in several scheduler processes at once (use
        ``Engine.run_once`` for work that must happen once per key).
        """
        if name in self._periodic:
            raise ValueError(f"periodic job {name!r} registered twice")
        self._periodic[name] = job

    def periodic_jobs(self) -> dict[str, PeriodicJob]:
        return dict(self._periodic)

    def has_guard(self, name: str) -> bool:
        return name in self._guards

    def has_action(self, name: str) -> bool:
        return name in self._actions

    def get_guard(self, name: str) -> Guard:
        return self._guards[name]

    def get_action(self, name: str) -> Action:
        return self._actions[name]

    def resolve_policy_date(self, path: str, variables: Mapping[str, Any]) -> tuple[datetime, str]:
        """The moment a policy-date timer is due, and a reference that identifies the date.

        Raises:
            LookupError: no resolver is registered.
        """
        if self._policy_dates is None:
            raise LookupError(f"no policy date resolver registered (timer needs {path!r})")
        return self._policy_dates(path, variables)

    def resolve_policy_ref(self, ref: str) -> datetime:
        """The moment the policy date ``ref`` (as ``resolve_policy_date`` returned it) names now.

        Raises:
            LookupError: no resolver is registered, or it does not know ``ref``.
        """
        if self._policy_refs is None:
            raise LookupError(f"no policy reference resolver registered (timer has {ref!r})")
        return self._policy_refs(ref)

    def reload_policies(self) -> None:
        """Re-read the policy files behind the policy dates (a no-op when nothing is registered)."""
        if self._policy_reloader is not None:
            self._policy_reloader()
