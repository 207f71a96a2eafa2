"""Puts the pieces together: database, definitions, the domain and its registry, the engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.clock import Clock
from engine.db import ConnectionSettings, is_unavailable, make_engine
from engine.definition import load_definitions
from engine.deployments import deploy, install_deployed, is_ready
from engine.runtime import Engine
from web import log_masking
from web.config import database_settings
from workflows.domain import Domain

log = logging.getLogger(__name__)


@dataclass
class Service:
    engine: Engine
    domain: Domain
    definitions_dir: str
    versions_loaded: bool = False
    """Whether the deployed versions are installed (``sync_definitions``); False while the
    database is unreachable or not migrated yet: the files' definitions serve meanwhile."""


def sync_definitions(service: Service, actor: str = "startup") -> bool:
    """Deploy the definition files that changed (each as its process's next version) and load
    every deployed version into the engine (``engine.deployments``). False when the database
    has no deployments table yet (not migrated)."""
    engine, registry = service.engine, service.domain.registry
    if not is_ready(engine.db):
        return False
    files = sorted(Path(service.definitions_dir).glob("*.yaml"))
    deploy(engine.db, files, registry, actor=actor, now=datetime.now(UTC))
    install_deployed(engine, registry)
    service.versions_loaded = True
    return True


def try_sync_definitions(service: Service) -> None:
    """``sync_definitions`` at start-up: a database outage leaves the files' definitions in
    place for now (the web app tries again before its next request)."""
    try:
        sync_definitions(service)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning("definition versions not loaded yet, the database is unavailable: %s", exc)


def build_service(
    database_url: str,
    definitions_dir: str,
    policies_dir: str,
    clock: Clock | None = None,
    connections: ConnectionSettings | None = None,
) -> Service:
    """The engine over ``database_url`` with every definition, and the domain it runs.

    Args:
        connections: the database connections' timeouts and keepalives; by default from the
            ``SHEBAO_DB_*`` environment variables (``web.config.database_settings``).
    """
    domain = Domain(policies_dir)
    domain.registry.set_text_mask(log_masking.mask_text)  # notices' texts: ID numbers masked
    definitions = load_definitions(definitions_dir, domain.registry)
    db = make_engine(database_url, connections or database_settings())
    engine = Engine(db, definitions.values(), domain.registry, clock=clock)
    service = Service(engine, domain, definitions_dir)
    try_sync_definitions(service)
    return service


def build_engine(
    database_url: str, definitions_dir: str, policies_dir: str, clock: Clock | None = None
) -> Engine:
    """The engine alone (benchmarks, the engine's own tests); ``build_service`` for the domain."""
    return build_service(database_url, definitions_dir, policies_dir, clock).engine
