"""The ``shebao history`` commands: which finished instances are past their process's
``history_ttl``, and removing them now (``engine.retention``), archived first when asked."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.retention import ArchiveUnwritable, due_counts
from web.extensions import engine_of
from web.scheduling import history_cleanup


@click.group("history")
def history() -> None:
    """History retention: finished instances past their process's time to live."""


@history.command("due")
@with_appcontext
def history_due() -> None:
    """Finished instances past their process's history_ttl, per process."""
    engine = engine_of()
    for process, count in sorted(due_counts(engine, engine.clock.now()).items()):
        ttl = engine.definition(process).history_ttl
        click.echo(f"{process}\tttl={ttl.text if ttl else '-'}\tdue={count}")


@history.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--archive", type=click.Path(file_okay=False), help="Archive to this directory.")
@click.option("--chunk", type=click.IntRange(min=1), default=1000, show_default=True)
@with_appcontext
def history_cleanup_command(dry_run: bool, archive: str | None, chunk: int) -> None:
    """Remove finished instances past their history_ttl now, in chunks (JSON report); exit 1
    when the archive cannot be written (the chunk in hand kept)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cleanup = history_cleanup(app, archive=archive)
    cleanup.chunk = chunk
    try:
        report = cleanup.dry_run() if dry_run else cleanup.run_once()
    except ArchiveUnwritable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"dry_run": dry_run, **report.as_dict()}))


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(history)
