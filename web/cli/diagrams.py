"""The ``shebao`` diagrams commands (registered on the main group by ``web.cli.main``).

``shebao diagrams`` writes an SVG per definition and language into ``diagrams/``; with ``--check`` it
writes nothing and exits 1 listing the committed files that differ from what the definitions draw.

``shebao bpmn PROCESS`` prints (or writes) a process as executable BPMN 2.0 XML: its latest
deployed version, as deployed (``--version N`` another one; ``--from-file`` the definition file
under ``definitions/`` as it stands, deployed or not), saying which on stderr (or beside the file it
wrote). The default dialect has Python expressions, for SpiffWorkflow; ``--dialect camunda7`` JUEL
and Camunda's attributes. Timers that name the region's policy carry that policy's dates and
durations: the policy given with ``--policy REGION-YEAR``, by default the one the process's
instances use most (their ``policy`` variable, else their ``region``'s latest year), else the
latest year of the first region. ``shebao bpmn export-all DIR`` writes every deployed process in
both dialects (``--from-files``: the definition files, what ``scripts/test`` lints on a clone
where nothing is deployed); ``shebao bpmn import FILE`` turns a BPMN file back into definition
YAML.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click
import yaml
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from engine.bpmn import BpmnExportError, PolicyValues, to_bpmn
from engine.bpmn_expr import DIALECTS
from engine.bpmn_import import BpmnImportError, import_bpmn, to_yaml
from engine.definition import ProcessDefinition, load_definitions, parse_definition
from engine.deployments import versions
from engine.diagram import GraphvizMissing, render_svg
from engine.errors import DefinitionError
from engine.models import Instance
from web.cli.deployed import NotDeployed, deployed_rows, not_deployed, read_deployed
from web.config import PROJECT_ROOT
from web.extensions import domain_of, engine_of
from workflows.domain import Domain
from workflows.policy import PolicyError

DIAGRAMS_DIR = PROJECT_ROOT / "diagrams"


def _definitions() -> dict[str, ProcessDefinition]:
    return load_definitions(current_app.config["SHEBAO_DEFINITIONS"])


def diagram_files(definitions: dict[str, ProcessDefinition]) -> dict[str, bytes]:
    """``{key}.{lang}.svg`` -> its content, for every definition in both languages."""
    return {
        f"{key}.{lang}.svg": render_svg(definition, lang)
        for key, definition in sorted(definitions.items())
        for lang in ("zh", "en")
    }


def _stale(out_dir: Path, files: dict[str, bytes]) -> list[str]:
    """Names under ``out_dir`` that are missing or differ from ``files``."""
    return [
        name
        for name, content in files.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_bytes() != content
    ]


@click.command("diagrams")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when a committed diagram is stale."
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DIAGRAMS_DIR,
    show_default=True,
    help="Where the SVGs live.",
)
@with_appcontext
def diagrams(check: bool, out_dir: Path) -> None:
    """Draw every definition as SVG, in Chinese and English (Graphviz)."""
    try:
        files = diagram_files(_definitions())
    except GraphvizMissing as exc:
        raise click.ClickException(str(exc)) from None
    stale = _stale(out_dir, files)
    if check:
        for name in stale:
            click.echo(f"stale: {out_dir / name} (run `shebao diagrams` and commit it)", err=True)
        if stale:
            sys.exit(1)
        click.echo(f"diagrams up to date: {len(files)} files in {out_dir}")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out_dir / name).write_bytes(files[name])
        click.echo(f"wrote {out_dir / name}")
    click.echo(f"{len(stale)} of {len(files)} diagrams written to {out_dir}")


# -- BPMN --------------------------------------------------------------------------------------


def policy_values(domain: Domain, policy_id: str, definition: ProcessDefinition) -> PolicyValues:
    """The values of ``policy_id`` that ``definition``'s timers name: a date as the instant it
    means (``payment_period.end`` -> 00:00 of the day after, local time), a duration as is.

    Raises:
        click.BadParameter: no such policy, or it lacks a value a timer names.
    """
    policy = domain.regions.policy(policy_id)
    if policy is None:
        known = ", ".join(sorted(domain.policies))
        raise click.BadParameter(f"no policy {policy_id!r} (known: {known})", param_hint="--policy")
    values: dict[str, str] = {}
    for spec in definition.states.values():
        named = [timer.policy for timer in spec.timers if timer.policy is not None]
        if spec.task is not None and spec.task.due_policy is not None:
            named.append(spec.task.due_policy)  # a task due when the policy says
        for path in named:
            try:
                values[path] = policy.date_value(path).isoformat()
                continue
            except PolicyError:
                pass
            value: Any = policy
            for name in path.split("."):
                value = getattr(value, name, None)
            if not isinstance(value, str):
                raise click.BadParameter(
                    f"policy {policy_id} gives no date or duration {path!r}",
                    param_hint="--policy",
                )
            values[path] = value
    return PolicyValues(policy.policy, values)


def default_policy(process: str) -> str:
    """The policy ``process``'s instances use most (their ``policy``, else their region's latest
    year), or the latest year of the first region when there are none."""
    domain = domain_of()
    table = Instance.__table__
    query = (
        select(
            table.c.variables["policy"].as_string(),
            table.c.variables["region"].as_string(),
            func.count(),
        )
        .where(table.c.process == process)
        .group_by(table.c.variables["policy"].as_string(), table.c.variables["region"].as_string())
    )
    counts: Counter[str] = Counter()
    try:
        with engine_of().db.connect() as conn:
            rows = list(conn.execute(query))
    except SQLAlchemyError:
        rows = []  # no database (yet): fall back to the policy files alone
    for policy, region, n in rows:
        if policy in domain.policies:
            counts[policy] += int(n)
        elif region and domain.regions.find(region) is not None:
            counts[domain.regions.get(region).latest().policy] += int(n)
    if counts:
        return min(counts, key=lambda name: (-counts[name], name))
    return next(iter(domain.regions)).latest().policy


def export(definition: ProcessDefinition, lang: str, dialect: str, policy: str | None) -> bytes:
    """``definition`` as BPMN, its policy timers resolved from ``policy`` (or the default)."""
    needs_policy = any(t.policy for s in definition.states.values() for t in s.timers)
    values = None
    if needs_policy:
        values = policy_values(domain_of(), policy or default_policy(definition.key), definition)
    try:
        return to_bpmn(definition, lang, dialect=dialect, policy=values)
    except (GraphvizMissing, BpmnExportError) as exc:
        raise click.ClickException(str(exc)) from None


class _BpmnGroup(click.Group):
    """``shebao bpmn PROCESS`` exports (``export`` is implied); ``import`` and ``export-all``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["export", *args]
        return super().parse_args(ctx, args)


@click.group("bpmn", cls=_BpmnGroup)
def bpmn() -> None:
    """BPMN 2.0: export a process (shebao bpmn PROCESS), export all, import a file."""


_LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
_POLICY = click.option(
    "--policy",
    default=None,
    metavar="REGION-YEAR",
    help="The policy whose dates and durations the timers carry (default: the one the "
    "process's instances use most, else the latest year of the first region).",
)


_FROM_FILE = click.option(
    "--from-file",
    "--from-files",
    "from_files",
    is_flag=True,
    help="Export the definition file(s) under definitions/ as they stand, deployed or not "
    "(default: what is deployed).",
)


@bpmn.command("export")
@click.argument("process")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE instead of printing.",
)
@click.option(
    "--version",
    type=click.IntRange(min=1),
    default=None,
    help="The deployed version to export (default: the latest deployed).",
)
@_FROM_FILE
@_LANG
@click.option("--dialect", type=click.Choice(DIALECTS), default="default", show_default=True)
@_POLICY
@with_appcontext
def bpmn_export(
    process: str,
    out: Path | None,
    version: int | None,
    from_files: bool,
    lang: str,
    dialect: str,
    policy: str | None,
) -> None:
    """Export PROCESS as executable BPMN 2.0 XML, laid out for BPMN modellers: its latest
    deployed version (or --version N; --from-file: the file as it stands), named on stderr."""
    if from_files and version is not None:
        raise click.UsageError("--version names a deployed version; --from-file reads the file")
    definition, what = _file(process) if from_files else _deployed(process, version)
    xml = export(definition, lang, dialect, policy)
    if out is None:
        click.echo(xml.decode("utf-8"), nl=False)
        click.echo(f"exported {what}", err=True)
        return
    out.write_bytes(xml)
    click.echo(f"wrote {out}: {what}")


def _file(process: str) -> tuple[ProcessDefinition, str]:
    """``process``'s definition file as it stands, and what to call it."""
    definitions = _definitions()
    if process not in definitions:
        known = ", ".join(sorted(definitions))
        raise click.BadParameter(f"no process {process!r} (known: {known})", param_hint="PROCESS")
    definition = definitions[process]
    return definition, f"{process} from the file {definition.source} (deployed or not)"


def _deployed(process: str, version: int | None) -> tuple[ProcessDefinition, str]:
    """``process``'s deployed ``version`` (the latest when None), and what to call it."""
    if not deployed_rows(process):
        files = _definitions()
        if process not in files:
            known = ", ".join(sorted(files))
            raise click.BadParameter(
                f"no process {process!r} (known: {known})", param_hint="PROCESS"
            )
        raise NotDeployed(f"{not_deployed(process)}; --from-file exports the file as it stands")
    return read_deployed(process, version)


@bpmn.command("export-all")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@_FROM_FILE
@_LANG
@_POLICY
@with_appcontext
def bpmn_export_all(out_dir: Path, from_files: bool, lang: str, policy: str | None) -> None:
    """Write every deployed process's latest version to OUT_DIR as PROCESS.DIALECT.bpmn, in both
    dialects (--from-files: the definition files as they stand, deployed or not)."""
    if from_files:
        chosen = dict(sorted(_definitions().items()))
        what = f"the definition files under {current_app.config['SHEBAO_DEFINITIONS']}"
    else:
        chosen = {key: read_deployed(key)[0] for key in _deployed_keys()}
        what = "deployed: " + ", ".join(f"{k} v{d.version}" for k, d in chosen.items())
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for key, definition in chosen.items():
        for dialect in DIALECTS:
            (out_dir / f"{key}.{dialect}.bpmn").write_bytes(
                export(definition, lang, dialect, policy)
            )
            count += 1
    click.echo(f"{count} BPMN files written to {out_dir} ({what})")


def _deployed_keys() -> list[str]:
    keys = sorted({row["key"] for row in versions(engine_of().db)})
    if not keys:
        raise NotDeployed(
            "尚无已部署的流程 / nothing is deployed yet (`shebao definitions deploy`; "
            "--from-files exports the definition files as they stand)"
        )
    return keys


@bpmn.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--process", "name", default=None, help="The process to import (key or id).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the definition YAML to FILE instead of printing.",
)
@with_appcontext
def bpmn_import(file: Path, name: str | None, out: Path | None) -> None:
    """Turn a BPMN FILE (an export, possibly edited in a modeller) into definition YAML."""
    try:
        raw = import_bpmn(file.read_bytes(), name)
        text = to_yaml(raw)
        parse_definition(yaml.safe_load(text), str(file), domain_of().registry)
    except BpmnImportError as exc:
        raise click.ClickException(f"cannot import {file}: {exc}") from None
    except DefinitionError as exc:
        raise click.ClickException(f"{file} imports to an invalid definition: {exc}") from None
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(diagrams)
    main.add_command(bpmn)
