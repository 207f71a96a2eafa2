"""The deployed definition versions as the commands read them (``shebao bpmn``, ``shebao
instances migrate``, ``shebao definitions validate``): a process's deployed version, what to say
of it, what deploying a file would do, and the refusals that name the versions there are instead
of "unknown process"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from flask import current_app

from engine.deployments import Outlook, deployed_version, outlook, versions
from engine.specs import ProcessDefinition
from web.cli.times import shown
from web.db_faults import FAULTS
from web.extensions import SERVICE, domain_of, engine_of


class NotDeployed(click.ClickException):
    """The process or its version is not deployed: the message names what is (exit 1)."""


def deployed_rows(process: str) -> list[dict[str, Any]]:
    """``process``'s deployed versions (``engine.deployments.versions``), oldest first."""
    return sorted(versions(engine_of().db, process), key=lambda row: row["version"])


def no_such_version(process: str, version: int, rows: list[dict[str, Any]]) -> str:
    """``card 没有版本 3（已部署：1, 2） / card has no version 3 (deployed: 1, 2)``."""
    found = ", ".join(str(row["version"]) for row in rows)
    return (
        f"{process} 没有版本 {version}（已部署：{found}） / "
        f"{process} has no version {version} (deployed: {found})"
    )


def not_deployed(process: str) -> str:
    """``process`` has no deployed version: the processes that have one."""
    known = ", ".join(sorted({row["key"] for row in versions(engine_of().db)}))
    if not known:
        return (
            f"{process} 未部署（尚无已部署的流程） / {process} is not deployed (nothing is "
            "deployed yet: `shebao definitions deploy`)"
        )
    return (
        f"{process} 未部署（已部署的流程：{known}） / "
        f"{process} is not deployed (deployed processes: {known})"
    )


def check_version(process: str, version: int) -> None:
    """``NotDeployed`` unless ``process`` has version ``version`` deployed."""
    rows = deployed_rows(process)
    if not rows:
        raise NotDeployed(not_deployed(process))
    if all(row["version"] != version for row in rows):
        raise NotDeployed(no_such_version(process, version, rows))


def read_deployed(process: str, version: int | None = None) -> tuple[ProcessDefinition, str]:
    """``process``'s deployed version ``version`` (the latest when None), as deployed, and what
    to call it (``card v2, deployed 2022-03-16 01:04Z by qa-a``).

    Raises:
        NotDeployed: the process or that version is not deployed.
    """
    rows = deployed_rows(process)
    if not rows:
        raise NotDeployed(not_deployed(process))
    row = rows[-1] if version is None else next((r for r in rows if r["version"] == version), None)
    if row is None:
        raise NotDeployed(no_such_version(process, version or 0, rows))
    definition = deployed_version(engine_of().db, domain_of().registry, process, row["version"])
    if definition is None:  # removed meanwhile: not a thing the tables allow, but say so
        raise NotDeployed(no_such_version(process, row["version"], rows))
    latest = " (the latest)" if row is rows[-1] else f" (the latest is v{rows[-1]['version']})"
    what = (
        f"{process} v{row['version']}{latest}, deployed "
        f"{shown(row['deployed_at'])} by {row['deployed_by']}"
    )
    return definition, what


def deploy_outlooks(files: Sequence[tuple[str, ProcessDefinition]]) -> list[str] | None:
    """What ``shebao definitions deploy`` would do now with each file (its text, parsed), in
    words: ``deploy would store version 2 (v1 deployed differs)``, ``unchanged from deployed
    v1``. None when the database cannot say (no file, never migrated, unreachable: the command's
    start found no deployed versions to load): the files are checked alone then."""
    service = current_app.extensions[SERVICE]
    if not service.versions_loaded:
        return None
    try:
        found = [outlook(service.engine.db, text, definition) for text, definition in files]
    except FAULTS:  # gone since the start: say nothing of the deployments
        return None
    return [_outlook_words(item) for item in found]


def _outlook_words(item: Outlook) -> str:
    version = item.deployment.version
    if not item.deployment.new:
        return f"unchanged from deployed v{version}"
    if item.latest is None:
        return f"deploy would store version {version} (none deployed yet)"
    return f"deploy would store version {version} (v{item.latest} deployed differs)"
