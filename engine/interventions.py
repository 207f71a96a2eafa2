"""Supervisor interventions on one instance: cancel it, or move it to another state, with a reason.

Camunda Cockpit lets an operator cancel a process instance or move its token; these are the same
two operations, as functions taking the ``Engine``. Each runs in one transaction:

* the instance row is loaded and its version compared with the one the supervisor saw (the
  version the confirmation form carried): a different one raises ``StaleIntervention`` and
  nothing changes (a double submit, or someone else moved the instance meanwhile); the UPDATE
  itself is versioned (``version = version + 1 WHERE version = :seen``) as ``fire_in``'s is;
* every open task of the instance is closed (``cancelled``, ``closed_by`` the supervisor, the
  outcome the intervention's event) and every pending or failed timer cancelled, the open
  incidents of its timers closed (resolution ``state_left``): the statements the state effects
  run when a state is left, here unconditionally, so nothing of the old state survives;
* a history row records the intervention (event ``supervisor_cancel`` or ``supervisor_move``,
  from and to state, the supervisor, ``data = {"reason": ...}``).

**Move** then enters the target state through ``StateEffects.enter``, the code a normal transition
into it runs: its user task (candidate group, scope from the variables, due date) and its timers
(durations, policy dates) are created exactly as they would be. A move is not an event of the
definition: no guard, action or notice of any event runs.

A move runs the checks the domain registered for the process (``Registry.add_move_check``,
under the business key's lock, as ``Engine.check_exclusive`` takes it): each warning it returns
(a card moved back into use while its holder has another usable one) refuses the move with
``ConfirmationRequired`` unless the supervisor confirmed that warning's code; a confirmed move
records the codes in its history row beside the reason. ``move_warnings`` gives the same warnings
to the confirmation page, read without writing.

**Cancel** puts the instance into ``CANCELLED``, a state reserved by the engine rather than one
of the definition. Its name starts with an underscore, which no definition state may (state
names are snake_case words), so it cannot be confused with a domain state such as the card's
``cancelled`` (注销, a card that still has its bank account to close). Being in no definition
means no event leaves it (``definition.outgoing`` is empty), so every door of the engine (API
events, tasks, timers, domain operations) refuses to move a cancelled instance, with no hook in
the runtime. The alternative, keeping the state and marking the instance ended, would need a new
column and a check inside ``fire_in`` for every event. Code that labels a state should use
``state_label`` here (or ``definition.states.get``), since the reserved state has no spec.

A final state of the definition and the reserved state are both ends: an ended instance cannot be
cancelled or moved.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from engine import statements as st
from engine.errors import WorkflowError
from engine.outcomes import Transition
from engine.registry import Move, MoveCheck, MoveWarning
from engine.specs import CANCELLED, CANCELLED_LABEL, Label, ProcessDefinition
from engine.transition_context import TransitionContext
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.runtime import Engine


CANCEL_EVENT = "supervisor_cancel"
MOVE_EVENT = "supervisor_move"
MAX_REASON = 500


class InterventionRefused(WorkflowError):
    """The intervention cannot be done as asked; nothing changed."""

    code = "intervention_refused"


class ReasonRequired(InterventionRefused):
    code = "reason_required"

    def __init__(self) -> None:
        super().__init__(
            f"请填写原因（不超过 {MAX_REASON} 个字）",
            f"a reason is required (at most {MAX_REASON} characters)",
        )


class InstanceEnded(InterventionRefused):
    code = "instance_ended"

    def __init__(self, instance_id: int, state: str) -> None:
        super().__init__(
            f"流程实例 {instance_id} 已结束（{state}），不能终止或移动",
            f"instance {instance_id} has ended ({state}); it cannot be cancelled or moved",
        )
        self.state = state


class InvalidTarget(InterventionRefused):
    code = "invalid_target"

    def __init__(self, target: str) -> None:
        super().__init__(
            f"不能移动到状态 {target}：它不是本流程的其他状态",
            f"cannot move to {target}: it is not another state of this process",
        )
        self.target = target


class AlreadyInState(InvalidTarget):
    """A move to the state the instance is in (a confirmation page reached again with the
    browser's Back after the move was done): not another state, so nothing to do."""

    code = "already_in_state"

    def __init__(self, instance_id: int, state: str, label: Label) -> None:
        InterventionRefused.__init__(
            self,
            f"流程实例 {instance_id} 已处于“{label.zh}”，无需移动",
            f"Instance {instance_id} is already in “{label.en}”: there is nothing to move",
        )
        self.target = state


class ConfirmationRequired(InterventionRefused):
    """The move breaks what the domain's checks guard, and the supervisor has not confirmed it."""

    code = "confirmation_required"

    def __init__(self, warnings: Sequence[MoveWarning]) -> None:
        super().__init__(
            "；".join(w.message_zh for w in warnings) + "。如确需移动，请勾选确认后再提交",
            "; ".join(w.message_en for w in warnings)
            + ". To move it all the same, tick the confirmation and send again",
        )
        self.warnings = list(warnings)


class StaleIntervention(WorkflowError):
    """The instance changed since the supervisor saw it (or the form was sent twice)."""

    code = "stale_version"

    def __init__(self, instance_id: int, seen: int, now: int) -> None:
        super().__init__(
            f"流程实例 {instance_id} 在您查看后已变更（版本 {seen} → {now}），未做任何修改；"
            "请重新查看后再操作",
            f"instance {instance_id} changed after you looked at it (version {seen} → {now}); "
            "nothing was changed: look again before acting",
        )
        self.instance_id = instance_id
        self.seen = seen
        self.current = now


def is_ended(definition: ProcessDefinition, state: str) -> bool:
    """Whether an instance in ``state`` has ended (a final state, or cancelled by a supervisor)."""
    spec = definition.states.get(state)
    return state == CANCELLED or spec is None or spec.final


def label_of(definition: ProcessDefinition, state: str) -> Label:
    """A state's label, the reserved ``CANCELLED`` included (the name itself if unknown): what
    ``definition.states[state].label`` gives for the definition's own states."""
    if state == CANCELLED:
        return CANCELLED_LABEL
    spec = definition.states.get(state)
    return spec.label if spec else Label(zh=state, en=state)


def state_label(definition: ProcessDefinition, state: str | None, lang: str) -> str:
    """A state in words in ``lang`` (``-`` for none), the reserved ``CANCELLED`` included."""
    return "-" if state is None else label_of(definition, state).get(lang)


def move_targets(definition: ProcessDefinition, state: str) -> list[str]:
    """The states an instance in ``state`` may be moved to: every other state, in file order."""
    return [name for name in definition.states if name != state]


def clean_reason(reason: str | None) -> str:
    """The reason, stripped; ``ReasonRequired`` when empty or longer than ``MAX_REASON``."""
    text = (reason or "").strip()
    if not text or len(text) > MAX_REASON:
        raise ReasonRequired()
    return text


def cancel(
    engine: Engine, instance_id: int, *, expected_version: int, actor: str, reason: str
) -> Transition:
    """End the instance: ``CANCELLED``, its tasks closed and timers cancelled, the reason recorded.

    Raises:
        InstanceNotFound, ReasonRequired, InstanceEnded, StaleIntervention.
    """
    text = clean_reason(reason)

    def work(tx: Tx) -> Transition:
        row, definition = _load(engine, tx, instance_id, expected_version)
        return _intervene(engine, tx, row, definition, CANCELLED, CANCEL_EVENT, actor, text)

    return engine.transaction(work, retries=0)


def move(
    engine: Engine,
    instance_id: int,
    target: str,
    *,
    expected_version: int,
    actor: str,
    reason: str,
    confirmed: Collection[str] = (),
) -> Transition:
    """Move the instance to ``target`` (another state of its definition), entering it as a normal
    transition would: its task and timers are created; the old state's are closed. The domain's
    move checks must pass, or their warnings' codes be in ``confirmed``.

    Raises:
        InstanceNotFound, ReasonRequired, InstanceEnded, AlreadyInState, InvalidTarget,
        ConfirmationRequired, StaleIntervention.
    """
    text = clean_reason(reason)

    def work(tx: Tx) -> Transition:
        row, definition = _load(engine, tx, instance_id, expected_version)
        if target == row.state:
            raise AlreadyInState(instance_id, target, label_of(definition, target))
        if target not in move_targets(definition, row.state):
            raise InvalidTarget(target)
        warnings = _warnings(engine, tx, row, target, actor, lock=True)
        unconfirmed = [w for w in warnings if w.code not in confirmed]
        if unconfirmed:
            raise ConfirmationRequired(unconfirmed)
        codes = [w.code for w in warnings]
        return _intervene(engine, tx, row, definition, target, MOVE_EVENT, actor, text, codes)

    return engine.transaction(work, retries=0)


def move_warnings(engine: Engine, instance_id: int, target: str, actor: str) -> list[MoveWarning]:
    """What moving the instance to ``target`` now would need confirmed (the domain's move
    checks), read without writing; none for an unknown instance or target."""

    def work(tx: Tx) -> list[MoveWarning]:
        row = tx.one(engine.sql.select_instance, {"iid": instance_id})
        if row is None:
            return []
        return _warnings(engine, tx, row, target, actor, lock=False)

    return engine.read(work)


def _warnings(
    engine: Engine, tx: Tx, row: Any, target: str, actor: str, *, lock: bool
) -> list[MoveWarning]:
    checks = engine.registry.move_checks(row.process)
    if not checks:
        return []
    if lock and row.business_key is not None:
        tx.lock(f"{row.process}:{row.business_key}")  # as ``Engine.check_exclusive``
    definition = engine.definition(row.process, row.definition_version)
    if target not in definition.states:
        return []
    ctx = engine.context(tx, row, MOVE_EVENT, {"to": target}, actor, engine.clock.now())
    return run_move_checks(checks, ctx, definition, definition, row.state, target)


def run_move_checks(
    checks: Sequence[MoveCheck],
    ctx: TransitionContext,
    source: ProcessDefinition,
    target: ProcessDefinition,
    state: str,
    goal: str,
) -> list[MoveWarning]:
    """What the domain's move ``checks`` say of moving the instance of ``ctx`` from ``state``
    (tagged as ``source`` tags it; untagged when ``source`` has no such state) to ``goal`` (as
    ``target`` tags it): a supervisor's move (one version) and a migration's mapped state (two)."""
    old = source.states.get(state)
    move = Move(state, old.tags if old else frozenset(), goal, target.states[goal].tags)
    return [w for check in checks if (w := check(ctx, move)) is not None]


def _load(
    engine: Engine, tx: Tx, instance_id: int, expected_version: int
) -> tuple[Any, ProcessDefinition]:
    row = engine.load(tx, instance_id)
    definition = engine.definition(row.process, row.definition_version)
    if is_ended(definition, row.state):
        raise InstanceEnded(instance_id, row.state)
    if row.version != expected_version:
        raise StaleIntervention(instance_id, expected_version, row.version)
    return row, definition


def _intervene(
    engine: Engine,
    tx: Tx,
    row: Any,
    definition: ProcessDefinition,
    target: str,
    event: str,
    actor: str,
    reason: str,
    confirmed: Sequence[str] = (),
) -> Transition:
    now = engine.clock.now()
    data: dict[str, Any] = {"reason": reason}
    if confirmed:
        data["confirmed"] = list(confirmed)
    if tx.run(engine.sql.update_instance, st.instance_move(row, target, now)) != 1:
        current = engine.load(tx, row.id).version
        raise StaleIntervention(row.id, row.version, current)
    tx.run(
        engine.sql.insert_history,
        st.history_row(
            row.id,
            row.process,
            event,
            row.state,
            target,
            actor,
            now,
            data=engine.registry.mask_data(data),
        ),
    )
    # What leaving a state does (``StateEffects.leave``), for whatever is still open.
    engine.effects.cancel_timers(tx, row.id, actor, now)
    tx.run(
        engine.sql.close_tasks,
        {"iid": row.id, "b_status": "cancelled", "b_now": now, "b_actor": actor, "b_event": event},
    )
    if target != CANCELLED:
        engine.effects.enter(tx, definition, target, row.id, dict(row.variables or {}), now)
    return Transition(row.id, row.process, event, row.state, target, row.version + 1)
