"""What a guard or an action sees of one firing (``TransitionContext``), the other instances it
may read (``InstanceView``) and the work it may ask for next (``FollowUp``): the engine builds
one per firing; the domain's guards and actions (registered in ``engine.registry``) read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.specs import Label


@dataclass(frozen=True)
class InstanceView:
    """Another instance as a guard or an action sees it (read in the same transaction)."""

    id: int
    process: str
    state: str
    business_key: str | None
    variables: Mapping[str, Any]
    tags: frozenset[str]
    """The tags of its current state."""
    label: Label | None = None
    """Its current state's label (for messages naming it), if its definition knows the state."""
    events: frozenset[str] = frozenset()
    """The events that may leave its current state under its own definition version (an
    instance started on an older version may lack an event added since)."""


@dataclass(frozen=True)
class FollowUp:
    """Work an action asks for, done in the same transaction after its own transition: fire
    ``event`` on ``instance_id``, or (``event`` None) start ``process``."""

    event: str | None
    instance_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    process: str | None = None
    state: str | None = None
    business_key: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    unless_tagged: str | None = None
    """For a start: skip it when ``business_key`` already has an instance in a state with this
    tag (of the started process's definition)."""
    state_tagged: str | None = None
    """For a start without ``state``: the initial state carrying this tag (``renewal``), so the
    domain names what the state means, not its name."""


Finder = Callable[[str, str], list[InstanceView]]
Locker = Callable[[str, str], None]
"""``lock(process, business_key)``: ``Engine.lock_key`` in the firing's transaction."""


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
        followups: what the action asked to happen next (``emit``, ``start``).
        events: the events that may leave ``state`` under the instance's own definition
            version, as the firing began (``InstanceView.events`` of the instance itself).
        locker: takes a business key's lock in the firing's transaction (``lock_key``).
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
    followups: list[FollowUp] = field(default_factory=list)
    finder: Finder | None = field(default=None, repr=False)
    events: frozenset[str] = field(default=frozenset(), repr=False)
    locker: Locker | None = field(default=None, repr=False)

    def emit(self, event: str, instance_id: int, data: Mapping[str, Any] | None = None) -> None:
        """Fire ``event`` on ``instance_id`` in this transaction, after this transition."""
        self.followups.append(FollowUp(event, instance_id, dict(data or {})))

    def start(
        self,
        process: str,
        *,
        state: str | None = None,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        unless_tagged: str | None = None,
        state_tagged: str | None = None,
    ) -> None:
        """Start ``process`` in this transaction, after this transition (skipped when
        ``business_key`` already has an instance in a state tagged ``unless_tagged``), in
        ``state``, else the initial state tagged ``state_tagged``, else the first initial one."""
        self.followups.append(
            FollowUp(
                None,
                data=dict(data or {}),
                process=process,
                state=state,
                business_key=business_key,
                variables=dict(variables or {}),
                unless_tagged=unless_tagged,
                state_tagged=state_tagged,
            )
        )

    def find(self, process: str, business_key: str) -> list[InstanceView]:
        """The instances of ``process`` with ``business_key``, oldest first, as this transaction
        sees them."""
        if self.finder is None:
            raise LookupError("this context cannot read other instances")
        return self.finder(process, business_key)

    def lock_key(self, process: str, business_key: str) -> None:
        """Hold, until this transaction ends, the lock ``Engine.lock_key`` takes on
        ``business_key`` of ``process`` (the one every start of that key takes): an action whose
        own ``find`` decides what it does takes it before that read, so that it and a
        concurrent start of the key run one after another, the later one seeing what the
        earlier one wrote. Several in the domain's fixed order; nothing in a context built
        without a transaction."""
        if self.locker is not None:
            self.locker(process, business_key)
