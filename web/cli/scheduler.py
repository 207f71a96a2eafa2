"""The ``shebao scheduler`` and ``shebao policy reload`` commands (registered by ``web.cli.main``).

``shebao scheduler`` runs one scheduler process (start as many as you like, on any host: they share
the due timers through row locks); ``--once`` fires what is due and exits; ``--now`` runs against a
simulated clock standing at the given moment. SIGTERM stops it as Ctrl+C does: the chunk in hand
is finished, the timers it leased and did not fire are given back and its heartbeat row removed
(``Scheduler.shutdown``); a second signal stops it at once. ``shebao policy reload`` re-reads the policy files and
moves every pending timer derived from a policy date that changed.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from datetime import datetime
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from engine.clock import SimulatedClock
from engine.models import PolicyChange
from engine.policy_timers import move_policy_timers
from engine.scheduler import DEFAULT_INTERVAL, Scheduler
from engine.timers import DEFAULT_CHUNK
from web import log_format
from web.cli.times import shown
from web.extensions import SERVICE, domain_of, engine_of
from web.scheduling import make_scheduler
from web.wiring import sync_definitions

log = logging.getLogger(__name__)


class Stopping(Exception):
    """Raised in the main thread by SIGTERM or SIGINT: leaves APScheduler's loop."""


def stop_on_signals(runner: Scheduler, *, leave_loop: bool) -> None:
    """SIGTERM and SIGINT ask ``runner`` to stop after the chunk in hand (``leave_loop``: and
    raise ``Stopping`` in the main thread, idle in APScheduler's loop); a second one stops the
    process at once."""

    def ask_to_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the chunk in hand", signum)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        runner.stopping.set()
        if leave_loop:
            raise Stopping

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date-time with a time zone (``2023-01-01T00:00:00+08:00``, ``...Z``)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"needs a time zone (e.g. +08:00 or Z): {text!r}")
    return moment


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Fire everything due now, then exit.")
@click.option("--now", "now_text", metavar="ISO-DATETIME", help="Run on a simulated clock.")
@click.option(
    "--interval", type=float, default=DEFAULT_INTERVAL, show_default=True, help="Seconds."
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK,
    show_default=True,
    help="Timers per transaction.",
)
@with_appcontext
def scheduler(once: bool, now_text: str | None, interval: float, chunk: int) -> None:
    """Fire due timers: payment periods ending, activation reminders (APScheduler)."""
    log_format.configure(logging.INFO, text_format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run
    sync_definitions(current_app.extensions[SERVICE])  # a scheduler is the service starting
    engine = engine_of()
    if now_text:
        engine.clock = SimulatedClock(parse_moment(now_text))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner = make_scheduler(app, blocking=True, interval=interval, chunk=chunk)
    if once:
        began = time.perf_counter()
        stop_on_signals(runner, leave_loop=False)
        try:
            report = runner.run_now()
            signalled = runner.stopping.is_set()
        finally:
            runner.shutdown(wait=False)
        summary = {**report.as_dict(), "now": engine.clock.now().isoformat()}
        summary["seconds"] = round(time.perf_counter() - began, 3)
        if signalled:  # stopped after the chunk in hand: what is left waits for the next run
            summary["stopped"] = True
        click.echo(json.dumps(summary))
        return
    click.echo(f"scheduler: sweeping due timers every {interval:g} s (Ctrl+C to stop)")
    stop_on_signals(runner, leave_loop=True)
    try:
        runner.start()
    except (Stopping, KeyboardInterrupt, SystemExit):
        click.echo("scheduler: stopping after the chunk in hand")
        runner.shutdown(wait=True)


@click.group("policy")
def policy() -> None:
    """Region policy files."""


@policy.command("reload")
@click.option("--actor", default="cli", show_default=True, help="Who changed the policy.")
@with_appcontext
def policy_reload(actor: str) -> None:
    """Re-read the policy files and move pending timers whose policy date changed (each date
    that moved timers is recorded as a policy change); exit 1 when a file is broken (the last
    good policies stay in force, no timer moves)."""
    domain = domain_of()
    domain.reload()
    if domain.fault is not None:
        click.echo(f"invalid: {domain.fault}", err=True)
        raise SystemExit(1)
    moved = move_policy_timers(engine_of(), actor=actor, reload=False)
    for ref, count in sorted(moved.items()):
        click.echo(f"{ref}: moved {count} pending timers")
    click.echo(f"moved {sum(moved.values())} pending timers")


@policy.command("changes")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@with_appcontext
def policy_changes(limit: int) -> None:
    """Policy dates that changed under pending timers, newest first: when, who, before, after."""
    table = PolicyChange.__table__
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    with engine_of().db.connect() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        click.echo(
            f"{shown(row.at)}\t{row.actor}\t{row.policy_ref}\t{shown(row.old_due)} -> "
            f"{shown(row.new_due)}\t{row.timers_moved} timers"
        )
    if not rows:
        click.echo("no policy date has changed under pending timers", err=True)


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(scheduler)
    main.add_command(policy)
