"""The ``shebao notices`` commands: deliver the outbox (once, or as a process of its own) and list it.

``shebao notices deliver`` delivers every notice due now and exits; with ``--loop`` it keeps
delivering, waiting ``--interval`` seconds whenever nothing is due, until stopped (SIGTERM or
Ctrl+C end it after the batch in hand). Run as many as you like, on any host: they share the
notices through row locks and leases. The scheduler delivers them too, after each sweep.
``shebao notices list`` shows the outbox with each notice's delivery state; recipients masked.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from types import FrameType

import click
from flask.cli import with_appcontext

from engine.clock import SimulatedClock
from engine.db import is_unavailable
from engine.outbox_queries import STATUSES, count_by_status, list_notices
from web.cli.scheduler import parse_moment
from web.cli.times import shown
from web.extensions import engine_of
from web.log_masking import mask_text
from web.notices import worker_for
from workflows.identity import mask_id_number

log = logging.getLogger(__name__)


@click.group("notices")
def notices() -> None:
    """The notification outbox: deliver notices, list them with their delivery state."""


@notices.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering until stopped.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    help="Seconds to wait when nothing is due (with --loop).",
)
@click.option("--channel", metavar="SPEC", help="Instead of SHEBAO_NOTICE_CHANNEL.")
@click.option("--now", "now_text", metavar="ISO-DATETIME", help="Run on a simulated clock.")
@with_appcontext
def deliver(loop: bool, interval: float, channel: str | None, now_text: str | None) -> None:
    """Deliver due notices to the channel (log, file:PATH, webhook:URL, python:MODULE:FACTORY)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = engine_of()
    if now_text:
        engine.clock = SimulatedClock(parse_moment(now_text))
    try:
        worker = worker_for(channel=channel)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not loop:
        began = time.perf_counter()
        report = worker.run_once()
        summary = {**report.as_dict(), "seconds": round(time.perf_counter() - began, 3)}
        click.echo(json.dumps(summary))
        return
    stop = threading.Event()

    def ask_to_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the batch in hand", signum)
        stop.set()

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    click.echo(f"notices: delivering as {worker.name}, every {interval:g} s when idle")
    while not stop.is_set():
        try:
            report = worker.run_once(max_batches=None)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning(
                "notice delivery waits: the database is unavailable (%s)", type(exc).__name__
            )
            stop.wait(interval)
            continue
        if report:
            click.echo(json.dumps(report.as_dict()))
        else:
            stop.wait(interval)


@notices.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only notices in this state.")
@click.option("--instance", "instance_id", type=click.IntRange(min=1), help="Of one instance.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_appcontext
def notices_list(status: str | None, instance_id: int | None, limit: int, as_json: bool) -> None:
    """Notices, newest first, with their delivery state; and the count per state."""
    engine = engine_of()
    rows = list_notices(
        engine,
        instance_ids=None if instance_id is None else [instance_id],
        status=status,
        limit=limit,
    )
    for row in rows:
        recipient = mask_id_number(row.recipient) if row.recipient else "-"
        if as_json:
            out = {
                "id": row.id,
                "instance_id": row.instance_id,
                "process": row.process,
                "event": row.event,
                "kind": row.kind,
                "recipient_masked": recipient,
                "status": row.status,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
                "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                "text": {"zh": mask_text(row.text_zh), "en": mask_text(row.text_en)},
            }
            click.echo(json.dumps(out, ensure_ascii=False))
            continue
        when = shown(row.delivered_at)
        click.echo(
            f"{row.id}\t{row.status}\t{row.kind}\t{row.process}#{row.instance_id}\t{recipient}\t"
            f"attempts={row.attempts}\t{shown(row.created_at)}\t{when}\t"
            f"{mask_text(row.last_error or '')}"
        )
    if not as_json:
        counts = ", ".join(f"{k} {v}" for k, v in count_by_status(engine).items())
        click.echo(f"{len(rows)} notice(s) shown; outbox: {counts}", err=True)


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(notices)
