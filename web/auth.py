"""Staff accounts and sessions: login, logout, groups and scopes, CSRF, rate-limited logins.

Owns the operations on accounts (``create_user``, ``authenticate``), who may read or act on a task
(``can_read_task``, ``can_act_on_task``), and the app-wide wiring ``init_app`` sets up: Flask-Login,
Flask-WTF's CSRF protection, the login requirement on every page, error pages, the language switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

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
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import Table, func, insert, select
from werkzeug.security import check_password_hash, generate_password_hash

from web import i18n
from web.models import LoginAttempt, User

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()

GROUPS = ("social_security_clerk", "bank_teller", "medical_insurance_clerk", "supervisor")
SUPERVISOR = "supervisor"
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
OPEN_ENDPOINTS = {"auth.login", "auth.language", "static", "healthz"}

users: Table = User.__table__  # type: ignore[assignment]
attempts: Table = LoginAttempt.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Staff(UserMixin):  # type: ignore[misc]
    """A logged-in staff member, as the pages see one."""

    id: int
    username: str
    display_name: str
    group: str
    scope: str | None
    active: bool = True

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @property
    def is_supervisor(self) -> bool:
        return self.group == SUPERVISOR

    def get_id(self) -> str:
        return str(self.id)


class LoginRefused(Exception):
    """Wrong username or password, or a deactivated account."""


class TooManyAttempts(Exception):
    """Too many failed logins for this username lately (HTTP 429)."""


# -- operations ------------------------------------------------------------------------------


def create_user(
    db: SqlEngine,
    username: str,
    password: str,
    group: str,
    scope: str | None = None,
    display_name: str | None = None,
) -> Staff:
    """Create a staff account with a hashed password.

    Raises:
        ValueError: unknown group, or an empty username or password.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; one of: {', '.join(GROUPS)}")
    if not username.strip() or not password:
        raise ValueError("a username and a password are needed")
    values = {
        "username": username.strip(),
        "display_name": display_name or username.strip(),
        "password_hash": generate_password_hash(password),
        "group": group,
        "scope": scope or None,
        "active": True,
    }
    with db.begin() as conn:
        user_id = conn.execute(insert(users).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return Staff(int(user_id), values["username"], values["display_name"], group, values["scope"])


def load_staff(db: SqlEngine, user_id: int) -> Staff | None:
    with db.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    return Staff(row.id, row.username, row.display_name, row.group, row.scope, row.active)


def authenticate(
    db: SqlEngine, username: str, password: str, remote_addr: str | None, now: Any
) -> Staff:
    """Check a login and record the attempt.

    Raises:
        TooManyAttempts: ``MAX_FAILURES`` failures for this username within ``FAILURE_WINDOW``.
        LoginRefused: wrong username or password, or the account is deactivated.
    """
    with db.begin() as conn:
        failures = conn.execute(
            select(func.count())
            .select_from(attempts)
            .where(
                attempts.c.username == username,
                attempts.c.succeeded.is_(False),
                attempts.c.at >= now - FAILURE_WINDOW,
            )
        ).scalar_one()
        if failures >= MAX_FAILURES:
            raise TooManyAttempts(username)
        row = conn.execute(select(users).where(users.c.username == username)).first()
        ok = bool(row and row.active and check_password_hash(row.password_hash, password))
        conn.execute(
            insert(attempts).values(
                username=username[:64], remote_addr=remote_addr, succeeded=ok, at=now
            )
        )
    if not ok or row is None:
        raise LoginRefused(username)
    return Staff(row.id, row.username, row.display_name, row.group, row.scope, row.active)


def in_scope(user: Staff, task: Mapping[str, Any]) -> bool:
    """The task is one of the user's group and scope (a user without a scope has them all)."""
    return task["candidate_group"] == user.group and (
        user.scope is None or task["scope"] == user.scope
    )


def can_read_task(user: Staff, task: Mapping[str, Any]) -> bool:
    """Supervisors read every task; everyone else the tasks of their group and scope."""
    return user.is_supervisor or in_scope(user, task)


def can_act_on_task(user: Staff, task: Mapping[str, Any]) -> bool:
    """Only the task's own group, within scope, claims and completes it (not supervisors)."""
    return in_scope(user, task)


# -- pages -----------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The login form; a successful login goes on to ``next`` (a local path) or the inbox."""
    from web.extensions import engine_of

    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target)
    engine = engine_of()
    username = request.form.get("username", "").strip()
    try:
        staff = authenticate(
            engine.db,
            username,
            request.form.get("password", ""),
            request.remote_addr,
            engine.clock.now(),
        )
    except TooManyAttempts:
        flash(i18n.t("too_many"), "error")
        return render_template("login.html", next=target, username=username), 429
    except LoginRefused:
        flash(i18n.t("bad_login"), "error")
        return render_template("login.html", next=target, username=username), 401
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(staff)
    home = url_for("processes.index") if staff.is_supervisor else url_for("inbox.index")
    return redirect(target or home)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("auth.login"))


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
    """Only a path on this site (no scheme, no host) is followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
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
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return render_template("error.html", message=i18n.t("login_needed"), code=401), 401


def _load_user(user_id: str) -> Staff | None:
    from web.extensions import engine_of

    return load_staff(engine_of().db, int(user_id))


def _error_page(code: int, word: str) -> Any:
    def handler(_error: Exception) -> ResponseReturnValue:
        return render_template("error.html", message=i18n.t(word), code=code), code

    return handler


def add_error_pages(blueprint: Blueprint) -> None:
    """Answer 403 and 404 of ``blueprint``'s pages with a page in the user's language (the JSON
    API keeps its own error bodies, so these are per blueprint, not app-wide)."""
    blueprint.register_error_handler(403, _error_page(403, "forbidden"))
    blueprint.register_error_handler(404, _error_page(404, "not_found"))


def _csrf_refused(_error: CSRFError) -> ResponseReturnValue:
    return render_template("error.html", message=i18n.t("csrf"), code=400), 400


add_error_pages(bp)


def init_app(app: Flask) -> None:
    """Set up languages, login management, CSRF protection and the login requirement."""
    from web import api

    i18n.init_app(app)
    app.before_request(_require_login)  # before the CSRF check: a stranger gets 401, not 400
    csrf.init_app(app)
    csrf.exempt(api.bp)  # the JSON API authenticates with bearer tokens, not cookies
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_blueprint(bp)
