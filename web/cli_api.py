"""The ``shebao tokens`` commands: API tokens of outside systems."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from web.api_tokens import create_token
from web.extensions import engine_of


@click.group("tokens")
def tokens() -> None:
    """Bearer tokens for the JSON API."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="channel, factory, tax, read, import, bank:<code> or clerk:<region>; repeatable.",
)
@with_appcontext
def create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token NAME; it is printed once and only its hash is stored."""
    try:
        token = create_token(engine_of().db, name, list(scopes))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    except IntegrityError:
        raise click.ClickException(f"a token named {name!r} exists already") from None
    click.echo(f"token for {name} ({', '.join(scopes)}), shown once:")
    click.echo(token)


def register(main: click.Group) -> None:
    main.add_command(tokens)
