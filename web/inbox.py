"""The staff task inbox: the tasks a user's group and scope may take; claim, release, complete.

The operations (``claim``, ``release``, ``complete``) check the user's group and scope, validate the
task's form (an ``id_number`` field must be a valid resident ID number) and call the engine with the
username as the actor; the views parse the request, call one of them and render. A workflow error
(someone else was faster, a guard said no) becomes a message on the page, never an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine import queries
from engine.errors import TaskClaimedByOther, TaskNotOpen, WorkflowError
from engine.runtime import Engine
from web import i18n
from web import inbox_queries as iq
from web.app import engine_of
from web.auth import Staff, add_error_pages, can_act_on_task, can_read_task
from workflows.identity import InvalidIdNumber, mask_id_number, validate_id_number

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
add_error_pages(bp)


class OutOfScope(Exception):
    """The task is outside the user's group or scope (HTTP 403)."""


class FormInvalid(WorkflowError):
    """A field of the task's form failed its check; the message says which."""

    code = "form_invalid"


# -- operations ------------------------------------------------------------------------------


def _task_for(engine: Engine, user: Staff, task_id: int, act: bool) -> dict[str, Any]:
    task = iq.task(engine.db, task_id)
    if task is None:
        raise LookupError(task_id)
    allowed = can_act_on_task(user, task) if act else can_read_task(user, task)
    if not allowed:
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


def validate_form(
    engine: Engine, task: Mapping[str, Any], form: Mapping[str, str]
) -> dict[str, str]:
    """The task's form values, checked by field type.

    Raises:
        FormInvalid: an ``id_number`` field is not a valid ID number (says which check failed).
    """
    definition = engine.definition(task["process"])
    spec = definition.states[task["state"]].task
    values: dict[str, str] = {}
    for field in spec.form if spec else ():
        value = form.get(field.name, "").strip()
        if field.type == "id_number" and value:
            try:
                value = validate_id_number(value)
            except InvalidIdNumber as exc:
                raise FormInvalid(
                    f"{field.label.zh}：{exc.message_zh}", f"{field.label.en}: {exc.message_en}"
                ) from None
        values[field.name] = value
    return values


def complete(
    engine: Engine, user: Staff, task_id: int, form: Mapping[str, str], outcome: str | None
) -> None:
    """Complete a task with its form and chosen outcome; an unclaimed task is claimed first.

    Raises:
        OutOfScope: not the user's group or scope.
        WorkflowError: the form is invalid, the task is no longer open or claimed by someone
            else, or a guard refused (e.g. the presented ID is not the one used to apply).
    """
    task = _task_for(engine, user, task_id, act=True)
    values = validate_form(engine, task, form)
    if task["assignee"] != user.username:
        engine.claim_task(task_id, user.username)
    engine.complete_task(task_id, actor=user.username, data=values, outcome=outcome)


# -- views -----------------------------------------------------------------------------------


def _me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _filters() -> iq.TaskFilter:
    args = request.args
    within = args.get("within", type=int)
    return iq.TaskFilter(
        kind=args.get("kind") or None,
        region=args.get("region") or None,
        overdue=args.get("overdue") == "1",
        due_within_days=within if within is not None and within >= 0 else None,
        mine=args.get("mine") == "1",
    )


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
    filters = _filters()
    page = iq.open_tasks(
        engine.db,
        group,
        None if user.is_supervisor else user.scope,
        username=user.username,
        now=engine.clock.now(),
        filters=filters,
        cursor=iq.Cursor.decode(request.args.get("after")),
    )
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("after", "lang")}
    return render_template(
        "inbox/index.html",
        page=page,
        filters=filters,
        group=group,
        groups=groups,
        kinds=_task_kinds(engine, group),
        regions=i18n.REGIONS,
        now=engine.clock.now(),
        processes=engine.processes,
        mask=mask_id_number,
        next_url=url_for(".index", **args, after=page.next_cursor) if page.next_cursor else None,
        first_url=url_for(".index", **args) if "after" in request.args else None,
    )


@bp.get("/<int:task_id>")
def detail(task_id: int) -> ResponseReturnValue:
    """A task: the person (ID masked), its form, the instance's history and diagram."""
    return _render_detail(task_id)


def _render_detail(task_id: int, status: int = 200, form: Mapping[str, str] | None = None) -> Any:
    from web.processes import instance_svg

    engine = engine_of()
    try:
        task = _task_for(engine, _me(), task_id, act=False)
    except LookupError:
        abort(404)
    except OutOfScope:
        abort(403)
    instance = queries.instance(engine.db, task["instance_id"])
    assert instance is not None
    definition = engine.definition(instance["process"], instance["definition_version"])
    spec = definition.states[task["state"]].task
    return (
        render_template(
            "inbox/detail.html",
            task=task,
            instance=instance,
            definition=definition,
            spec=spec,
            form=form or {},
            can_act=can_act_on_task(_me(), task),
            history=queries.history(engine.db, instance["id"]),
            svg=instance_svg(engine, instance, i18n.current_lang()),
            now=engine.clock.now(),
            mask=mask_id_number,
        ),
        status,
    )


def _act(task_id: int, work: Any, done_word: str) -> ResponseReturnValue:
    try:
        work()
    except LookupError:
        abort(404)
    except OutOfScope:
        abort(403)
    except (TaskNotOpen, TaskClaimedByOther) as exc:
        flash(f"{i18n.t('already')}：{i18n.message(exc.message_zh, exc.message_en)}", "error")
        return _render_detail(task_id, 409)
    except WorkflowError as exc:
        flash(i18n.message(exc.message_zh, exc.message_en), "error")
        form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "outcome")}
        return _render_detail(task_id, 422, form)
    flash(i18n.t(done_word), "success")
    if done_word == "completed":
        return redirect(url_for(".index"))
    return redirect(url_for(".detail", task_id=task_id))


@bp.post("/<int:task_id>/claim")
def claim_view(task_id: int) -> ResponseReturnValue:
    return _act(task_id, lambda: claim(engine_of(), _me(), task_id), "claimed")


@bp.post("/<int:task_id>/release")
def release_view(task_id: int) -> ResponseReturnValue:
    return _act(task_id, lambda: release(engine_of(), _me(), task_id), "released")


@bp.post("/<int:task_id>/complete")
def complete_view(task_id: int) -> ResponseReturnValue:
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "outcome")}
    outcome = request.form.get("outcome") or None
    return _act(task_id, lambda: complete(engine_of(), _me(), task_id, form, outcome), "completed")
