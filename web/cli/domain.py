"""The ``shebao import`` commands: batch files from outside systems, applied through the same rules
as the API (deduction results of the tax authority; a province's existing people and cards).

Each prints what was applied, what was unchanged (imported before) and every rejected row with its
line number and reason, and exits 1 when any row was rejected (0 when all were applied or
unchanged), so a calling script notices a partly applied file. Each import that ran (a dry run
too) is one ``import`` security event by the command's actor, with its counts, as
``POST /imports/people`` records one (``web.security_log``; no personal data).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from engine.errors import WorkflowError
from web import security_log
from web.extensions import domain_of, engine_of
from workflows.deduction_file import count_lines, read_text
from workflows.deductions import import_deductions
from workflows.imports import import_people, read_people_csv

REJECTED_EXIT = 1


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar (on stderr) when stdout is a terminal; nothing in a script or a pipe."""
    if not sys.stdout.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        seen = {"line": 1}

        def advance(line: int) -> None:
            bar.update(line - seen["line"])
            seen["line"] = line

        yield advance


@contextmanager
def _rehearsal(dry_run: bool) -> Iterator[None]:
    """With ``--dry-run``, everything the import does is rolled back at the end."""
    if not dry_run:
        yield
        return
    with engine_of().rehearsal():
        yield
    click.echo("dry run: every row was checked and applied in a transaction that was rolled back")


def _report(totals: str, rejected: list[tuple[int, str | None]]) -> None:
    """Print the totals and every rejected row; exit 1 when a row was rejected."""
    click.echo(totals)
    for line, reason in rejected:
        click.echo(f"  line {line}: {reason}")
    if rejected:
        sys.exit(REJECTED_EXIT)


def _record(actor: str, dry_run: bool, **counts: Any) -> None:
    """The import's security event (``what`` was imported and the counts, never a row's data);
    a dry run is marked as one."""
    detail: dict[str, Any] = {**counts, **({"dry_run": True} if dry_run else {})}
    security_log.record(engine_of().db, "import", actor=actor, **detail)


def _lines(text: str) -> int:
    return max(text.count("\n") - 1, 0)


@click.group("import")
def import_group() -> None:
    """Batch files from outside systems (CSV, UTF-8 or GBK)."""


@import_group.command("deductions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy", "policy_id", required=True, help="Policy id, e.g. huian-2023.")
@click.option("--actor", default="tax-authority", show_default=True)
@click.option("--dry-run", is_flag=True, help="Check every row, report, and write nothing.")
@with_appcontext
def deductions(file: Path, policy_id: str, actor: str, dry_run: bool) -> None:
    """Apply a batch deduction result FILE (CSV) from the tax authority to POLICY's enrollments.

    Columns: id_number, policy_year, amount, result (success/failed), reason, and optionally
    paid_at (ISO 8601 with a time zone). Importing the same file again changes nothing; bad rows
    are listed with their line numbers and skipped; exit 1 if any row was rejected.
    """
    policy = domain_of().regions.policy(policy_id)
    if policy is None:
        known = ", ".join(sorted(domain_of().policies))
        raise click.BadParameter(f"unknown policy; known: {known}", param_hint="--policy")
    try:
        lines = count_lines(file)
        with _rehearsal(dry_run), _progress(lines, "导入扣费结果 importing") as advance:
            report = import_deductions(engine_of(), policy, file, actor=actor, progress=advance)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    _record(
        actor,
        dry_run,
        what="deductions",
        policy=policy.policy,
        rows=report.rows,
        applied=report.applied,
        unchanged=report.unchanged,
        rejected=len(report.rejected),
    )
    _report(report.totals(), [(r.line, f"{r.reason_zh} / {r.reason}") for r in report.rejected])


@import_group.command("people")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="import", show_default=True)
@click.option("--dry-run", is_flag=True, help="Check every row, report, and write nothing.")
@with_appcontext
def people(file: Path, actor: str, dry_run: bool) -> None:
    """Bring in existing people and their cards from FILE (CSV).

    Columns: id_number, name, region (foshan, huian) and optionally residence, household,
    reduction_categories and flags (each separated by |; flags as registration takes them, e.g.
    disabled), card_number, card_bank, card_state, card_region_code.
    A person already on the books and a card number imported before are unchanged; a person with
    several usable cards in a province gets the extra-cards review. Exit 1 if any row was rejected.
    """
    try:
        text = read_text(file)
        rows = read_people_csv(text)
        with _rehearsal(dry_run), _progress(len(rows), "导入参保人和社保卡 importing") as advance:
            report = import_people(engine_of(), domain_of(), rows, actor=actor, progress=advance)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    _record(
        actor,
        dry_run,
        what="people",
        rows=len(rows),
        applied=report.count("applied"),
        unchanged=report.count("unchanged"),
        rejected=len(report.rejected),
        reviews_opened=report.reviews_opened,
    )
    _report(
        f"applied: {report.count('applied')}  unchanged: {report.count('unchanged')}  "
        f"rejected: {len(report.rejected)}  reviews opened: {report.reviews_opened}",
        [(r.line, f"{r.reason_zh} / {r.reason}") for r in report.rejected],
    )


# The name of the first release, kept so scripts that call it go on working.
legacy_deductions = click.Command(
    "import-deductions",
    callback=deductions.callback,
    params=deductions.params,
    help=deductions.help,
    hidden=True,
)


def register(main: click.Group) -> None:
    main.add_command(import_group)
    main.add_command(legacy_deductions)
