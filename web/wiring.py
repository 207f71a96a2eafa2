"""Puts the pieces together: database, definitions, the domain's registry, the engine."""

from __future__ import annotations

from engine.clock import Clock
from engine.db import make_engine
from engine.definition import load_definitions
from engine.runtime import Engine
from workflows.registration import build_registry


def build_engine(
    database_url: str, definitions_dir: str, policies_dir: str, clock: Clock | None = None
) -> Engine:
    """The engine over ``database_url`` with every definition and the domain registered."""
    registry = build_registry(policies_dir)
    definitions = load_definitions(definitions_dir, registry)
    return Engine(make_engine(database_url), definitions.values(), registry, clock=clock)
