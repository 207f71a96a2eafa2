"""The ``shebao`` commands for batch domain work: deduction files from the tax authority."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.errors import WorkflowError
from web.app import engine_of
from workflows.deductions import import_deductions
from workflows.policy import load_policies


@click.command("import-deductions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policy", "policy_id", required=True, help="Policy id, e.g. huian-2023.")
@click.option("--actor", default="tax-authority", show_default=True)
@with_appcontext
def import_deductions_command(file: Path, policy_id: str, actor: str) -> None:
    """Apply a batch deduction result FILE (CSV) from the tax authority to POLICY's enrollments.

    Columns: id_number, policy_year, amount, result (success/failed), reason. Importing the same
    file again changes nothing; bad rows are listed with their line numbers and skipped.
    """
    policies = load_policies(current_app.config["SHEBAO_POLICIES"])
    if policy_id not in policies:
        raise click.BadParameter(
            f"unknown policy; known: {', '.join(sorted(policies))}", param_hint="--policy"
        )
    lines = max(sum(1 for _ in file.open(encoding="utf-8-sig", errors="replace")) - 1, 0)
    with click.progressbar(length=lines, label="导入扣费结果 importing", file=sys.stderr) as bar:
        seen = {"line": 1}

        def progress(line: int) -> None:
            bar.update(line - seen["line"])
            seen["line"] = line

        try:
            report = import_deductions(
                engine_of(), policies[policy_id], file, actor=actor, progress=progress
            )
        except WorkflowError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"applied: {report.applied}  unchanged: {report.unchanged}  "
        f"rejected: {len(report.rejected)}"
    )
    for rejected in report.rejected:
        click.echo(f"  line {rejected.line}: {rejected.reason}")


def register(main: click.Group) -> None:
    main.add_command(import_deductions_command)
