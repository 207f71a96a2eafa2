"""The staff task inbox: the tasks a user's group and scope may take; claim, release, complete.

The operations (``claim``, ``release``, ``complete``) check the user's group and scope and call the
engine with the username as the actor (the engine checks the form by the definition's field types,
as it does for the tasks API); the views parse the request, call one of them and render. A workflow error
(someone else was faster, a guard said no) becomes a message on the page, never an error page;
an outcome that asks for a confirmation first is refused as the completion would be, before the
confirmation, when the task is closed or someone else holds it (409, the holder named) or its form
is one the engine refuses (422: a field missing, of the wrong type, a reference the task may not
name; ``may_complete``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine import queries
from engine.errors import (
    TaskClaimedByOther,
    TaskDelegated,
    TaskNotOpen,
    WorkflowError,
)
from engine.runtime import Engine
from engine.specs import ProcessDefinition
from web import i18n
from web.auth import Staff, abort_hidden, add_error_pages, can_act_on_task, can_read_task
from web.extensions import domain_of, engine_of
from web.pages import inbox_args as ia
from web.pages import inbox_queries as iq
from web.pages import inbox_team_queries as tq
from web.pages import task_confirmation as tc
from web.pages import task_decision as td
from web.pages import task_submission as ts
from workflows.identity import mask_id_number

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
add_error_pages(bp)


class OutOfScope(Exception):
    """The user may read the task but not act on it (HTTP 403)."""


class Hidden(LookupError):
    """The task is outside what the user may read: answered as an unknown one (HTTP 404)."""


# -- operations ------------------------------------------------------------------------------


def _task_for(engine: Engine, user: Staff, task_id: int, act: bool) -> dict[str, Any]:
    task = iq.task(engine.db, task_id)
    if task is None:
        raise LookupError(task_id)
    if not can_read_task(user, task):
        raise Hidden(task_id)
    if act and not can_act_on_task(user, task):
        raise OutOfScope(task_id)
    return task


def claim(engine: Engine, user: Staff, task_id: int) -> None:
    """Claim a task of the user's group and scope."""
    _task_for(engine, user, task_id, act=True)
    engine.claim_task(task_id, user.username)


def release(engine: Engine, user: Staff, task_id: int) -> None:
    """Give a task the user claimed back to the group."""
    _task_for(engine, user, task_id, act=True)
    engine.release_task(task_id, user.username)


def may_complete(
    engine: Engine,
    user: Staff,
    task_id: int,
    form: Mapping[str, str],
    outcome: str,
    submission: str | None = None,
) -> None:
    """Raise what completing the task with ``form`` and ``outcome`` would before it fires: its
    scope, its holder, and the form as the engine checks it (``Engine.check_task_form``: a field
    missing, of the wrong type, a reference the task may not name); fires nothing. A refusal is
    counted once per ``submission`` (``task_submission.key``)."""
    _task_for(engine, user, task_id, act=True)
    engine.check_task_form(
        task_id, actor=user.username, data=dict(form), outcome=outcome, submission=submission
    )


def complete(
    engine: Engine,
    user: Staff,
    task_id: int,
    form: Mapping[str, str],
    outcome: str | None,
    submission: str | None = None,
) -> None:
    """Complete a task with its form and chosen outcome. An unclaimed task is completed by the
    user without being claimed first, so a refused completion (recorded by the engine with its
    reason, once per ``submission``: a page posted again as it was is one attempt) leaves the
    task's claimant as it was.

    Raises:
        OutOfScope: not the user's group or scope.
        WorkflowError: the form is invalid, the task is no longer open or claimed by someone
            else, or a guard refused (e.g. the presented ID is not the one used to apply).
    """
    _task_for(engine, user, task_id, act=True)
    engine.complete_task(
        task_id, actor=user.username, data=dict(form), outcome=outcome, submission=submission
    )


# -- views -----------------------------------------------------------------------------------


def _me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _filters() -> iq.TaskFilter:
    return iq.filter_from(request.args)


def _task_kinds(engine: Engine, group: str) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for definition in engine.processes.values():
        for spec in definition.states.values():
            if spec.task and spec.task.candidate_group == group:
                kinds.setdefault(spec.task.name, spec.task.label.get(i18n.current_lang()))
    return kinds


def _task_groups(engine: Engine) -> list[str]:
    return sorted(
        {
            s.task.candidate_group
            for d in engine.processes.values()
            for s in d.states.values()
            if s.task
        }
    )


@bp.get("/")
def index() -> ResponseReturnValue:
    """The tasks the user may take, by due date, a page at a time (``?after=<cursor>``)."""
    engine, user = engine_of(), _me()
    groups = _task_groups(engine) if user.is_supervisor else [user.group]
    group = request.args.get("group") if user.is_supervisor else user.group
    group = group if group in groups else (groups[0] if groups else user.group)
    kinds, regions = _task_kinds(engine, group), ia.regions_of(user.scope, i18n.regions())
    unknown = ia.unknown_argument(request.args)
    if unknown is not None:
        words = i18n.t("unknown_inbox_argument").format(name=unknown)
        return render_template("error.html", message=words, code=400), 400
    bad = ia.bad_argument(request.args, groups=groups, kinds=kinds, regions=regions)
    if bad is not None:
        words = i18n.t("bad_inbox_argument").format(name=i18n.t(ia.WORD_OF[bad]))
        return render_template("error.html", message=words, code=400), 400
    filters = _filters()
    page = iq.open_tasks(
        engine.db,
        group,
        None if user.is_supervisor else user.scope,
        username=user.username,
        now=engine.clock.now(),
        filters=filters,
        cursor=iq.Cursor.decode(request.args.get("after"), filters.sort),
    )
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("after", "lang")}
    return render_template(
        "inbox/index.html",
        page=page,
        filters=filters,
        saved=tq.saved_with_counts(
            engine.db, user, engine.clock.now(), groups[0] if groups else group
        ),
        colleagues=tq.colleagues(engine.db, group) if user.is_supervisor else [],
        criteria=tq.criteria_of(request.args),
        days_overdue=iq.days_overdue,
        here=request.full_path.rstrip("?"),
        group=group,
        groups=groups,
        kinds=kinds,
        regions=regions,
        now=engine.clock.now(),
        processes=engine.processes,
        mask=mask_id_number,
        next_url=url_for("inbox.index", **args, after=page.next_cursor)
        if page.next_cursor
        else None,
        first_url=url_for("inbox.index", **args) if "after" in request.args else None,
    )


@bp.get("/<int:task_id>")
def detail(task_id: int) -> ResponseReturnValue:
    """A task: the person (ID masked), its form, the instance's history and diagram."""
    return _render_detail(task_id)


def _render_detail(
    task_id: int,
    status: int = 200,
    form: Mapping[str, str] | None = None,
    confirm: tuple[str, str, bool] | None = None,
) -> Any:
    """The task page; ``confirm``: the irreversible outcome chosen, to be confirmed, the token
    that binds the confirmation to the form's values, and whether an earlier confirmation was
    sent for other values (it is asked again)."""
    from web.pages.processes import instance_svg

    engine = engine_of()
    try:
        task = _task_for(engine, _me(), task_id, act=False)
    except Hidden:
        abort_hidden()
    except LookupError:
        abort(404)
    instance = queries.instance(engine.db, task["instance_id"])
    assert instance is not None
    definition = engine.definition(instance["process"], instance["definition_version"])
    spec = td.with_options(engine, definition.states[task["state"]].task, instance["variables"])
    history = queries.history(engine.db, instance["id"])
    outcomes = spec.events or definition.outgoing(task["state"]) if spec else ()
    return (
        render_template(
            "inbox/detail.html",
            task=task,
            choices_done=td.choices(definition, outcomes),
            submission_id=ts.new_id(),
            confirm=confirm[0] if confirm else None,
            confirm_token=confirm[1] if confirm else None,
            confirm_again=bool(confirm and confirm[2]),
            why=td.why(history, task),
            refusals=td.refusals(history, task_id),
            others=td.other_records(engine.db, domain_of().regions, _me(), instance),
            instance=instance,
            definition=definition,
            spec=spec,
            form=form or {},
            can_act=can_act_on_task(_me(), task),
            history=history,
            facts=td.task_facts(spec, instance["variables"], engine.registry),
            processes=engine.processes,
            choices=td.reference_choices(engine, instance["id"], spec)
            if task["status"] == "open"
            else {},
            svg=instance_svg(engine, instance, i18n.current_lang()),
            now=engine.clock.now(),
            mask=mask_id_number,
        ),
        status,
    )


def _refused(task_id: int, work: Any) -> ResponseReturnValue | None:
    """Run ``work``; the page answering the error it raised, or None when it raised none."""
    try:
        work()
    except Hidden:
        abort_hidden()
    except LookupError:
        abort(404)
    except OutOfScope:
        abort(403)
    except TaskDelegated as exc:
        flash(i18n.message(exc.message_zh, exc.message_en), "error")
        return _render_detail(task_id, 409)
    except (TaskNotOpen, TaskClaimedByOther) as exc:
        flash(
            f"{i18n.t('already')}{i18n.t('colon')}{i18n.message(exc.message_zh, exc.message_en)}",
            "error",
        )
        return _render_detail(task_id, 409)
    except WorkflowError as exc:
        flash(i18n.message(exc.message_zh, exc.message_en), "error")
        # the form back as typed, ID numbers too: the page gives each back whole in its own field
        # only (the ``refill`` filter), and masks them everywhere else
        form = td.posted(request.form, ("csrf_token", "outcome"))  # the boxes ticked, all
        return _render_detail(task_id, 422, form)
    return None


def _act(task_id: int, work: Any, done_word: str) -> ResponseReturnValue:
    refused = _refused(task_id, work)
    if refused is not None:
        return refused
    flash(i18n.t(done_word), "success")
    if done_word == "completed":
        return redirect(url_for("inbox.index"))
    return redirect(url_for("inbox.detail", task_id=task_id))


@bp.post("/<int:task_id>/claim")
def claim_view(task_id: int) -> ResponseReturnValue:
    return _act(task_id, lambda: claim(engine_of(), _me(), task_id), "claimed")


@bp.post("/<int:task_id>/release")
def release_view(task_id: int) -> ResponseReturnValue:
    return _act(task_id, lambda: release(engine_of(), _me(), task_id), "released")


@bp.post("/<int:task_id>/complete")
def complete_view(task_id: int) -> ResponseReturnValue:
    """Complete the task; an outcome that ends the instance is first shown back for confirmation,
    its form kept whole (an ID number given back only in the field it was typed in, by the
    ``refill`` filter) and locked. The confirmation is bound to the outcome and values it showed
    (``task_confirmation``): a completion whose values differ is asked again, naming the new
    ones; "go back" (``edit``) gives the form back to change, nothing checked. What the
    completion would refuse before firing (a task someone else holds or closed, a required field
    left empty, a value of the wrong type, a reference the task may not name) is refused before
    the confirmation, as the engine refuses it, the form given back whole too. A refusal is
    counted once per submission (``task_submission``): the page posted again as it was (a reload
    of the page that answered it) is refused again, not counted again."""
    form = td.posted(request.form, tc.NOT_VALUES)
    if request.form.get("edit"):
        return _render_detail(task_id, 200, form)
    outcome = request.form.get("outcome") or _only_outcome(task_id)
    key, name = current_app.secret_key or "", _me().username
    submission = ts.key(key, task_id, name, outcome, request.form)
    if outcome and _irreversible(task_id, outcome):
        sent = request.form.get("confirmed")
        if not tc.holds(key, sent, task_id, name, outcome, request.form):
            refused = _refused(
                task_id,
                lambda: may_complete(engine_of(), _me(), task_id, form, outcome, submission),
            )
            if refused is not None:
                return refused
            bound = tc.token(key, task_id, name, outcome, request.form)
            return _render_detail(task_id, 200, form, confirm=(outcome, bound, bool(sent)))
    return _act(
        task_id,
        lambda: complete(engine_of(), _me(), task_id, form, outcome, submission),
        "completed",
    )


def _definition_of(task_id: int) -> tuple[ProcessDefinition, dict[str, Any]] | None:
    """The definition version of ``task_id``'s instance, and the task (None: unknown)."""
    engine = engine_of()
    task = iq.task(engine.db, task_id)
    if task is None:
        return None
    instance = queries.instance(engine.db, task["instance_id"])
    if instance is None:
        return None
    return engine.definition(instance["process"], instance["definition_version"]), task


def _only_outcome(task_id: int) -> str | None:
    """The task's outcome when it has only one (a form sent without choosing is that one, and
    is confirmed like it); None when it has several (the engine then refuses to guess)."""
    found = _definition_of(task_id)
    if found is None:
        return None
    definition, task = found
    spec = definition.states[task["state"]].task if task["state"] in definition.states else None
    choices = (spec.events if spec else ()) or definition.outgoing(task["state"])
    return choices[0] if len(choices) == 1 else None


def _irreversible(task_id: int, outcome: str) -> bool:
    """Whether completing ``task_id`` with ``outcome`` ends its instance (unknown: no)."""
    found = _definition_of(task_id)
    return found is not None and td.needs_confirmation(found[0], outcome)
