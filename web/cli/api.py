"""The ``shebao tokens`` commands: API tokens of outside systems (create, list, revoke)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from web.api.tokens import (
    DEFAULT_DAYS,
    MAX_DAYS,
    SCOPES_TEXT,
    create_token,
    find_token,
    list_tokens,
    revoke_token,
)
from web.cli.times import shown
from web.extensions import domain_of, engine_of


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
    help=f"{SCOPES_TEXT}; repeatable.",
)
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, MAX_DAYS),
    default=DEFAULT_DAYS,
    show_default=True,
    help="The token is refused after this many days.",
)
@with_appcontext
def create(name: str, scopes: tuple[str, ...], expires_in_days: int) -> None:
    """Create a token NAME; it is printed once (last line) and only its hash is stored. The
    name of a revoked or expired token may be given again (rotation): the old row stays in
    `tokens list`, revoked, with its own prefix."""
    _check_scope_values(scopes)
    db = engine_of().db
    try:
        token = create_token(db, name, list(scopes), expires_in_days=expires_in_days)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except IntegrityError:
        raise click.ClickException(
            f"a token named {name!r} exists already (not revoked): to rotate it, "
            f"`shebao tokens revoke {name}` first"
        ) from None
    made = find_token(db, name)
    expires = _when(made["expires_at"]) if made else "?"
    click.echo(
        f"token for {name} ({', '.join(sorted(set(scopes)))}), prefix {token[3:11]}, "
        f"expires {expires}; shown once:"
    )
    click.echo(token)


def _check_scope_values(scopes: tuple[str, ...]) -> None:
    """Deny by default, as for staff accounts: a ``bank:`` scope names a partner bank and a
    ``clerk:`` scope a region the policies know (usage error, exit 2, naming the valid ones)."""
    regions = domain_of().regions
    banks = sorted({code for region in regions for code in region.banks})
    for scope in scopes:
        kind, _, value = scope.partition(":")
        if kind == "bank" and value not in banks:
            raise click.BadParameter(
                f"unknown bank {value!r}; one of: {', '.join(banks)}", param_hint="'--scope'"
            )
        if kind == "clerk" and value not in regions:
            raise click.BadParameter(
                f"unknown region {value!r}; one of: {', '.join(regions.keys())}",
                param_hint="'--scope'",
            )


def _when(moment: datetime | None) -> str:
    return shown(moment)


@tokens.command("list")
@with_appcontext
def list_command() -> None:
    """Every token: name, prefix, scopes, created, expires, last used, revoked (never a token);
    a rotated name's revoked tokens first, its live one last."""
    rows = list_tokens(engine_of().db)
    header = ("name", "prefix", "scopes", "status", "created", "expires", "last used", "revoked")
    table = [header] + [
        (
            t["name"],
            t["prefix"] or "-",
            ",".join(t["scopes"]),
            t["status"],
            _when(t["created_at"]),
            _when(t["expires_at"]),
            _when(t["last_used_at"]),
            _when(t["revoked_at"]),
        )
        for t in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@tokens.command("revoke")
@click.argument("name")
@with_appcontext
def revoke(name: str) -> None:
    """Revoke the token NAME: it is refused from the next request on."""
    found = revoke_token(engine_of().db, name)
    if found is None:
        raise click.ClickException(f"no token named {name!r}")
    click.echo(f"token {name} revoked at {_when(found['revoked_at'])}")


def register(main: click.Group) -> None:
    main.add_command(tokens)
