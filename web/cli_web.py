"""The ``shebao`` commands for the web side: staff accounts (``users create``), the service clock
(``clock show|set|reset``) and the demo (``demo``)."""

from __future__ import annotations

import secrets
from datetime import date, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from web.auth import GROUPS, create_user
from web.cli_scheduler import parse_moment
from web.demo_accounts import reseed, service_clock
from web.extensions import domain_of, engine_of
from web.i18n import LOCAL_TZ
from web.migrate import upgrade_database
from workflows.demo import DEFAULT_PEOPLE, DEFAULT_SEED, DEMO_AT


@click.group("users")
def users() -> None:
    """Staff accounts of the web pages."""


@users.command("create")
@click.argument("name")
@click.option("--group", required=True, type=click.Choice(GROUPS))
@click.option("--scope", default=None, help="Bank key for a teller, region for a clerk.")
@click.option("--display-name", default=None)
@click.option(
    "--password",
    default=None,
    help="The password (default: a random one, printed once).",
)
@with_appcontext
def users_create(
    name: str, group: str, scope: str | None, display_name: str | None, password: str | None
) -> None:
    """Create the staff account NAME in GROUP, limited to SCOPE (all scopes when omitted)."""
    chosen = password or secrets.token_urlsafe(9)
    try:
        create_user(engine_of().db, name, chosen, group, scope, display_name)
    except IntegrityError:
        raise click.ClickException(f"a user named {name!r} exists already") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {name} ({group}, scope={scope or '*'})")
    if password is None:
        click.echo(f"password (shown once): {chosen}")


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
    """Make every process of the service read MOMENT (with a time zone) now, running on."""
    at = parse_moment(moment)
    service_clock(engine_of()).set(at)
    click.echo(f"service clock set to {at.astimezone(LOCAL_TZ).isoformat(timespec='seconds')}")
    click.echo("  (schedulers fire what is due at the new time within seconds)")


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
