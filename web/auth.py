"""The staff pages' login wiring: the login, code and logout pages, Flask-Login loading the user
from the server-side session (``web.sessions``), Flask-WTF's CSRF protection, the login requirement
on every page, error pages (a 403 is a security event), the language switch.

The operations these pages call (accounts, the steps of a login, who may act on a task) live in
``web.staff``; the names other modules import from here are re-exported.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from web import i18n, login_throttle, request_text, sessions
from web.log_masking import ID_LIKE as ID_NUMBER_LIKE
from web.login_throttle import TooManyAttempts
from web.security_log import record
from web.staff import (
    GROUPS,
    ID_LIKE,
    SUPERVISOR,
    Staff,
    attempts,
    can_act_on_task,
    can_read_task,
    check_group_scope,
    create_user,
    find_staff,
    in_scope,
    load_staff,
    set_password,
    set_scope,
    users,
)
from web.staff_login import (
    LoginRefused,
    authenticate,
    check_second_factor,
    end_session,
    open_session,
)
from workflows.identity import mask_id_number

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()

MAX_FAILURES = login_throttle.MAX_PER_ACCOUNT
FAILURE_WINDOW = login_throttle.WINDOW
UNTOUCHED_ENDPOINTS = {"account.session_status"}
"""Requests that are no activity of the user: a page asking how long its session has left."""
OPEN_ENDPOINTS = {
    "account.session_status",  # answers 401 itself: a page's script reads it, not a person
    "auth.login",
    "auth.login_code",
    "auth.language",
    "static",
    "health.healthz",  # no personal data in these three; /metrics has its own guard
    "health.readyz",
    "health.metrics_page",
}
PENDING = "login_pending"
"""Flask-session key of a login whose password passed and whose code is still to come."""
PENDING_FOR = timedelta(minutes=5)

__all__ = [
    "GROUPS",
    "SUPERVISOR",
    "LoginRefused",
    "Staff",
    "TooManyAttempts",
    "add_error_pages",
    "attempts",
    "authenticate",
    "can_act_on_task",
    "can_read_task",
    "check_group_scope",
    "check_second_factor",
    "create_user",
    "end_session",
    "find_staff",
    "in_scope",
    "init_app",
    "load_staff",
    "open_session",
    "set_password",
    "set_scope",
    "users",
]


# -- pages -----------------------------------------------------------------------------------


def _engine() -> Any:
    from web.extensions import engine_of

    return engine_of()


def _restart_flask_session() -> None:
    """A fresh Flask session (new CSRF token, nothing of the previous user), the language kept."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _login_page(status: int, word: str | None = None, **context: Any) -> ResponseReturnValue:
    if word:
        flash(i18n.t(word), "error")
    return render_template("login.html", **context), status


def _throttled(exc: TooManyAttempts, template: str, **context: Any) -> ResponseReturnValue:
    flash(i18n.t("too_many"), "error")
    return render_template(template, **context), 429, {"Retry-After": str(exc.retry_after)}


def _finish_login(staff: Staff, target: str | None, now: datetime, mfa_used: bool) -> Any:
    sid = open_session(
        _engine().db,
        staff,
        now,
        sessions.limits(),
        remote_addr=request.remote_addr,
        user_agent=request.user_agent.string,
        replaces=sessions.cookie_of(request),
        mfa_used=mfa_used,
    )
    _restart_flask_session()
    home = url_for("processes.index") if staff.is_supervisor else url_for("inbox.index")
    response = redirect(target or home)
    sessions.set_cookie(response, sid)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The password step; a successful login goes on to ``next`` (a local path) or the inbox,
    through the code step for an account with a second factor."""
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target)
    db, now = _engine().db, sessions.security_now()
    username = request.form.get("username", "").strip()
    shown = "" if ID_LIKE.fullmatch(username) else username  # never echo an ID number
    page = {"next": target, "username": shown}
    try:
        staff = authenticate(
            db, username, request.form.get("password", ""), request.remote_addr, now
        )
    except TooManyAttempts as exc:
        return _throttled(exc, "login.html", **page)
    except LoginRefused:
        return _login_page(401, "bad_login", **page)
    if staff.refusal is not None:
        record(
            db,
            "login_failed",
            actor=staff.username,
            remote_addr=request.remote_addr,
            at=now,
            reason=staff.refusal,
        )
        return _login_page(403, staff.refusal, **page)
    if staff.has_totp:
        _restart_flask_session()
        session[PENDING] = {"user": staff.id, "at": now.isoformat(), "next": target}
        return redirect(url_for(".login_code"))
    return _finish_login(staff, target, now, mfa_used=False)


def _pending(now: datetime) -> dict[str, Any] | None:
    found = session.get(PENDING)
    if not isinstance(found, dict):
        return None
    try:
        started = datetime.fromisoformat(str(found["at"]))
    except (KeyError, ValueError):
        return None
    if not timedelta(0) <= now - started <= PENDING_FOR:
        return None
    return found


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> ResponseReturnValue:
    """The second step: the 6-digit code of the account whose password just passed."""
    db, now = _engine().db, sessions.security_now()
    pending = _pending(now)
    if pending is None:
        if PENDING in session:
            session.pop(PENDING)
            flash(i18n.t("login_step_expired"), "error")
        return redirect(url_for(".login"))
    if request.method == "GET":
        return render_template("account/login_code.html")
    try:
        staff = check_second_factor(
            db, int(pending["user"]), request.form.get("code", ""), request.remote_addr, now
        )
    except TooManyAttempts as exc:
        session.pop(PENDING)
        return _throttled(exc, "login.html", next=pending.get("next"))
    except LoginRefused:
        flash(i18n.t("bad_code"), "error")
        return render_template("account/login_code.html"), 401
    return _finish_login(staff, _safe_next(pending.get("next")), now, mfa_used=True)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    current = sessions.current()
    if current is not None:
        end_session(
            _engine().db,
            current_user._get_current_object(),
            current.id,
            sessions.security_now(),
            remote_addr=request.remote_addr,
            logout=True,
        )
    _restart_flask_session()
    response = redirect(url_for("auth.login"))
    sessions.clear_cookie(response)
    return response


@bp.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("inbox.index"))


@bp.get("/lang/<code>")
def language(code: str) -> ResponseReturnValue:
    """Switch the language and go back (the switch itself happens in ``i18n`` on ``?lang=``)."""
    if code not in i18n.LANGS:
        abort(404)
    back = _safe_next(request.args.get("next")) or url_for("auth.home")
    return redirect(f"{back}{'&' if '?' in back else '?'}lang={code}")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host) is followed after login or a language
    switch, and none that carries anything looking like a resident ID number (browser history,
    access logs and the Referer would keep it): the default page instead."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    if ID_NUMBER_LIKE.search(unquote(target)):
        return None
    return target


def _require_login() -> ResponseReturnValue | None:
    endpoint = request.endpoint or ""
    if (
        endpoint in OPEN_ENDPOINTS
        or endpoint.startswith("api.")
        or request.path.startswith("/api/")
    ):
        return None  # the JSON API authenticates each request with a bearer token
    if current_user.is_authenticated:
        return None
    if sessions.was_dead():
        flash(i18n.t("session_expired"), "error")
    if request.method in ("GET", "HEAD"):
        back = request.full_path.rstrip("?")
        if ID_LIKE.search(unquote(back)):  # never carry an ID number into another URL
            back = request.path if not ID_LIKE.search(unquote(request.path)) else "/"
        return redirect(url_for("auth.login", next=back))
    return render_template("error.html", message=i18n.t("login_needed"), code=401), 401


def _load_from_session(req: Any) -> Staff | None:
    """Flask-Login's loader: the user of the live session whose id the cookie holds."""
    sid = sessions.cookie_of(req)
    if sid is None:
        return None
    db, now = _engine().db, sessions.security_now()
    touch = getattr(req, "endpoint", None) not in UNTOUCHED_ENDPOINTS
    row = sessions.find_live(db, sid, now, sessions.limits(), touch=touch)
    staff = load_staff(db, row.user_id) if row is not None else None
    if row is None or staff is None or staff.refusal is not None:
        sessions.mark_dead()
        return None
    sessions.set_current(row)
    return staff


def _error_page(code: int, word: str) -> Any:
    def handler(_error: Exception) -> ResponseReturnValue:
        if code == 403:
            _record_denial()
        return render_template("error.html", message=i18n.t(word), code=code), code

    return handler


def _record_denial() -> None:
    who = current_user.username if current_user.is_authenticated else None
    record(
        _engine().db,
        "permission_denied",
        actor=who,
        remote_addr=request.remote_addr,
        at=sessions.security_now(),
        endpoint=request.endpoint,
        path=ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), request.path)[:200],
        method=request.method,
    )


def forbidden_page(message: str) -> ResponseReturnValue:
    """A 403 on the error page saying why (``message``, in the user's language, where the generic
    ``forbidden`` words would not say what the user asked for), written to the security event
    log as every 403 is."""
    _record_denial()
    return render_template("error.html", message=message, code=403), 403


def abort_hidden() -> NoReturn:
    """Answer 404 for something outside the user's scope, as for one that does not exist (its
    existence is not revealed), and write the attempt to the security event log as a 403 is."""
    _record_denial()
    abort(404)


def add_error_pages(blueprint: Blueprint) -> None:
    """Answer 403 and 404 of ``blueprint``'s pages with a page in the user's language (the JSON
    API keeps its own error bodies, so these are per blueprint, not app-wide); a 403 is written
    to the security event log."""
    blueprint.register_error_handler(403, _error_page(403, "forbidden"))
    blueprint.register_error_handler(404, _error_page(404, "not_found"))


def _csrf_refused(_error: CSRFError) -> ResponseReturnValue:
    return render_template("error.html", message=i18n.t("csrf"), code=400), 400


add_error_pages(bp)


def init_app(app: Flask) -> None:
    """Set up languages, login management, CSRF protection and the login requirement."""
    from web.api.common import bp as api_bp

    i18n.init_app(app)
    request_text.init_app(app)  # a NUL anywhere: 400 before anything reads the request
    app.before_request(_require_login)  # before the CSRF check: a stranger gets 401, not 400
    csrf.init_app(app)
    csrf.exempt(api_bp)  # the JSON API authenticates with bearer tokens, not cookies
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # the server-side session is the protection
    login_manager.request_loader(_load_from_session)  # no user_loader: nothing in Flask's cookie
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_blueprint(bp)
