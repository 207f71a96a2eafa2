"""The ``shebao`` commands for the web side: staff accounts (``users create``) and ``demo``."""

from __future__ import annotations

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from web.app import engine_of
from web.auth import GROUPS, create_user
from web.demo_accounts import reseed
from web.migrate import upgrade_database


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
@click.option("--people", default=2000, show_default=True, type=int)
@click.option("--yes", is_flag=True, help="Do not ask before wiping the database.")
@with_appcontext
def demo(people: int, yes: bool) -> None:
    """Wipe every instance and account, then seed demo data and demo accounts."""
    if not yes:
        click.confirm("This deletes every instance, task, timer and account. Go on?", abort=True)
    upgrade_database(current_app.config["SHEBAO_DATABASE_URL"])
    for line in reseed(engine_of(), people=people):
        click.echo(line)


def register(main: click.Group) -> None:
    main.add_command(users)
    main.add_command(demo)
