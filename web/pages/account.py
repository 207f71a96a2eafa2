"""The signed-in user's own account pages, and the supervisors' security event log.

``/account/sessions`` lists the user's live sessions (the current one marked) and ends one or all
the others; ``/account/password`` changes the password (the current one is asked again, the rules
of ``web.passwords`` apply, every session ends and this browser gets a new one);
``/security/events`` shows supervisors the latest security events, newest first.

``/account/session`` tells a page's script how long the browser's session has left (idle and at
most) without counting as activity, and a fresh CSRF token (after a login in another tab, a form
typed before it can still be sent); ``POST /account/session/keep-alive`` is the "stay signed in"
of the warning the pages show before an idle session ends (``web/static/session.js``).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from web import i18n, sessions
from web.auth import add_error_pages, logout
from web.extensions import engine_of
from web.login_throttle import TooManyAttempts
from web.passwords import MIN_LENGTH, WeakPassword
from web.security_log import KINDS, recent
from web.security_words import DetailPart, detail_parts
from web.staff import Staff, set_password
from web.staff_login import LoginRefused, authenticate, end_session, open_session

bp = Blueprint("account", __name__)
add_error_pages(bp)
EVENTS_SHOWN = 200


def _me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _session_answer(row: Any) -> ResponseReturnValue:
    idle_left, session_left = sessions.seconds_left(row, sessions.security_now(), sessions.limits())
    answer = jsonify(
        live=True, idle_left=idle_left, session_left=session_left, csrf_token=generate_csrf()
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.get("/account/session")
def session_status() -> ResponseReturnValue:
    """How long this browser's session has left, for the page's script; not an activity."""
    row = sessions.current() if current_user.is_authenticated else None
    if row is None:
        answer = jsonify(live=False)
        answer.headers["Cache-Control"] = "no-store"
        return answer, 401
    return _session_answer(row)


@bp.post("/account/session/keep-alive")
def keep_alive() -> ResponseReturnValue:
    """Stay signed in: the session's idle time starts again (its end does not move)."""
    row = sessions.current()
    if row is None:
        abort(401)
    return _session_answer(sessions.keep_alive(engine_of().db, row.id, sessions.security_now()))


@bp.get("/account/sessions")
def sessions_page() -> ResponseReturnValue:
    """The user's live sessions: when they began, were last used, from where; the current one."""
    now = sessions.security_now()
    current = sessions.current()
    rows = sessions.live_sessions(engine_of().db, _me().id, now, sessions.limits())
    return render_template(
        "account/sessions.html",
        rows=rows,
        current_id=current.id if current is not None else None,
    )


@bp.post("/account/sessions/<int:session_id>/end")
def end_one(session_id: int) -> ResponseReturnValue:
    """End one of the user's sessions (ending the current one logs this browser out)."""
    current = sessions.current()
    if current is not None and current.id == session_id:
        return logout()
    ended = end_session(
        engine_of().db,
        _me(),
        session_id,
        sessions.security_now(),
        remote_addr=request.remote_addr,
    )
    if not ended:
        abort(404)
    flash(i18n.t("session_ended"), "success")
    return redirect(url_for(".sessions_page"))


@bp.post("/account/sessions/end-others")
def end_others() -> ResponseReturnValue:
    """End every session of the user but this one."""
    db, now, me = engine_of().db, sessions.security_now(), _me()
    current = sessions.current()
    keep = current.id if current is not None else None
    ended = [
        row["id"]
        for row in sessions.live_sessions(db, me.id, now, sessions.limits())
        if row["id"] != keep
    ]
    count = sum(
        end_session(db, me, session_id, now, remote_addr=request.remote_addr)
        for session_id in ended
    )
    flash(i18n.t("other_sessions_ended").format(count=count), "success")
    return redirect(url_for(".sessions_page"))


@bp.route("/account/password", methods=["GET", "POST"])
def password_page() -> ResponseReturnValue:
    """Change one's password: the current one, the new one twice."""
    if request.method == "GET":
        return render_template("account/password.html", min_length=MIN_LENGTH)
    db, now, me = engine_of().db, sessions.security_now(), _me()
    new = request.form.get("new_password", "")
    page: dict[str, Any] = {"min_length": MIN_LENGTH}
    try:
        authenticate(
            db, me.username, request.form.get("current_password", ""), request.remote_addr, now
        )
    except TooManyAttempts as exc:
        flash(i18n.t("too_many"), "error")
        return (
            render_template("account/password.html", **page),
            429,
            {"Retry-After": str(exc.retry_after)},
        )
    except LoginRefused:
        flash(i18n.t("wrong_current_password"), "error")
        return render_template("account/password.html", **page), 401
    if new != request.form.get("repeat_password", ""):
        flash(i18n.t("passwords_differ"), "error")
        return render_template("account/password.html", **page), 422
    try:
        set_password(db, me.username, new, now, actor=me.username, remote_addr=request.remote_addr)
    except WeakPassword as exc:
        flash(exc.message.get(i18n.current_lang()), "error")
        return render_template("account/password.html", **page), 422
    sid = open_session(
        db,
        me,
        now,
        sessions.limits(),
        remote_addr=request.remote_addr,
        user_agent=request.user_agent.string,
        mfa_used=me.has_totp,
        reason="password_changed",
    )
    flash(i18n.t("password_changed"), "success")
    response = redirect(url_for(".sessions_page"))
    sessions.set_cookie(response, sid)
    return response


@bp.get("/security/events")
def security_events() -> ResponseReturnValue:
    """The latest security events, newest first (supervisors only), optionally of one kind."""
    if not _me().is_supervisor:
        abort(403)
    kind = request.args.get("kind") or None
    if kind is not None and kind not in KINDS:
        kind = None
    return render_template(
        "security/events.html",
        events=recent(engine_of().db, EVENTS_SHOWN, kind),
        kinds=KINDS,
        kind=kind,
        detail_of=_detail_of,
    )


def _detail_of(detail: Any) -> list[DetailPart]:
    """An event's detail in the page's language: keys and codes by their words."""
    engine, lang = engine_of(), i18n.current_lang()

    def process_label(key: str) -> str | None:
        found = engine.processes.get(key)
        return found.label.get(lang) if found else None

    def state_label(process: str, state: str) -> str | None:
        found = engine.processes.get(process)
        return i18n.state_label(found, state) if found else None

    return detail_parts(
        detail if isinstance(detail, dict) else None,
        lang,
        yes_no=(i18n.t("yes"), i18n.t("no")),
        process_label=process_label,
        state_label=state_label,
    )


WARN_BEFORE_S = 120
"""The pages warn this long before an idle session ends (at most half the idle limit)."""


def session_clock() -> dict[str, int] | None:
    """For the page's warning (``base.html``): the session's seconds left, idle and at most."""
    row = sessions.current() if current_user.is_authenticated else None
    if row is None:
        return None
    limits = sessions.limits()
    idle_left, session_left = sessions.seconds_left(row, sessions.security_now(), limits)
    warn = min(WARN_BEFORE_S, int(limits.idle.total_seconds()) // 2)
    hours = int(limits.max_age.total_seconds()) // 3600
    return {
        "idle_left": idle_left,
        "session_left": session_left,
        "warn_before": warn,
        "max_hours": hours,
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(lambda: {"session_clock": session_clock})
