"""The ``shebao incidents`` commands (list, retry, resolve) and ``shebao schedulers`` (which
scheduler processes beat, and how long ago): what an operator runs when a step failed all its
attempts (``engine.incidents``) or deadlines stop firing (``engine.heartbeat``)."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from engine.errors import WorkflowError
from engine.heartbeat import schedulers as scheduler_rows
from engine.incidents import list_incidents, resolve_incident, retry_incident
from web.extensions import engine_of


@click.group("incidents")
def incidents() -> None:
    """Steps that failed every attempt: list, retry once fixed, or resolve."""


@incidents.command("list")
@click.option(
    "--status", type=click.Choice(["open", "closed", "all"]), default="open", show_default=True
)
@click.option("--process", help="Only this process's incidents.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_appcontext
def incidents_list(status: str, process: str | None, as_json: bool) -> None:
    """Incidents, newest first."""
    rows = list_incidents(engine_of(), status=None if status == "all" else status, process=process)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row.as_dict(), ensure_ascii=False))
            continue
        where = f"{row.process}#{row.instance_id} {row.state}" if row.instance_id else row.kind
        closed = f" [{row.resolution} by {row.resolved_by}]" if row.status != "open" else ""
        click.echo(
            f"{row.id}\t{row.kind}\t{where}\t{row.step}\tattempts={row.attempts}\t"
            f"{row.created_at:%Y-%m-%d %H:%M}Z\t{row.error}{closed}"
        )
    if not as_json:
        click.echo(f"{len(rows)} incident(s)", err=True)


def _close(incident_id: int, actor: str, retry: bool) -> None:
    work = retry_incident if retry else resolve_incident
    try:
        row = work(engine_of(), incident_id, actor)
    except WorkflowError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None
    what = "put back: it runs at the next sweep" if retry else "closed without running it"
    click.echo(f"incident {row.id} ({row.kind} {row.step}) {what}")


@incidents.command("retry")
@click.argument("incident_id", type=click.IntRange(min=1))
@click.option("--actor", default="cli", show_default=True, help="Who retries (history).")
@with_appcontext
def incidents_retry(incident_id: int, actor: str) -> None:
    """Put the failed step back (after its cause was fixed)."""
    _close(incident_id, actor, retry=True)


@incidents.command("resolve")
@click.argument("incident_id", type=click.IntRange(min=1))
@click.option("--actor", default="cli", show_default=True, help="Who resolves (history).")
@with_appcontext
def incidents_resolve(incident_id: int, actor: str) -> None:
    """Close the incident without running the step again."""
    _close(incident_id, actor, retry=False)


@click.command("schedulers")
@with_appcontext
def schedulers() -> None:
    """Scheduler processes and the age of their last heartbeat."""
    rows = scheduler_rows(engine_of().db)
    for row in rows:
        click.echo(
            f"{row['name']}\tpid={row['pid']}\tstarted={row['started_at']:%Y-%m-%d %H:%M:%S}Z\t"
            f"last beat {row['age_s']:.0f} s ago"
        )
    if not rows:
        click.echo("no scheduler has beaten in the last day", err=True)


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(incidents)
    main.add_command(schedulers)
