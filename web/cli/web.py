"""The ``shebao`` commands for the web side: staff accounts (``users
create|list|password|totp|scope|disable|enable``), the service clock (``clock show|set|reset``)
and the demo (``demo``)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from web.cli.scheduler import parse_moment
from web.cli.times import shown
from web.demo_accounts import reseed, service_clock
from web.extensions import SERVICE, domain_of, engine_of
from web.i18n import LOCAL_TZ
from web.mfa import SecondFactorExists, enroll, provisioning_uri
from web.migrate import upgrade_database
from web.passwords import MIN_LENGTH, WeakPassword, check_new_password, random_password
from web.security_log import record
from web.sessions import revoke_all, security_now
from web.staff import (
    GROUPS,
    SUPERVISOR,
    check_group_scope,
    create_user,
    find_staff,
    set_password,
    set_scope,
)
from web.staff_accounts import list_staff, set_disabled
from web.wiring import sync_definitions
from workflows.demo import DEFAULT_PEOPLE, DEFAULT_SEED, DEMO_AT


@click.group("users")
def users() -> None:
    """Staff accounts of the web pages."""


def _check_scope(group: str, scope: str | None) -> None:
    """Deny by default: a teller's scope is a partner bank, a clerk's a region, a supervisor has
    none (``web.auth.check_group_scope``), and the scope must be one the policies know."""
    try:
        check_group_scope(group, scope)
    except ValueError as exc:
        raise click.ClickException(f"{exc}; pass --scope" if scope is None else str(exc)) from None
    regions = domain_of().regions
    if group == "bank_teller" and regions.bank_label(scope or "") is None:
        known = sorted({code for region in regions for code in region.banks})
        raise click.ClickException(f"unknown bank {scope!r}; one of: {', '.join(known)}")
    if group in ("social_security_clerk", "medical_insurance_clerk") and scope not in regions:
        raise click.ClickException(f"unknown region {scope!r}; one of: {', '.join(regions.keys())}")


def _strong(password: str, username: str) -> str:
    try:
        check_new_password(password, username)
    except WeakPassword as exc:
        raise click.ClickException(f"refused: {exc.message.en} ({exc.message.zh})") from None
    return password


@users.command("create")
@click.argument("name")
@click.option("--group", required=True, type=click.Choice(GROUPS))
@click.option(
    "--scope",
    default=None,
    help="Required for every group but supervisor: the bank key of a teller, the region of a "
    "clerk.",
)
@click.option("--display-name", default=None)
@click.option(
    "--password",
    default=None,
    help=f"The password (at least {MIN_LENGTH} characters, not a common one; default: a random "
    "one, printed once).",
)
@with_appcontext
def users_create(
    name: str, group: str, scope: str | None, display_name: str | None, password: str | None
) -> None:
    """Create the staff account NAME in GROUP, limited to SCOPE (supervisors: no scope; they
    also need a second factor, ``shebao users totp NAME``, before they can log in)."""
    _check_scope(group, scope)
    chosen = _strong(password, name) if password is not None else random_password()
    try:
        create_user(engine_of().db, name, chosen, group, scope, display_name)
    except IntegrityError:
        raise click.ClickException(f"a user named {name!r} exists already") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {name} ({group}, scope={scope or '*'})")
    if password is None:
        click.echo(f"password (shown once): {chosen}")
    if group == SUPERVISOR:
        click.echo(f"a supervisor logs in with a second factor: run `shebao users totp {name}`")


@users.command("password")
@click.argument("name")
@click.option(
    "--password",
    default=None,
    help="The new password (default: asked for twice, not echoed).",
)
@with_appcontext
def users_password(name: str, password: str | None) -> None:
    """Give NAME a new password; every session of NAME ends."""
    chosen = password
    if chosen is None:
        chosen = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    engine = engine_of()
    try:
        ended = set_password(engine.db, name, _strong(chosen, name), security_now(), actor="cli")
    except LookupError:
        raise click.ClickException(f"no user named {name!r}") from None
    click.echo(f"password of {name} changed; {len(ended)} session(s) ended")


@users.command("totp")
@click.argument("name")
@click.option("--replace", is_flag=True, help="Replace an existing secret (a lost phone).")
@with_appcontext
def users_totp(name: str, replace: bool) -> None:
    """Give NAME a TOTP second factor and print its secret and otpauth URI once (add either to
    an authenticator app); replacing one ends NAME's sessions."""
    engine = engine_of()
    now = security_now()
    try:
        secret = enroll(engine.db, name, replace=replace)
    except LookupError:
        raise click.ClickException(f"no user named {name!r}") from None
    except SecondFactorExists:
        raise click.ClickException(
            f"{name} has a second factor already; --replace to give a new one"
        ) from None
    staff = find_staff(engine.db, name)
    ended = revoke_all(engine.db, staff.id, now) if replace and staff is not None else []
    record(engine.db, "totp_enrolled", actor="cli", at=now, user=name, replaced=replace)
    for session_id in ended:
        record(
            engine.db,
            "session_revoked",
            actor="cli",
            at=now,
            user=name,
            session_id=session_id,
            reason="totp_replaced",
        )
    click.echo(f"second factor of {name} (shown once; add it to an authenticator app):")
    click.echo(f"  secret: {secret}")
    click.echo(f"  uri:    {provisioning_uri(secret, name)}")


@users.command("scope")
@click.argument("name")
@click.argument("scope")
@with_appcontext
def users_scope(name: str, scope: str) -> None:
    """Set the SCOPE of a teller's or clerk's account NAME (an account without one cannot log
    in)."""
    staff = find_staff(engine_of().db, name)
    if staff is None:
        raise click.ClickException(f"no user named {name!r}")
    _check_scope(staff.group, scope)
    set_scope(engine_of().db, name, scope)
    click.echo(f"{name} ({staff.group}): scope={scope}")


@users.command("list")
@with_appcontext
def users_list() -> None:
    """Every staff account: username, display name, group, scope, second factor, disabled, last
    login (never a password hash or a secret)."""
    header = ("username", "name", "group", "scope", "2fa", "disabled", "last login")
    table = [header] + [
        (
            u.username,
            u.display_name,
            u.group,
            u.scope or "*",
            "yes" if u.second_factor else "no",
            "DISABLED" if u.disabled else "no",
            shown(u.last_login),
        )
        for u in list_staff(engine_of().db)
    ]
    widths = [max(_width(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = (cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: a Chinese character two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _set_disabled(name: str, disabled: bool) -> None:
    try:
        changed, ended = set_disabled(engine_of().db, name, disabled, security_now(), actor="cli")
    except LookupError:
        raise click.ClickException(f"no user named {name!r}") from None
    if not changed:
        click.echo(f"{name} is {'disabled' if disabled else 'enabled'} already")
    elif disabled:
        click.echo(f"{name} disabled: cannot log in; {len(ended)} session(s) ended")
    else:
        click.echo(f"{name} enabled: can log in again (password and second factor unchanged)")


@users.command("disable")
@click.argument("name")
@with_appcontext
def users_disable(name: str) -> None:
    """Disable NAME (someone who left): the account cannot log in (answered as a wrong
    password) and every session of NAME ends now; nothing is deleted."""
    _set_disabled(name, True)


@users.command("enable")
@click.argument("name")
@with_appcontext
def users_enable(name: str) -> None:
    """Enable the disabled account NAME again, as it was."""
    _set_disabled(name, False)


@click.command("demo")
@click.option(
    "--at",
    "at_text",
    metavar="ISO-DATE-OR-DATETIME",
    default=None,
    help=f"The demo date (default {DEMO_AT.isoformat()}; a date means 10:00 China time).",
)
@click.option("--people", default=DEFAULT_PEOPLE, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int)
@click.option("--yes", is_flag=True, help="Do not ask before wiping the database.")
@with_appcontext
def demo(at_text: str | None, people: int, seed: int, yes: bool) -> None:
    """Wipe every instance and account, simulate the demo up to the demo date, set the service
    clock to it, and create the demo accounts."""
    at = demo_moment(at_text) if at_text else DEMO_AT
    if not yes:
        click.confirm("This deletes every instance, task, timer and account. Go on?", abort=True)
    upgrade_database(current_app.config["SHEBAO_DATABASE_URL"])
    sync_definitions(current_app.extensions[SERVICE])  # the demo runs on the files as deployed
    try:
        lines = reseed(engine_of(), domain_of(), people=people, at=at, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


def demo_moment(text: str) -> datetime:
    """``--at``: a date (10:00 China time, as the default demo date) or a date-time with a zone."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return parse_moment(text)
    return datetime.combine(day, DEMO_AT.timetz())


@click.group("clock")
def clock() -> None:
    """The service clock: the system time, or a simulated time every process shares."""


@clock.command("show")
@with_appcontext
def clock_show() -> None:
    """Print the service time, and whether it is simulated."""
    service = service_clock(engine_of())
    service.refresh()
    now = service.now().astimezone(LOCAL_TZ).isoformat(timespec="seconds")
    stored = service.setting()
    if stored is None:
        click.echo(f"service clock: {now} (system clock)")
        return
    click.echo(
        f"service clock: {now} (simulated: set to {stored.get('set_to')} "
        f"at system time {stored.get('set_at')}; runs on from there)"
    )


@clock.command("set")
@click.argument("moment", metavar="ISO-DATETIME")
@with_appcontext
def clock_set(moment: str) -> None:
    """Make every process of the service read MOMENT (with a time zone) now, running on. Going
    back is allowed (a demo built again), with a warning: what fired stays fired."""
    at = parse_moment(moment)
    service = service_clock(engine_of())
    service.refresh()
    was = service.now()
    service.set(at)
    click.echo(f"service clock set to {at.astimezone(LOCAL_TZ).isoformat(timespec='seconds')}")
    click.echo("  (schedulers fire what is due at the new time within seconds)")
    if at < was:
        before = was.astimezone(LOCAL_TZ).isoformat(timespec="seconds")
        back = was - at
        zh, en = _span(back)
        click.echo(
            f"注意：业务时钟往回拨了 {zh}（原为 {before}）：已触发的期限不会撤销，已写入的历史时间晚于"
            f"新的时间 / warning: the service clock went back {en} (it was {before}): deadlines "
            "that fired stay fired, and the history already written is later than the new time",
            err=True,
        )


def _span(back: timedelta) -> tuple[str, str]:
    """How far the clock went back, in whole days, else hours, minutes or seconds."""
    seconds = int(back.total_seconds())
    for size, zh, en in ((86400, "天", "days"), (3600, "小时", "hours"), (60, "分钟", "minutes")):
        if seconds >= size:
            return f"{seconds // size} {zh}", f"{seconds // size} {en}"
    return f"{seconds} 秒", f"{seconds} seconds"


@clock.command("reset")
@with_appcontext
def clock_reset() -> None:
    """Back to the system clock."""
    service = service_clock(engine_of())
    service.reset()
    now = service.now().astimezone(LOCAL_TZ).isoformat(timespec="seconds")
    click.echo(f"service clock: {now} (system clock)")


def register(main: click.Group) -> None:
    main.add_command(users)
    main.add_command(demo)
    main.add_command(clock)
