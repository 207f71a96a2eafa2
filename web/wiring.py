"""Puts the pieces together: database, definitions, the domain and its registry, the engine."""

from __future__ import annotations

from dataclasses import dataclass

from engine.clock import Clock
from engine.db import ConnectionSettings, make_engine
from engine.definition import load_definitions
from engine.runtime import Engine
from web.config import database_settings
from workflows.domain import Domain


@dataclass(frozen=True)
class Service:
    engine: Engine
    domain: Domain


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
    definitions = load_definitions(definitions_dir, domain.registry)
    db = make_engine(database_url, connections or database_settings())
    engine = Engine(db, definitions.values(), domain.registry, clock=clock)
    return Service(engine, domain)


def build_engine(
    database_url: str, definitions_dir: str, policies_dir: str, clock: Clock | None = None
) -> Engine:
    """The engine alone (benchmarks, the engine's own tests); ``build_service`` for the domain."""
    return build_service(database_url, definitions_dir, policies_dir, clock).engine
