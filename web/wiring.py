"""Puts the pieces together: database, definitions, the domain and its registry, the engine.

A broken definition file stops nothing that can run without it: its fault is logged (the file,
the key, what is wrong), the files deploy nothing, and the engine runs on the versions the
database has deployed. Only when there are none to run on (a new database, one not migrated)
does the start fail, with ``NothingToRunOn``: one line, which the WSGI app and the ``shebao``
commands print without a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine as Database

from engine.clock import Clock
from engine.db import ConnectionSettings, is_unavailable, make_engine, make_owner_only
from engine.definition import load_definition
from engine.definition_checks import NameRegistry
from engine.deployments import DEFAULT_CHECK_SECONDS, deploy, follow_deployments, is_ready
from engine.errors import DefinitionError
from engine.runtime import Engine
from engine.specs import ProcessDefinition
from web import log_masking
from web.config import database_settings
from workflows.domain import Domain

log = logging.getLogger(__name__)


@dataclass
class Service:
    engine: Engine
    domain: Domain
    definitions_dir: str
    deploys: bool = True
    """Whether starting deploys the changed definition files (a service: ``shebao run``, the WSGI
    app, a scheduler) or only loads what is deployed (every other command)."""
    check_every: float = DEFAULT_CHECK_SECONDS
    """Seconds between looks for versions another process deployed (``engine.catalog``)."""
    versions_loaded: bool = False
    """Whether the deployed versions are installed and followed (``load_versions``); False
    while the database is unreachable or not migrated yet: the files' definitions serve
    meanwhile."""
    faults: list[DefinitionError] = field(default_factory=list)
    """The definition files that did not load: while there are any, the files deploy nothing
    and the engine runs on the deployed versions only."""


class NothingToRunOn(Exception):
    """Definition files are broken and the database has no deployed version to run on instead."""

    def __init__(self, faults: list[DefinitionError]) -> None:
        where = "; ".join(str(fault) for fault in faults)
        super().__init__(
            f"invalid: {where} (a broken definition file deploys nothing, and no version is "
            "deployed to run on: fix the file, `shebao definitions validate` checks it)"
        )
        self.faults = faults


def load_files(
    directory: str, registry: NameRegistry
) -> tuple[list[ProcessDefinition], list[DefinitionError]]:
    """The definition files under ``directory`` that load, and the faults of those that do not
    (a process defined twice is the second file's fault)."""
    loaded: dict[str, ProcessDefinition] = {}
    faults: list[DefinitionError] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            definition = load_definition(path, registry)
            if definition.key in loaded:
                raise DefinitionError(str(path), "process", f"{definition.key!r} defined twice")
        except DefinitionError as exc:
            faults.append(exc)
            continue
        loaded[definition.key] = definition
    return list(loaded.values()), faults


def load_versions(service: Service) -> bool:
    """Load every deployed version into the engine, which follows the deployments from now on
    (versions another process deploys are loaded when met, and looked for every
    ``check_every`` seconds). False when the database has no deployments table yet."""
    engine, registry = service.engine, service.domain.registry
    if service.versions_loaded:  # following already: what is new only
        engine.check_deployments(now=True)
        return True
    if not is_ready(engine.db):
        return False
    follow_deployments(engine, registry, service.check_every)
    service.versions_loaded = True
    return True


def sync_definitions(service: Service, actor: str = "startup") -> bool:
    """Deploy the definition files that changed (each as its process's next version), then
    ``load_versions``. False when the database has no deployments table yet (not migrated).
    While a file is broken, none deploys (``deploy`` checks them all first)."""
    if not is_ready(service.engine.db):
        return False
    if not service.faults:
        files = sorted(Path(service.definitions_dir).glob("*.yaml"))
        db, registry = service.engine.db, service.domain.registry
        try:
            deploy(db, files, registry, actor=actor, now=datetime.now(UTC))
        except DefinitionError as exc:  # a file broken since the service loaded them
            log.error("%s: a broken definition file deploys nothing", exc)
    return load_versions(service)


def try_sync_definitions(service: Service) -> bool | None:
    """At start-up: ``sync_definitions`` for a service that deploys, else ``load_versions``.
    A database outage leaves the files' definitions in place for now (the web app tries again
    before its next request). Whether the versions were loaded; None: the database is
    unavailable."""
    try:
        if service.deploys:
            return sync_definitions(service)
        return load_versions(service)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # A command (one that does not deploy) says so itself, in one line, if it needs the
        # database (``web.cli.main``); a service goes on and tries again.
        level = logging.WARNING if service.deploys else logging.INFO
        log.log(level, "definition versions not loaded yet, the database is unavailable: %s", exc)
        return None


def judge_faults(
    service: Service, loaded: bool | None, *, required: bool = True, refuse: bool = True
) -> None:
    """Log each broken definition file once, saying what runs instead; ``NothingToRunOn`` when
    the database answered and has no deployed version (``refuse`` False: logged too, for a web
    worker that started during an outage). A command that needs no definitions (``required``
    False: ``definitions validate`` reports the faults itself) hears nothing."""
    if not service.faults or not required:
        return
    if loaded is None:
        instead = "the deployed versions serve once the database answers"
    elif loaded and service.engine.all_definitions():
        instead = "running on the deployed versions"
    elif refuse:
        raise NothingToRunOn(service.faults)
    else:
        instead = "no version is deployed to run on"
    for fault in service.faults:
        log.error("%s: a broken definition file deploys nothing; %s", fault, instead)


def build_service(
    database_url: str,
    definitions_dir: str,
    policies_dir: str,
    clock: Clock | None = None,
    connections: ConnectionSettings | None = None,
    *,
    deploys: bool = True,
    check_every: float = DEFAULT_CHECK_SECONDS,
    needs_definitions: bool = True,
    creates_database: bool = True,
) -> Service:
    """The engine over ``database_url`` with every definition, and the domain it runs.

    Args:
        connections: the database connections' timeouts and keepalives; by default from the
            ``SHEBAO_DB_*`` environment variables (``web.config.database_settings``).
        deploys: deploy the changed definition files now (a service starting); False: only
            load the deployed versions (a command).
        check_every: seconds between looks for versions another process deployed.
        needs_definitions: False for a command that runs without them (``db upgrade``,
            ``definitions validate``): broken files and nothing deployed do not stop it.
        creates_database: a missing SQLite file is created (0600); False for a command that
            only works on an existing database (``engine.db.make_engine``'s ``create``).

    Raises:
        NothingToRunOn: a definition file is broken and nothing is deployed (see the module).
    """
    domain = Domain(policies_dir)
    domain.registry.set_text_mask(log_masking.mask_text)  # notices' texts: ID numbers masked
    definitions, faults = load_files(definitions_dir, domain.registry)
    db = make_engine(database_url, connections or database_settings(), create=creates_database)
    engine = _engine(db, definitions, faults, domain, clock)
    domain.use_clock(lambda: engine.clock.now())  # birth dates judged by the service's date
    service = Service(engine, domain, definitions_dir, deploys, check_every, faults=faults)
    judge_faults(service, try_sync_definitions(service), required=needs_definitions)
    return service


def _engine(
    db: Database,
    definitions: list[ProcessDefinition],
    faults: list[DefinitionError],
    domain: Domain,
    clock: Clock | None,
) -> Engine:
    """The engine on the files' definitions; on none while a file is broken (the set may not
    hold together), nor when their references do not hold (a fault too): the deployed versions
    serve then."""
    if not faults:
        try:
            return Engine(db, definitions, domain.registry, clock=clock)
        except DefinitionError as exc:
            faults.append(exc)
    return Engine(db, [], domain.registry, clock=clock)


def owner_only(url: str, logger: logging.Logger = log) -> None:
    """Tighten an SQLite database file others could read (made by an earlier release, or copied
    in) and its ``-wal`` and ``-shm``, saying so in one line of ``logger``
    (``engine.db.make_owner_only``). The doors that create a missing file 0600 call it: ``shebao
    run``, ``db upgrade`` and ``demo`` (``web.cli.main.start_app``), and the WSGI app."""
    changed = make_owner_only(url)
    if changed:
        names = ", ".join(str(path) for path in changed)
        logger.warning("database file readable by other users, now owner-only (0600): %s", names)


def build_engine(
    database_url: str, definitions_dir: str, policies_dir: str, clock: Clock | None = None
) -> Engine:
    """The engine alone (benchmarks, the engine's own tests); ``build_service`` for the domain."""
    return build_service(database_url, definitions_dir, policies_dir, clock).engine
