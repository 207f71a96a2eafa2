"""The inbox's team work (issue 18): supervisors assign, reassign, delegate and unclaim tasks;
staff delegate their own task to a colleague and give a delegated one back (resolve); a selection
of tasks is claimed, assigned, unclaimed or prioritised in one POST (``inbox_bulk``); follow-up
dates, priorities, comments; saved filters, shared within the owner's group and scope.

Who may do what is decided here (the engine knows no users): a task goes only to an active member
of its candidate group and scope. The operations call ``engine.task_team``, which audits each
change in the instance's history. Bad input is answered 400/422, an action the user may not take
403, an unknown task or one out of the user's scope 404 (its existence is not revealed), a closed
one 409, one a colleague holds 409; nothing changes then.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import delete, insert

from engine import task_team as tt
from engine.errors import TaskClaimedByOther, TaskNotFound, TaskNotOpen, WorkflowError
from engine.runtime import Engine
from web import i18n
from web.auth import (
    Staff,
    abort_hidden,
    add_error_pages,
    can_act_on_task,
    can_read_task,
    forbidden_page,
)
from web.extensions import engine_of
from web.ids import parse_id
from web.pages import inbox_bulk
from web.pages import inbox_queries as iq
from web.pages import inbox_team_queries as tq
from web.pages.inbox_bulk import bulk
from web.pages.inbox_refusal import Refused

bp = Blueprint("inbox_team", __name__, url_prefix="/inbox")
add_error_pages(bp)


# -- operations ---------------------------------------------------------------------------------


class Hidden(Exception):
    """The task is outside what the user may read: answered as an unknown one (HTTP 404)."""


def _task(engine: Engine, task_id: int, user: Staff) -> dict[str, Any]:
    task = iq.task(engine.db, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if not can_read_task(user, task):
        raise Hidden(task_id)
    return task


def _check_taker(engine: Engine, username: str, task: dict[str, Any]) -> None:
    if not username or not tq.may_take(engine.db, username, task):
        raise Refused(422, "not_a_colleague")


def assign(engine: Engine, user: Staff, task_id: int, assignee: str) -> None:
    """A supervisor gives the task to a member of its group and scope."""
    task = _task(engine, task_id, user)
    if not user.is_supervisor:
        raise Refused(403, "forbidden")
    _check_taker(engine, assignee, task)
    tt.assign(engine, task_id, assignee, user.username)


def unassign(engine: Engine, user: Staff, task_id: int) -> None:
    """A supervisor takes the task back to the group."""
    _task(engine, task_id, user)
    if not user.is_supervisor:
        raise Refused(403, "forbidden")
    tt.unassign(engine, task_id, user.username)


def delegate(engine: Engine, user: Staff, task_id: int, assignee: str) -> None:
    """A supervisor, or the member holding the task, hands it to a colleague to work on."""
    task = _task(engine, task_id, user)
    holder = None
    if not user.is_supervisor:
        if not can_act_on_task(user, task) or task["assignee"] != user.username:
            raise Refused(403, "forbidden")
        holder = user.username
    if assignee == task["assignee"]:
        raise Refused(422, "not_a_colleague")
    _check_taker(engine, assignee, task)
    tt.delegate(engine, task_id, assignee, user.username, expect_assignee=holder)


def resolve(engine: Engine, user: Staff, task_id: int) -> None:
    """The delegate (or a supervisor) gives the task back to its owner."""
    task = _task(engine, task_id, user)
    holder = None
    if not user.is_supervisor:
        if not can_act_on_task(user, task) or task["assignee"] != user.username:
            raise Refused(403, "forbidden")
        holder = user.username
    tt.resolve(engine, task_id, user.username, expect_assignee=holder)


def _may_follow_up(user: Staff, task: dict[str, Any]) -> bool:
    """Whether the user's follow-up date would be taken: a member of the task's group and scope
    or a supervisor, while nobody but the user holds the task (as ``tt.set_follow_up`` rules)."""
    allowed = user.is_supervisor or can_act_on_task(user, task)
    return allowed and task["assignee"] in (None, user.username)


def follow_up_days(engine: Engine) -> tuple[date, date]:
    """The first and the last day a follow-up date may be set to: tomorrow (local time), and
    ``tt.MAX_FOLLOW_UP_DAYS`` days from today."""
    today = engine.clock.now().astimezone(i18n.LOCAL_TZ).date()
    return today + timedelta(days=1), today + timedelta(days=tt.MAX_FOLLOW_UP_DAYS)


def set_follow_up(engine: Engine, user: Staff, task_id: int, day: str) -> None:
    """Hide the task from the to-do lists (not from the overdue ones) until the start of ``day``
    (``YYYY-MM-DD``, local time, at most ``tt.MAX_FOLLOW_UP_DAYS`` days ahead); empty: show it.
    A task someone else holds is refused (409), a supervisor asking too."""
    task = _task(engine, task_id, user)
    if not (user.is_supervisor or can_act_on_task(user, task)):
        raise Refused(403, "forbidden")
    when = None
    if day:
        try:
            parsed = datetime.strptime(day, "%Y-%m-%d").date()
        except ValueError:
            raise Refused(400, "bad_date") from None
        when = datetime.combine(parsed, time(), i18n.LOCAL_TZ)
        if when <= engine.clock.now():
            raise Refused(422, "follow_up_future")
        last = follow_up_days(engine)[1]
        if parsed > last:
            raise Refused(
                422, "follow_up_too_late", last=last.isoformat(), days=tt.MAX_FOLLOW_UP_DAYS
            )
    try:  # only the holder, or anyone while nobody holds it: the engine's rule
        tt.set_follow_up(engine, task_id, when, user.username)
    except TaskClaimedByOther:
        raise Refused(409, "held_by_colleague") from None


def set_priority(engine: Engine, user: Staff, task_id: int, value: str) -> None:
    """A supervisor sets the task's priority (0-100)."""
    _task(engine, task_id, user)
    if not user.is_supervisor:
        raise Refused(403, "forbidden")
    try:
        priority = int(value)
    except ValueError:
        raise Refused(400, "bad_priority") from None
    if not 0 <= priority <= 100:
        raise Refused(422, "bad_priority")
    tt.set_priority(engine, task_id, priority, user.username)


def comment(engine: Engine, user: Staff, task_id: int, body: str) -> None:
    """Anyone who may read the task comments on it."""
    task = _task(engine, task_id, user)
    if not can_read_task(user, task):
        raise Refused(403, "forbidden")
    if not body.strip() or len(body.strip()) > tt.MAX_COMMENT:
        raise Refused(422, "bad_comment")
    tt.add_comment(engine, task_id, user.username, body)


# -- views --------------------------------------------------------------------------------------


def _task_id(text: str) -> int:
    found = parse_id(text)
    if found is None:
        raise ValueError(text)
    return found


def _me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _refused(status: int, text: str, task_id: int | None) -> ResponseReturnValue:
    from web.pages import inbox

    flash(text, "error")
    if task_id is None:
        return inbox.index(), status  # type: ignore[return-value]
    return inbox._render_detail(task_id, status)  # noqa: SLF001 - the same page, with the message


def _run(task_id: int, work: Any, done_word: str) -> ResponseReturnValue:
    try:
        work()
    except Hidden:
        abort_hidden()
    except TaskNotFound:
        abort(404)
    except Refused as exc:
        if exc.status == 403:
            abort(403)
        return _refused(exc.status, exc.text(), task_id)
    except (TaskNotOpen, TaskClaimedByOther) as exc:
        text = f"{i18n.t('already')}{i18n.t('colon')}{i18n.message(exc.message_zh, exc.message_en)}"
        return _refused(409, text, task_id)
    except WorkflowError as exc:
        return _refused(422, i18n.message(exc.message_zh, exc.message_en), task_id)
    flash(i18n.t(done_word), "success")
    return redirect(url_for("inbox.detail", task_id=task_id), 303)


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.post("/<int:task_id>/assign")
def assign_view(task_id: int) -> ResponseReturnValue:
    who = _field("assignee")
    return _run(task_id, lambda: assign(engine_of(), _me(), task_id, who), "team_assigned")


@bp.post("/<int:task_id>/unassign")
def unassign_view(task_id: int) -> ResponseReturnValue:
    return _run(task_id, lambda: unassign(engine_of(), _me(), task_id), "team_unassigned")


@bp.post("/<int:task_id>/delegate")
def delegate_view(task_id: int) -> ResponseReturnValue:
    who = _field("assignee")
    return _run(task_id, lambda: delegate(engine_of(), _me(), task_id, who), "team_delegated")


@bp.post("/<int:task_id>/resolve")
def resolve_view(task_id: int) -> ResponseReturnValue:
    return _run(task_id, lambda: resolve(engine_of(), _me(), task_id), "team_resolved")


@bp.post("/<int:task_id>/follow-up")
def follow_up_view(task_id: int) -> ResponseReturnValue:
    day = _field("follow_up")
    return _run(task_id, lambda: set_follow_up(engine_of(), _me(), task_id, day), "team_saved")


@bp.post("/<int:task_id>/priority")
def priority_view(task_id: int) -> ResponseReturnValue:
    value = _field("priority")
    return _run(task_id, lambda: set_priority(engine_of(), _me(), task_id, value), "team_saved")


@bp.post("/<int:task_id>/comments")
def comment_view(task_id: int) -> ResponseReturnValue:
    body = request.form.get("body") or ""
    return _run(task_id, lambda: comment(engine_of(), _me(), task_id, body), "team_commented")


@bp.post("/bulk")
def bulk_view() -> ResponseReturnValue:
    """Claim, assign, unclaim or prioritise the ticked tasks; the answer says how many changed,
    how many had closed. A selection naming an unknown task, or one the user may not read, is a
    404 (``inbox_bulk``)."""
    try:
        ids = [_task_id(v) for v in request.form.getlist("task_id")]
        action, assignee, priority = _field("action"), _field("assignee"), _field("priority")
        result = bulk(engine_of(), _me(), ids, action, assignee, priority)
    except inbox_bulk.Unknown as exc:
        if exc.hidden:
            abort_hidden()
        abort(404)
    except ValueError:
        return _refused(400, i18n.t("bad_selection"), None)
    except Refused as exc:
        if exc.status == 403:
            return forbidden_page(exc.text())
        return _refused(exc.status, exc.text(), None)
    except WorkflowError as exc:
        return _refused(422, i18n.message(exc.message_zh, exc.message_en), None)
    text = i18n.t("bulk_done").format(
        changed=len(result.changed), closed=len(result.not_open), skipped=len(result.skipped)
    )
    flash(text, "success")
    return redirect(_back(), 303)


def _back() -> str:
    """The inbox page the form came from (a relative ``/inbox/...`` only)."""
    target = request.form.get("back") or ""
    return target if target.startswith("/inbox/") and "//" not in target else url_for("inbox.index")


@bp.post("/filters")
def save_filter() -> ResponseReturnValue:
    """Save the current inbox query under a name, private or shared with the user's group."""
    user, engine = _me(), engine_of()
    name = _field("name")
    if not name or len(name) > 64:
        return _refused(422, i18n.t("bad_filter_name"), None)
    criteria: dict[str, Any] = tq.criteria_of(request.form)
    with engine.db.begin() as conn:
        conn.execute(
            insert(tq.saved_filters).values(
                name=name,
                owner=user.username,
                shared_group=user.group if request.form.get("shared") == "1" else None,
                criteria=criteria,
                created_at=engine.clock.now(),
            )
        )
    flash(i18n.t("filter_saved"), "success")
    return redirect(url_for("inbox.index", **criteria), 303)


@bp.post("/filters/<int:filter_id>/delete")
def delete_filter(filter_id: int) -> ResponseReturnValue:
    """Delete one of the user's own filters (someone else's: 404, nothing changes)."""
    f = tq.saved_filters.c
    with engine_of().db.begin() as conn:
        gone = conn.execute(
            delete(tq.saved_filters).where(f.id == filter_id, f.owner == _me().username)
        ).rowcount
    if not gone:
        abort(404)
    flash(i18n.t("filter_deleted"), "success")
    return redirect(url_for("inbox.index"), 303)


# -- the detail page's team block ---------------------------------------------------------------


def team_of(task: dict[str, Any]) -> dict[str, Any]:
    """What ``inbox/_team.html`` shows of a task: its comments, its team history, who it may go
    to, and what the user may do."""
    engine, user = engine_of(), _me()
    holds = task["assignee"] == user.username and can_act_on_task(user, task)
    is_open = task["status"] == "open"
    history = [
        h
        for h in _history(engine, task["instance_id"])
        if h["event"] in tt.EVENTS and h["task_id"] == task["id"]
    ]
    return {
        "comments": tt.comments_of(engine.db, task["id"]),
        "history": history,
        "colleagues": [
            c
            for c in tq.colleagues(engine.db, task["candidate_group"], task["scope"] or "")
            if c["username"] != task["assignee"]
        ]
        if task["scope"]
        else [],
        "supervise": user.is_supervisor and is_open,
        "delegate": is_open and bool(task["assignee"]) and (user.is_supervisor or holds),
        "resolve": is_open and bool(task.get("owner")) and (user.is_supervisor or holds),
        "follow_up": is_open and _may_follow_up(user, task),
        "comment": is_open,
        "follow_up_day": task["follow_up_at"].astimezone(i18n.LOCAL_TZ).strftime("%Y-%m-%d")
        if task.get("follow_up_at") and task["follow_up_at"] > engine.clock.now()
        else "",
        "follow_up_range": [d.isoformat() for d in follow_up_days(engine)],
    }


def _history(engine: Engine, instance_id: int) -> list[dict[str, Any]]:
    from engine import queries

    return list(queries.history(engine.db, instance_id))


@bp.app_context_processor
def _team_helpers() -> dict[str, Any]:
    return {"team_of": team_of}
