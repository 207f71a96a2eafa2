"""The ``shebao`` diagrams commands (registered on the main group by ``web.cli``).

``shebao diagrams`` writes an SVG per definition and language into ``diagrams/``; with ``--check`` it
writes nothing and exits 1 listing the committed files that differ from what the definitions draw.
``shebao bpmn PROCESS`` prints (or writes) the definition as BPMN 2.0 XML.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.bpmn import to_bpmn
from engine.definition import ProcessDefinition, load_definitions
from engine.diagram import GraphvizMissing, render_svg
from web.config import PROJECT_ROOT

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


@click.command("bpmn")
@click.argument("process")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE instead of printing.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def bpmn(process: str, out: Path | None, lang: str) -> None:
    """Export PROCESS as BPMN 2.0 XML, laid out for BPMN modellers."""
    definitions = _definitions()
    if process not in definitions:
        known = ", ".join(sorted(definitions))
        raise click.BadParameter(f"no process {process!r} (known: {known})", param_hint="PROCESS")
    try:
        xml = to_bpmn(definitions[process], lang)
    except GraphvizMissing as exc:
        raise click.ClickException(str(exc)) from None
    if out is None:
        click.echo(xml.decode("utf-8"), nl=False)
        return
    out.write_bytes(xml)
    click.echo(f"wrote {out}")


def register(main: click.Group) -> None:
    """Add this module's commands to ``main``."""
    main.add_command(diagrams)
    main.add_command(bpmn)
