"""The registry of guards, actions and policy dates that definitions name (BPMN delegate expressions).

The domain (``workflows``) fills a ``Registry`` at start-up; the engine resolves names through it and
never imports the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from engine.specs import Label
from engine.transition_context import TransitionContext
from engine.value_masking import mask_values

Guard = Callable[["TransitionContext"], bool | None]
DataCheck = Callable[["TransitionContext"], list[Any]]
"""``check(ctx) -> [FieldProblem]``: what a guard finds wrong in the event's data alone (a
problem without a label gets its field's, from the event's ``fields:``)."""
Action = Callable[["TransitionContext"], None]
ValueWords = Callable[[Mapping[str, Any], Any], Any]
"""``words(variables, value)``: a value as staff read it (``zh`` and ``en``), where the domain owns
the words (a policy's labels of its reduction categories)."""
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
        self._history_fields: dict[tuple[str, str, str], ValueWords | None] = {}
        self._facts: dict[str, NoticeFact] = {}
        self._fact_uses: dict[str, tuple[str, ...]] = {}
        self._text_mask: Callable[[str], str] | None = None
        self._options: dict[str, OptionSource] = {}
        self._move_checks: dict[str, list[MoveCheck]] = {}
        self._data_checks: dict[str, DataCheck] = {}
        self.calendar: tzinfo | None = None
        """The time zone whose calendar a timer's or a task's years and months are counted on
        (``Duration.after``): the service's, set by the domain; None counts on the clock's."""

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

    def add_data_check(self, guard: str, check: DataCheck) -> None:
        """The part of guard ``guard`` that reads the event's data alone (a field one choice
        makes required): every event naming the guard runs it after its fields' types are
        checked and before any guard (``engine.machine``), so that bad data is a ``DataInvalid``
        naming the field, whatever the rules would say."""
        self._data_checks[guard] = check

    def data_check(self, guard: str) -> DataCheck | None:
        return self._data_checks.get(guard)

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

    def add_history_field(
        self, process: str, event: str, field: str, words: ValueWords | None = None
    ) -> None:
        """A field of ``event``'s data that an instance's history shows whichever door it came
        by (a page shows an outside door's text only when declared so: a reduction claimed at a
        counter or through the API, the reason a refusal passed on by the domain carries), by
        the field's label; ``words(variables, value)`` gives the value in words (``zh`` and
        ``en``, or a list of such), else it shows as written (masked, as history keeps it)."""
        self._history_fields[(process, event, field)] = words

    def history_field(self, process: str, event: str, field: str) -> tuple[bool, ValueWords | None]:
        """Whether ``add_history_field`` declared the field, and its words if any."""
        key = (process, event, field)
        return key in self._history_fields, self._history_fields.get(key)

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

    def mask_data(self, data: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """An event's data as a history row keeps it: every text in it, nested ones too, through
        ``mask_text`` (a reason or a note quoting a resident ID number, an ID number presented);
        numbers, booleans and keys as they are. None for no data. What a history row holds goes
        out to pages and archive files; the rules read the data before it is written."""
        if not data:
            return None
        masked: dict[str, Any] = mask_values(data, self.mask_text)
        return masked

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
