"""Supervisor actions on one instance: cancel it, or move it to another state, with a reason.

``GET /processes/instances/<id>/cancel`` and ``.../move?to=<state>`` are confirmation pages that
say what will happen (the open tasks and pending timers that will be cancelled; for a move, the
task and timers entering the target creates), with a reason to give; ``POST`` to the same address
does it through ``engine.interventions``. Supervisors only (403 for anyone else, recorded). The
form carries the instance version the supervisor saw: a second submit, or a change by someone
else meanwhile, answers 409 and changes nothing; so does a move to the state the instance is in
(its confirmation page reached again with Back after the move), saying so, with the way back to
the instance. A done intervention is in the instance's history (with the reason) and in the
security event log (without it: the log holds facts, not prose).
A move the domain's checks warn about (``Registry.add_move_check``: a card brought back into use
while its holder has another usable one) shows the warning on the confirmation page with a box
to tick for each; unticked, the POST answers 409 and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine import interventions, queries
from engine.definition import ProcessDefinition
from engine.errors import InstanceNotFound, WorkflowError
from engine.runtime import Engine
from web import i18n, security_log
from web.auth import add_error_pages
from web.extensions import domain_of, engine_of
from web.ids import parse_id
from web.log_masking import mask_text
from workflows import card_collection

bp = Blueprint("instance_actions", __name__, url_prefix="/processes/instances")
add_error_pages(bp)
log = logging.getLogger(__name__)


@bp.before_request
def _supervisors_only() -> None:
    if not current_user.is_authenticated or not current_user.is_supervisor:
        abort(403)


def state_label_for(lang: str) -> Callable[[ProcessDefinition, str | None], str]:
    """The templates' ``state_label``, knowing the engine's reserved cancelled state too."""
    return lambda definition, state: interventions.state_label(definition, state, lang)


def instance_context(
    definition: ProcessDefinition, row: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the instance page needs for its supervisor actions: whether the instance has ended,
    the states it may be moved to, the interventions done on it (with their reasons), and a
    ``state_label`` that names the reserved cancelled state; and, for a card waiting to be
    collected, where it is (``workflows.card_collection``)."""
    events = (interventions.CANCEL_EVENT, interventions.MOVE_EVENT)
    return {
        "collection_place": card_collection.collection_place(
            definition, domain_of().regions, row["state"], row["variables"] or {}
        ),
        "ended": interventions.is_ended(definition, row["state"]),
        "move_targets": interventions.move_targets(definition, row["state"]),
        "interventions": [h for h in history if h["event"] in events],
        "state_label": state_label_for(i18n.current_lang()),
    }


def _instance(engine: Engine, instance_id: int) -> tuple[dict[str, Any], ProcessDefinition]:
    row = queries.instance(engine.db, instance_id)
    if row is None:
        abort(404)
    return row, engine.definition(row["process"], row["definition_version"])


def _entering(
    engine: Engine, definition: ProcessDefinition, target: str, row: dict[str, Any]
) -> dict[str, Any]:
    """What entering ``target`` would create now: the rows ``StateEffects`` would write."""
    now, variables = engine.clock.now(), row["variables"] or {}
    try:
        timers = engine.effects.timer_rows(definition, target, row["id"], variables, now)
    except (WorkflowError, KeyError, ValueError) as exc:  # a policy date that does not resolve
        log.warning("timers of %s.%s cannot be previewed: %s", definition.key, target, exc)
        timers = []
    task = engine.effects.task_row(definition, target, row["id"], variables, now)
    return {"task": task, "timers": timers}


def _already(instance_id: int, definition: ProcessDefinition, state: str) -> str:
    """The refusal of a move to the state the instance is in, in the user's language."""
    refused = interventions.AlreadyInState(
        instance_id, state, interventions.label_of(definition, state)
    )
    return i18n.message(refused.message_zh, refused.message_en)


def _page(
    action: str,
    instance_id: int,
    *,
    target: str | None = None,
    error: str | None = None,
    reason: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    engine = engine_of()
    row, definition = _instance(engine, instance_id)
    lang = i18n.current_lang()
    ended = interventions.is_ended(definition, row["state"])
    targets = interventions.move_targets(definition, row["state"])
    if action == "move" and not ended and target and target not in targets:
        if status != 200:
            target = None  # a refusal (a form sent twice: the instance is there now): no target
        elif target == row["state"]:  # the browser's Back after the move: nothing to confirm
            error, status, target = _already(instance_id, definition, target), 409, None
        else:  # asked for a move the instance cannot make
            abort(400)
    opens = _entering(engine, definition, target, row) if target and not ended else None
    warnings = (
        interventions.move_warnings(engine, instance_id, target, _actor())
        if action == "move" and target and not ended
        else []
    )
    page = render_template(
        "processes/instance_action.html",
        action=action,
        definition=definition,
        instance=row,
        target=target,
        ended=ended,
        targets=targets,
        tasks=queries.tasks_of(engine.db, instance_id, "open"),
        timers=queries.timers_of(engine.db, instance_id, "pending"),
        opens=opens,
        warnings=warnings,
        error=error,
        reason=reason,  # given back whole in its field only (``refill``), masked elsewhere
        max_reason=interventions.MAX_REASON,
        state_label=state_label_for(lang),
    )
    return page, status


@bp.get("/<int:instance_id>/cancel")
def confirm_cancel(instance_id: int) -> ResponseReturnValue:
    """What cancelling the instance does, the reason to give, and the button that does it."""
    return _page("cancel", instance_id)


@bp.get("/<int:instance_id>/move")
def confirm_move(instance_id: int) -> ResponseReturnValue:
    """What moving the instance to ``?to=<state>`` does, with the reason to give (without
    ``to``: the states to choose from)."""
    return _page("move", instance_id, target=request.args.get("to", ""))


@bp.post("/<int:instance_id>/cancel")
def cancel(instance_id: int) -> ResponseReturnValue:
    return _act("cancel", instance_id)


@bp.post("/<int:instance_id>/move")
def move(instance_id: int) -> ResponseReturnValue:
    return _act("move", instance_id)


def _actor() -> str:
    return f"staff:{current_user.username}"


def _act(action: str, instance_id: int) -> ResponseReturnValue:
    """Parse the confirmation form, run the intervention, record it, go back to the instance."""
    engine = engine_of()
    version = parse_id(request.form.get("version"))
    target = request.form.get("to", "") if action == "move" else None
    reason = request.form.get("reason", "")
    if version is None:
        abort(400)
    actor = _actor()
    try:
        if action == "cancel":
            done = interventions.cancel(
                engine, instance_id, expected_version=version, actor=actor, reason=mask_text(reason)
            )
        else:
            done = interventions.move(
                engine,
                instance_id,
                str(target),
                expected_version=version,
                actor=actor,
                reason=mask_text(reason),
                confirmed=request.form.getlist("confirm"),
            )
    except InstanceNotFound:
        abort(404)
    except interventions.ReasonRequired as exc:
        text = i18n.message(exc.message_zh, exc.message_en)
        return _page(action, instance_id, target=target, error=text, reason=reason, status=400)
    except interventions.ConfirmationRequired as exc:
        text = i18n.message(exc.message_zh, exc.message_en)
        return _page(action, instance_id, target=target, error=text, reason=reason, status=409)
    except (
        interventions.StaleIntervention,
        interventions.InstanceEnded,
        interventions.AlreadyInState,  # before InvalidTarget, which it is a case of
    ) as exc:
        text = i18n.message(exc.message_zh, exc.message_en)
        return _page(action, instance_id, target=target, error=text, status=409)
    except interventions.InvalidTarget:
        abort(400)
    security_log.record(
        engine.db,
        "supervisor_intervention",
        actor=current_user.username,
        remote_addr=request.remote_addr,
        action=action,
        instance_id=instance_id,
        process=done.process,
        from_state=done.from_state,
        to_state=done.to_state,
        reason=mask_text(reason),
    )
    log.info(
        "supervisor %s: instance %s %s -> %s by %s",
        action,
        instance_id,
        done.from_state,
        done.to_state,
        actor,
    )
    flash(i18n.t(f"intervene_done_{action}"), "success")
    return redirect(url_for("processes.instance", instance_id=instance_id), 303)
