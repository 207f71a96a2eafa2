"""The ``shebao`` command line, through Flask's CLI (click): database, definitions, stats, run."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, ScriptInfo, with_appcontext

from engine import interventions, partitions
from engine.definition import parse_text, read_definition
from engine.deployments import deploy, versions
from engine.errors import DefinitionError
from engine.heartbeat import wall_clock as utc_now
from engine.process_counts import process_counts
from engine.specs import ProcessDefinition
from web.app import create_app, engine_of
from web.cli.database_faults import safe_url, unavailable_line
from web.cli.deployed import deploy_outlooks
from web.cli.times import shown
from web.db_faults import FAULTS
from web.demo_accounts import seed_if_empty
from web.extensions import SERVICE
from web.migrate import schema_fault, upgrade_database
from web.wiring import NothingToRunOn, owner_only, sync_definitions
from workflows.domain import build_registry
from workflows.identity import mask_id_numbers_in
from workflows.policy import PolicyError

log = logging.getLogger(__name__)


class RefusedStart(NoAppException):
    """The service refuses to start on a broken policy file, or on a broken definition file
    when no version is deployed to run on (``web.wiring.NothingToRunOn``): one line, as
    ``definitions validate`` prints a broken definition (the file, the key, the fault), exit 1,
    no traceback."""

    exit_code = 1

    def show(self, file: object = None) -> None:
        click.echo(self.format_message(), err=True)


def start_app() -> Flask:
    """``create_app`` for the commands, which load the deployed definition versions and deploy
    nothing (``shebao run``, ``shebao scheduler``, ``shebao demo`` deploy as they start, and
    ``shebao definitions deploy`` is the command for it); a broken policy file is a
    ``RefusedStart``, and so is a broken definition file with nothing deployed, but for the
    commands that need no definitions (``WITHOUT_DEFINITIONS``). Only the commands that migrate
    (``CREATES_DATABASE``) create a missing SQLite file (0600), and they tighten an existing one
    others could read (``web.wiring.owner_only``)."""
    command = click.get_current_context(silent=True)
    needed = command is None or command.command not in WITHOUT_DEFINITIONS
    creates = command is None or command.command in CREATES_DATABASE
    try:
        app = create_app(deploys=False, needs_definitions=needed, creates_database=creates)
    except PolicyError as exc:
        raise RefusedStart(f"invalid: {exc}") from None
    except NothingToRunOn as exc:
        raise RefusedStart(str(exc)) from None
    if creates:  # a file made readable to others before: tightened as a new one is made
        owner_only(app.config["SHEBAO_DATABASE_URL"], log)
    return app


class ShebaoGroup(FlaskGroup):
    """Flask's command group; a command that meets a broken definition file, a database it
    cannot reach (``web.cli.database_faults``), or a database without the schema (never
    migrated, or behind), says so in one line and exits 1, instead of a traceback. A refused
    argument's message (Click quotes the value) shows an ID number in it masked."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:  # a bad argument is quoted: never an ID number whole
            exc.message = mask_id_numbers_in(exc.message)  # type: ignore[misc]  # Final in stubs only
            raise
        except DefinitionError as exc:
            raise click.ClickException(f"invalid: {exc}") from None
        except FAULTS as exc:
            fault = _database_fault(ctx, exc)
            if fault is None:
                raise
            raise click.ClickException(fault) from None


def _database_fault(ctx: click.Context, exc: Exception) -> str | None:
    """In one line, why ``exc`` stopped the command: the database unavailable, or its schema;
    None when it is neither (the traceback stands)."""
    app = ctx.ensure_object(ScriptInfo)._loaded_app  # the command's app, if it has one
    url = app.config["SHEBAO_DATABASE_URL"] if app is not None else None
    line = unavailable_line(url or os.environ.get("SHEBAO_DATABASE_URL", ""), exc)
    if line is not None or app is None:
        return line
    return schema_fault(engine_of(app).db)


@click.group(cls=ShebaoGroup, create_app=start_app, add_default_commands=False)
def main() -> None:
    """shebao-workflow: social security cards and resident medical insurance as workflows."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to date."""
    url = current_app.config["SHEBAO_DATABASE_URL"]
    upgrade_database(url, revision)
    click.echo(f"database at {revision}: {safe_url(url)}")


@db.command("partitions")
@click.option("--year", "years", type=int, multiple=True, help="Also this year's partitions.")
@with_appcontext
def db_partitions(years: tuple[int, ...]) -> None:
    """Create the missing partitions (PostgreSQL after migration 0010): every known process's,
    the current and next year's history (by the wall clock and the service clock). Run it
    yearly (December); a new process gets its partitions at its first deployment."""
    engine = engine_of()
    with engine.db.begin() as conn:
        if not partitions.is_partitioned(conn):
            click.echo("the database is not partitioned (SQLite, or before migration 0010)")
            return
        report = partitions.maintain(conn, now=[utc_now(), engine.clock.now()], years=years)
    for name in report.created:
        click.echo(f"created {name}")
    if report.moved_rows:
        click.echo(f"moved {report.moved_rows} history rows out of default partitions")
    for process in report.left_in_default:
        click.echo(f"{process}: its instances stay in wf_instance__default", err=True)
    if not report.created:
        click.echo("every partition exists")


@main.group()
def definitions() -> None:
    """Process definitions (BPMN-style YAML)."""


@definitions.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def definitions_validate(files: tuple[Path, ...]) -> None:
    """Validate definition files (default: every one under definitions/), and say what
    `definitions deploy` would do with each (when the database answers and every file is
    valid): the version it would store, or that the file is unchanged. Exit 1 on an error."""
    registry = build_registry(current_app.config["SHEBAO_POLICIES"])
    paths = list(files) or sorted(Path(current_app.config["SHEBAO_DEFINITIONS"]).glob("*.yaml"))
    checked: list[tuple[Path, str, ProcessDefinition]] = []
    for path in paths:
        try:
            text = read_definition(path)
            checked.append((path, text, parse_text(text, str(path), registry)))
        except DefinitionError as exc:
            click.echo(f"invalid: {exc}", err=True)
    failed = len(checked) < len(paths)
    said = None if failed else deploy_outlooks([(text, found) for _, text, found in checked])
    for n, (path, _, definition) in enumerate(checked):
        deploying = f"; {said[n]}" if said else ""
        click.echo(
            f"ok: {path} ({definition.key} v{definition.version} in the file, "
            f"{len(definition.states)} states, {len(definition.events)} events){deploying}"
        )
    if failed:
        sys.exit(1)


@definitions.command("deploy")
@click.option("--actor", default="cli", show_default=True, help="Who deploys (recorded).")
@with_appcontext
def definitions_deploy(actor: str) -> None:
    """Store each definition file that changed as its process's next version; running
    instances keep theirs, new ones start on the latest (running services load it within
    seconds, and at once when they meet an instance of it)."""
    service = current_app.extensions[SERVICE]
    files = sorted(Path(current_app.config["SHEBAO_DEFINITIONS"]).glob("*.yaml"))
    try:
        done = deploy(service.engine.db, files, service.domain.registry, actor=actor, now=utc_now())
    except DefinitionError as exc:  # said once: the start leaves it to this command
        raise click.ClickException(
            f"invalid: {exc} (定义文件有误，未部署任何版本 / a broken file deploys nothing)"
        ) from None
    for item in done:
        what = "deployed" if item.new else "unchanged"
        click.echo(f"{item.key} v{item.version}: {what} ({item.content_hash[:12]})")


@definitions.command("versions")
@click.argument("process", required=False)
@with_appcontext
def definitions_versions(process: str | None) -> None:
    """The deployed versions of each process, newest first, with their instances."""
    rows = versions(engine_of().db, process)
    for row in rows:
        click.echo(
            f"{row['key']} v{row['version']}\t{row['instances']:,} instances\t"
            f"deployed {shown(row['deployed_at'])} by {row['deployed_by']}\t"
            f"{row['content_hash'][:12]}"
        )
    if not rows:
        click.echo("nothing deployed yet (`shebao db upgrade`, then start the service)", err=True)


@main.command("stats")
@click.argument("process")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def stats(process: str, as_json: bool) -> None:
    """Instances of PROCESS per state (those a supervisor cancelled in a row of their own), then
    the total: the figures of the process page and of the API's counts."""
    engine = engine_of()
    definition = engine.definition(process)
    counts = process_counts(engine.db, definition)
    if as_json:
        figures = {"process": process, "states": counts.states, "total": counts.total}
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    for state, count in counts.states.items():
        label = interventions.label_of(definition, state)
        click.echo(f"{state:24} {label.zh:10} {count:>10}")
    click.echo(f"{'total':24} {'合计':10} {counts.total:>10}")


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="When the database is empty, seed the demo (a simulation up to 2022-02-15) and set "
    "the service clock to its date.",
)
@click.option(
    "--scheduler/--no-scheduler",
    "with_scheduler",
    default=True,
    show_default=True,
    help="Fire due timers in this process (APScheduler, in the background).",
)
@with_appcontext
def run(host: str, port: int, demo: bool, with_scheduler: bool) -> None:
    """Migrate, seed the demo on first start, and serve the service (on the service clock)."""
    from waitress import serve

    from web import log_format
    from web.scheduling import make_scheduler
    from web.serving import waitress_options

    log_format.configure(logging.WARNING)  # SHEBAO_LOG_FORMAT=json: one JSON object per line
    url = current_app.config["SHEBAO_DATABASE_URL"]
    upgrade_database(url)
    sync_definitions(current_app.extensions[SERVICE])  # now that the tables exist
    if demo:
        for line in seed_if_empty(current_app._get_current_object()):  # type: ignore[attr-defined]
            click.echo(line)
    click.echo(f"database: {safe_url(url)}")
    background = None
    if with_scheduler:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        background = make_scheduler(app, blocking=False)
        background.start()
        click.echo("scheduler: running in this process, firing due timers every 30 s")
    click.echo(f"serving on http://{host}:{port}/  (Ctrl+C to stop)")
    signal.signal(signal.SIGTERM, _stop_serving)  # as Ctrl+C: a service manager's stop
    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        serve(app, host=host, port=port, **waitress_options(app))
    finally:
        if background is not None:  # the chunk in hand finishes; leases and its row go back
            click.echo("scheduler: stopping after the chunk in hand")
            background.shutdown(wait=True)


def _stop_serving(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM stops ``shebao run`` as Ctrl+C does (waitress leaves its loop, the scheduler
    stops after its chunk); a second one stops the process at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt(f"signal {signum}")


WITHOUT_DEFINITIONS: tuple[click.Command, ...] = (
    db_upgrade,
    definitions_validate,
    definitions_deploy,
)
"""Commands that run whatever the definition files and the deployments hold (``definitions
deploy`` refuses a broken file itself: its fault is said once)."""

# Command modules of their own, each adding its commands to the main group.
from web.cli import api as cli_api  # noqa: E402
from web.cli import diagrams as cli_diagrams  # noqa: E402
from web.cli import domain as cli_domain  # noqa: E402
from web.cli import history as cli_history  # noqa: E402
from web.cli import incidents as cli_incidents  # noqa: E402
from web.cli import instances as cli_instances  # noqa: E402
from web.cli import notices as cli_notices  # noqa: E402
from web.cli import people as cli_people  # noqa: E402
from web.cli import scheduler as cli_scheduler  # noqa: E402
from web.cli import web as cli_web  # noqa: E402

cli_api.register(main)
cli_people.register_commands(main)
cli_diagrams.register(main)
cli_domain.register(main)
cli_scheduler.register(main)
cli_incidents.register(main)
cli_history.register(main)
cli_instances.register(main)
cli_notices.register(main)
cli_web.register(main)

CREATES_DATABASE: tuple[click.Command, ...] = (db_upgrade, run, cli_web.demo)
"""Commands that migrate, and so create a missing SQLite file; the others refuse it in one
line instead of leaving an empty file behind (a mistyped ``SHEBAO_DATABASE_URL``)."""
