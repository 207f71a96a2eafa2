"""Fills the engine's registry with the domain's guards, actions and policy dates."""

from __future__ import annotations

from pathlib import Path

from engine.registry import Registry
from workflows import cards
from workflows.enrollment import EnrollmentRules
from workflows.policy import load_policies
from workflows.renewals import RenewalOpener


def build_registry(policies_dir: str | Path) -> Registry:
    """A registry with every guard and action the shipped definitions name, the policy dates,
    and the periodic job that opens renewals when a payment period begins."""
    registry = Registry()
    cards.register(registry)
    rules = EnrollmentRules(load_policies(policies_dir))
    rules.register(registry)
    registry.set_policy_ref_resolver(
        rules.policy_ref_date, reload=lambda: rules.reload(load_policies(policies_dir))
    )
    registry.add_periodic("open_renewals", RenewalOpener(rules))
    return registry
