"""Puts the pieces together: database, definitions, the domain and its registry, the engine."""

from __future__ import annotations

from dataclasses import dataclass

from engine.clock import Clock
from engine.db import make_engine
from engine.definition import load_definitions
from engine.runtime import Engine
from workflows.domain import Domain


@dataclass(frozen=True)
class Service:
    engine: Engine
    domain: Domain


def build_service(
    database_url: str, definitions_dir: str, policies_dir: str, clock: Clock | None = None
) -> Service:
    """The engine over ``database_url`` with every definition, and the domain it runs."""
    domain = Domain(policies_dir)
    definitions = load_definitions(definitions_dir, domain.registry)
    engine = Engine(make_engine(database_url), definitions.values(), domain.registry, clock=clock)
    return Service(engine, domain)


def build_engine(
    database_url: str, definitions_dir: str, policies_dir: str, clock: Clock | None = None
) -> Engine:
    """The engine alone (benchmarks, the engine's own tests); ``build_service`` for the domain."""
    return build_service(database_url, definitions_dir, policies_dir, clock).engine
