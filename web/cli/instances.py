"""The ``shebao instances migrate`` command: move a process's running instances from one
definition version to another on purpose (``engine.migration``): the plan first, then the move in
chunks with a progress bar; resumable by running it again. Instances whose state changes run the
domain's move checks, and a map that sends instances past events they never took warns
(``skipped_events``, ``engine.migration_skips``): the warnings are in the plan, and refuse the
migration (exit 1, nothing moved) unless each code is confirmed with ``--confirm CODE``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from engine.errors import UnknownProcess
from engine.migration import (
    DEFAULT_CHUNK,
    ConfirmationNeeded,
    MigrationRefused,
    migrate,
    plan,
)
from web.cli.deployed import check_version
from web.extensions import engine_of


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(
                f"expected OLD_STATE=NEW_STATE, got {pair!r}", param_hint="--map"
            )
        old, new = old.strip(), new.strip()
        if found.get(old, new) != new:
            raise click.BadParameter(
                f"{old!r} is mapped twice: to {found[old]!r} and to {new!r}", param_hint="--map"
            )
        found[old] = new
    return found


@click.group("instances")
def instances() -> None:
    """Running process instances."""


@instances.command("migrate")
@click.argument("process")
@click.option("--from", "source", type=click.IntRange(min=1), required=True, help="Version.")
@click.option("--to", "target", type=click.IntRange(min=1), required=True, help="Version.")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW", help="A state's target.")
@click.option(
    "--confirm",
    "confirmed",
    multiple=True,
    metavar="CODE",
    help="Migrate all the same the instances a move check warns about with this code.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--chunk", type=click.IntRange(min=1), default=DEFAULT_CHUNK, show_default=True)
@click.option("--actor", default="cli", show_default=True, help="Who migrates (history).")
@with_appcontext
def instances_migrate(
    process: str,
    source: int,
    target: int,
    pairs: tuple[str, ...],
    confirmed: tuple[str, ...],
    dry_run: bool,
    chunk: int,
    actor: str,
) -> None:
    """Move PROCESS's instances on version --from to version --to (see `shebao definitions
    versions`): each source state goes to the state of the same name unless --map says; open
    tasks and pending timers are kept where the target state declares the same, recreated
    otherwise. Refused when a populated state has no target, and when the domain's move checks
    warn about an instance whose state changes or --map sends instances past events they never
    took (skipped_events), unless --confirm names each warning's code (the history keeps the
    confirmation). Run it again to resume."""
    engine = engine_of()
    check_version(process, source)  # "card has no version 3 (deployed: 1, 2)", not "unknown"
    check_version(process, target)
    try:
        migration = plan(engine, process, source, target, _mapping(pairs), actor=actor)
    except (UnknownProcess, MigrationRefused) as exc:
        raise click.ClickException(str(exc)) from None
    for line in migration.lines():
        click.echo(line)
    if migration.unmapped:
        names = ", ".join(migration.unmapped)
        raise click.ClickException(
            f"{names} 在 v{target} 中没有对应状态，请用 --map 旧状态=新状态 指定 / "
            f"states without a target in v{target}: {names}; map them with --map OLD=NEW"
        )
    if pending := migration.unconfirmed(confirmed):
        raise click.ClickException(str(ConfirmationNeeded(pending)))
    if stray := sorted(set(confirmed) - set(migration.warnings)):
        found = ", ".join(migration.warnings) or "none"
        raise click.BadParameter(
            f"no warning of this plan has the code {', '.join(stray)} (its warnings: {found})",
            param_hint="--confirm",
        )
    if dry_run:
        return
    try:
        with click.progressbar(length=migration.instances, label="migrating", file=None) as bar:
            report = migrate(
                engine,
                migration,
                actor=actor,
                chunk=chunk,
                on_chunk=bar.update,
                confirmed=confirmed,
            )
    except MigrationRefused as exc:
        raise click.ClickException(str(exc)) from None
    done: dict[str, object] = {
        "migrated": report.migrated,
        "chunks": report.chunks,
        "seconds": round(report.seconds, 2),
    }
    if report.confirmed:
        done["confirmed"] = report.confirmed
    click.echo(json.dumps(done, ensure_ascii=False))


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(instances)
