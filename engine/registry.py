"""The registry of guards, actions and policy dates that definitions name (BPMN delegate expressions).

The domain (``workflows``) fills a ``Registry`` at start-up; the engine resolves names through it and
never imports the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.specs import Label

Guard = Callable[["TransitionContext"], bool | None]
Action = Callable[["TransitionContext"], None]
FieldCheck = Callable[[str], str]
PolicyDateResolver = Callable[[str, Mapping[str, Any], datetime], tuple[datetime, str | None]]
PolicyRefResolver = Callable[[str], datetime]
PolicyPathCheck = Callable[[str], str | None]
PeriodicJob = Callable[[Any, datetime], int]
"""``job(engine, now) -> count``: domain work the scheduler runs on every tick after the sweep."""
NoticeFact = Callable[[Mapping[str, Any], Mapping[str, Any], datetime], Any]
"""``fact(variables, data, now) -> value``: a named value a notice's text may show (a bank's name,
the end of a payment period); a value with ``zh`` and ``en`` is shown in each text's language."""
OptionSource = Callable[[Mapping[str, Any]], Sequence[tuple[str, Label]]]
"""``source(variables) -> [(value, label)]``: the options a form field offers for one instance
(``options: {from: name}``), as the declared reduction categories of a registration."""


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


@dataclass(frozen=True)
class MoveWarning:
    """What a supervisor's move would break that the domain wants confirmed knowingly (a
    second usable card of one person): ``code`` is what the confirmation names; ``confirm_*``
    the words of the box the supervisor ticks."""

    code: str
    message_zh: str
    message_en: str
    confirm_zh: str
    confirm_en: str


@dataclass(frozen=True)
class Move:
    """A supervisor's move as its checks see it: the state it leaves and the one it enters,
    each with the tags its definition gives it."""

    source: str
    source_tags: frozenset[str]
    target: str
    target_tags: frozenset[str]


MoveCheck = Callable[["TransitionContext", Move], "MoveWarning | None"]
"""``check(ctx, move) -> warning``: the instance as a guard sees it (``ctx.event`` is the
supervisor's move) and the move; None when the move breaks nothing the check guards."""


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


class Registry:
    """Named guards, actions and the policy-date resolver."""

    def __init__(self) -> None:
        self._guards: dict[str, Guard] = {}
        self._actions: dict[str, Action] = {}
        self._policy_dates: PolicyDateResolver | None = None
        self._policy_refs: PolicyRefResolver | None = None
        self._policy_reloader: Callable[[], None] | None = None
        self._policy_path_check: PolicyPathCheck | None = None
        self._periodic: dict[str, PeriodicJob] = {}
        self._field_checks: dict[str, FieldCheck] = {}
        self._value_words: dict[str, Callable[[Mapping[str, Any], Any], Any]] = {}
        self._facts: dict[str, NoticeFact] = {}
        self._fact_uses: dict[str, tuple[str, ...]] = {}
        self._text_mask: Callable[[str], str] | None = None
        self._options: dict[str, OptionSource] = {}
        self._move_checks: dict[str, list[MoveCheck]] = {}

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

    def add_field_type(self, name: str, check: FieldCheck) -> None:
        """The check of a form field type whose rules the domain owns (``id_number``)."""
        self._field_checks[name] = check

    def field_checks(self) -> dict[str, FieldCheck]:
        return dict(self._field_checks)

    def add_value_words(self, path: str, words: Callable[[Mapping[str, Any], Any], Any]) -> None:
        """How the value at a variable ``path`` reads to staff (a task's facts): ``words(variables,
        value)`` gives a value with ``zh`` and ``en`` (or a list of such) where the domain owns
        the words, as a policy's labels of its reduction categories."""
        self._value_words[path] = words

    def value_words(self, path: str, variables: Mapping[str, Any], value: Any) -> Any:
        """The value at ``path`` in words (``add_value_words``), or the value itself."""
        words = self._value_words.get(path)
        return value if words is None else words(variables, value)

    def set_policy_date_resolver(self, fn: PolicyDateResolver) -> None:
        """``fn(path, variables, now) -> (moment, reference)`` for timers declared with
        ``policy:``: a date (the reference names it, so a changed file moves the timer) or a
        duration from ``now`` (no reference)."""
        self._policy_dates = fn

    def set_policy_ref_resolver(
        self, fn: PolicyRefResolver, reload: Callable[[], None] | None = None
    ) -> None:
        """``fn(reference) -> moment``: the date a pending timer's ``policy_ref`` names now, and
        ``reload()`` to re-read the policy files it answers from (``shebao policy reload``)."""
        self._policy_refs = fn
        self._policy_reloader = reload

    def set_policy_path_check(self, fn: PolicyPathCheck) -> None:
        """``fn(path) -> problem``: why a policy value a definition names (a timer's, a task's
        due date) is not one the policies give, or None; definitions are checked at load."""
        self._policy_path_check = fn

    def policy_path_problem(self, path: str) -> str | None:
        """What is wrong with the policy value ``path`` (None: fine, or nothing can tell)."""
        return None if self._policy_path_check is None else self._policy_path_check(path)

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

    def add_fact(self, name: str, fn: NoticeFact, uses: tuple[str, ...] | None = None) -> None:
        """Register ``fn`` as the fact called ``name``, which notice texts may show (``{name}``).

        ``uses``: the instance variables the fact depends on, and nothing else (not the event's
        data, not the time); a batch of notices (the timer sweep) then computes it once per
        distinct value of those variables instead of once per notice.
        """
        if name in self._facts and self._facts[name] is not fn:
            raise ValueError(f"fact {name!r} registered twice")
        self._facts[name] = fn
        if uses is not None:
            self._fact_uses[name] = tuple(uses)

    def add_move_check(self, process: str, check: MoveCheck) -> None:
        """A check a supervisor's move of a ``process`` instance must pass, or be confirmed
        against (``engine.interventions.move``): no event runs on a move, so no guard does. An
        instance migration that changes an instance's state runs it too (``engine.migration``,
        ``ctx.event`` then ``migrate``)."""
        self._move_checks.setdefault(process, []).append(check)

    def move_checks(self, process: str) -> tuple[MoveCheck, ...]:
        return tuple(self._move_checks.get(process, ()))

    def add_options(self, name: str, fn: OptionSource) -> None:
        """Register ``fn(variables) -> [(value, label)]`` as the option source ``name``: a form
        field declared with ``options: {from: name}`` offers, for each instance, what it gives."""
        if name in self._options and self._options[name] is not fn:
            raise ValueError(f"option source {name!r} registered twice")
        self._options[name] = fn

    def has_options(self, name: str) -> bool:
        return name in self._options

    def options_of(self, name: str, variables: Mapping[str, Any]) -> tuple[tuple[str, Label], ...]:
        """The options source ``name`` gives for an instance with ``variables`` (none unknown)."""
        fn = self._options.get(name)
        return () if fn is None else tuple(fn(variables))

    def set_text_mask(self, fn: Callable[[str], str]) -> None:
        """``fn(text) -> text`` with the personal data it finds masked (resident ID numbers typed
        into a reason or a note): what the engine writes for people to read (a notice's texts)
        goes through it."""
        self._text_mask = fn

    def mask_text(self, text: str) -> str:
        """``text`` through the mask ``set_text_mask`` registered (unchanged without one)."""
        return text if self._text_mask is None else self._text_mask(text)

    def fact_uses(self, name: str) -> tuple[str, ...] | None:
        """The variables the fact depends on alone, if it said so (``add_fact(uses=...)``)."""
        return self._fact_uses.get(name)

    def has_fact(self, name: str) -> bool:
        return name in self._facts

    def get_fact(self, name: str) -> NoticeFact:
        return self._facts[name]

    def has_guard(self, name: str) -> bool:
        return name in self._guards

    def has_action(self, name: str) -> bool:
        return name in self._actions

    def get_guard(self, name: str) -> Guard:
        return self._guards[name]

    def get_action(self, name: str) -> Action:
        return self._actions[name]

    def resolve_policy_date(
        self, path: str, variables: Mapping[str, Any], now: datetime
    ) -> tuple[datetime, str | None]:
        """The moment a policy timer entered at ``now`` is due, and a reference that identifies
        a policy date (None for a duration).

        Raises:
            LookupError: no resolver is registered.
        """
        if self._policy_dates is None:
            raise LookupError(f"no policy date resolver registered (timer needs {path!r})")
        return self._policy_dates(path, variables, now)

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
