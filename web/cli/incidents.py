"""The ``shebao incidents`` commands (list, retry, resolve: one incident, or ``--all`` of a kind,
process or step at once) and ``shebao schedulers`` (which scheduler processes beat, how long ago,
and which are stale; ``forget`` removes the stale ones): what an operator runs when a step failed
all its attempts (``engine.incidents``) or deadlines stop firing (``engine.heartbeat``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import astuple, replace
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from engine import heartbeat
from engine.errors import WorkflowError
from engine.incidents import (
    KINDS,
    Matching,
    count_incidents,
    list_incidents,
    resolve_incident,
    resolve_incidents,
    retry_incident,
    retry_incidents,
)
from web.cli.times import shown
from web.config import STALE_VARIABLE, stale_after
from web.extensions import engine_of
from web.incident_words import error_label, in_both, step_label


@click.group("incidents")
def incidents() -> None:
    """Steps that failed every attempt: list, retry once fixed, or resolve."""


@incidents.command("list")
@click.option(
    "--status", type=click.Choice(["open", "closed", "all"]), default="open", show_default=True
)
@click.option("--process", help="Only this process's incidents.")
@click.option("--kind", type=click.Choice(KINDS), help="Only timers' or only notices'.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_appcontext
def incidents_list(status: str, process: str | None, kind: str | None, as_json: bool) -> None:
    """Incidents, newest first: id, status (open or closed), kind, where, the step and a
    notice's error in words with the keys beside them; a closed one says how and by whom."""
    engine = engine_of()
    rows = list_incidents(
        engine,
        status=None if status == "all" else status,
        process=process,
        matching=Matching(kind=kind),
    )
    for row in rows:
        if as_json:
            click.echo(json.dumps(row.as_dict(), ensure_ascii=False))
            continue
        where = f"{row.process}#{row.instance_id} {row.state}" if row.instance_id else row.kind
        step = in_both(step_label(engine.processes, row))
        if step != row.step:
            step = f"{step} ({row.step})"
        failure = error_label(row)
        error = f"{in_both(failure)} [{row.error}]" if failure else row.error
        closed = f" [{row.resolution} by {row.resolved_by}]" if row.status != "open" else ""
        click.echo(
            f"{row.id}\t{row.status}\t{row.kind}\t{where}\t{step}\tattempts={row.attempts}\t"
            f"{shown(row.created_at)}\t{error}{closed}"
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


def _close_all(matching: Matching, actor: str, retry: bool, dry_run: bool) -> None:
    """``--all``: every open incident ``matching`` selects, or (``dry_run``) how many."""
    engine = engine_of()
    if matching.process and matching.process not in engine.processes:
        raise click.ClickException(
            f"未知流程：{matching.process} / unknown process: {matching.process}"
        )
    if dry_run:
        kinds = [matching.kind] if matching.kind else list(KINDS)
        by_kind = {kind: count_incidents(engine, replace(matching, kind=kind)) for kind in kinds}
        click.echo(
            f"{sum(by_kind.values())} open incident(s) match ({_kinds(by_kind)}); "
            "nothing changed (--dry-run)"
        )
        return
    work = retry_incidents if retry else resolve_incidents
    closed = work(engine, matching, actor)
    what = "put back: they run at the next sweep" if retry else "closed without running them"
    click.echo(f"{closed.count} incident(s) {what} ({_kinds(closed.by_kind)})")
    if not closed.count:
        click.echo("no open incident matches / 没有符合条件的待处理事件单", err=True)


def _kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{kind}s {count}" for kind, count in by_kind.items())


def _bulk_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``retry`` and ``resolve``: one incident, or ``--all`` with filters."""
    for option in reversed(
        [
            click.argument("incident_id", type=click.IntRange(min=1), required=False),
            click.option(
                "--all",
                "every",
                is_flag=True,
                help="Every open incident the filters select (all of them without a filter).",
            ),
            click.option("--kind", type=click.Choice(KINDS), help="With --all: only this kind."),
            click.option("--process", help="With --all: only this process's incidents."),
            click.option(
                "--step", help="With --all: only this step (a timer's event, a notice's kind)."
            ),
            click.option("--dry-run", is_flag=True, help="With --all: count, change nothing."),
        ]
    ):
        command = option(command)
    return command


def _run(
    incident_id: int | None,
    every: bool,
    matching: Matching,
    dry_run: bool,
    actor: str,
    retry: bool,
) -> None:
    filtered = any(value is not None for value in astuple(matching)) or dry_run
    if every == (incident_id is not None) or (filtered and not every):
        raise click.UsageError(
            "give one incident ID, or --all (with --kind, --process, --step, --dry-run) / "
            "请给出一个事件单编号，或用 --all（可加 --kind、--process、--step、--dry-run）"
        )
    if incident_id is not None:
        _close(incident_id, actor, retry)
    else:
        _close_all(matching, actor, retry, dry_run)


@incidents.command("retry")
@_bulk_options
@click.option("--actor", default="cli", show_default=True, help="Who retries (history).")
@with_appcontext
def incidents_retry(
    incident_id: int | None,
    every: bool,
    kind: str | None,
    process: str | None,
    step: str | None,
    dry_run: bool,
    actor: str,
) -> None:
    """Put the failed step back (after its cause was fixed): one incident, or --all of them
    (after a receiver's outage: --all --kind notice). Each step is put back once."""
    matching = Matching(kind=kind, process=process, step=step)
    _run(incident_id, every, matching, dry_run, actor, retry=True)


@incidents.command("resolve")
@_bulk_options
@click.option("--actor", default="cli", show_default=True, help="Who resolves (history).")
@with_appcontext
def incidents_resolve(
    incident_id: int | None,
    every: bool,
    kind: str | None,
    process: str | None,
    step: str | None,
    dry_run: bool,
    actor: str,
) -> None:
    """Close the incident (or --all of them) without running the step again."""
    matching = Matching(kind=kind, process=process, step=step)
    _run(incident_id, every, matching, dry_run, actor, retry=False)


def _stale_after() -> timedelta:
    try:
        return timedelta(seconds=stale_after(current_app.config))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("schedulers", invoke_without_command=True)
@with_appcontext
@click.pass_context
def schedulers(ctx: click.Context) -> None:
    """Scheduler processes, the age of their last heartbeat, and whether they are live or
    stale (no heartbeat for longer than SHEBAO_SCHEDULER_STALE_SECONDS: stopped without
    cleaning up, such as by kill -9, or hung)."""
    if ctx.invoked_subcommand is not None:
        return
    limit = _stale_after()
    rows = heartbeat.schedulers(engine_of().db, limit)
    for row in rows:
        state = "stale" if row["stale"] else "live"
        click.echo(
            f"{row['name']}\tpid={row['pid']}\tstarted={shown(row['started_at'], seconds=True)}\t"
            f"last beat {row['age_s']:.0f} s ago\t{state}"
        )
    if not rows:
        click.echo("no scheduler has beaten in the last day", err=True)
    stale = sum(1 for row in rows if row["stale"])
    if stale:
        click.echo(
            f"{stale} stale scheduler(s): no heartbeat for over {limit.total_seconds():g} s "
            f"({STALE_VARIABLE}): stopped without cleaning up (kill -9, out of memory) or hung; "
            "`shebao schedulers forget --stale` removes them",
            err=True,
        )


@schedulers.command("forget")
@click.argument("names", nargs=-1)
@click.option("--stale", "every_stale", is_flag=True, help="Every stale scheduler.")
@with_appcontext
def schedulers_forget(names: tuple[str, ...], every_stale: bool) -> None:
    """Remove the rows of stale schedulers NAMES (or --stale: all of them), so that listings and
    metrics forget them at once (on PostgreSQL their database sessions are ended first). A live
    scheduler is never forgotten."""
    if bool(names) == every_stale:
        raise click.UsageError(
            "name the schedulers, or give --stale / 请给出调度器名称，或用 --stale"
        )
    gone = heartbeat.forget(engine_of().db, _stale_after(), names)
    for name in gone:
        click.echo(f"forgot {name}")
    kept = [name for name in names if name not in gone]
    if kept:
        raise click.ClickException(
            f"not stale or unknown, kept: {', '.join(kept)} / 不是失联的调度器或不存在，未删除"
        )
    if not gone:
        click.echo("no stale scheduler / 没有失联的调度器", err=True)


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(incidents)
    main.add_command(schedulers)
