"""A reduction claim (减免申请, 资助参保) filed from the person page at the counter: who may file
one, the categories the form offers (only in a state the record's definition lets a claim leave;
otherwise why not), and the filing itself, through the same operation as the
API and the ``shebao people claim-reduction`` command (``workflows.reductions.claim_reduction``),
so the same rules refuse the same claims in the same words.

Medical-insurance clerks of the person's region file claims (the group that registers people
and reviews the claims); supervisors and other groups see no form, and a post of theirs is 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.definition import ProcessDefinition
from engine.runtime import Engine, Transition
from web.staff import Staff
from workflows.domain import Domain
from workflows.policy import Label
from workflows.reduction_conditions import reduction_labels
from workflows.reductions import claim_reduction, why_no_claim

CLAIMING_GROUP = "medical_insurance_clerk"


def may_claim(user: Staff, variables: Mapping[str, Any]) -> bool:
    """Whether ``user`` may file a claim for the person with ``variables``: a medical-insurance
    clerk of the person's region."""
    return (
        user.group == CLAIMING_GROUP
        and user.scope is not None
        and variables.get("region") == user.scope
    )


def categories(
    domain: Domain, user: Staff, variables: Mapping[str, Any]
) -> list[tuple[str, Label]]:
    """The region's reduction categories with their words, for a user who may claim (else none)."""
    if not may_claim(user, variables):
        return []
    return list(reduction_labels(domain, str(variables.get("region", ""))).items())


def offer(
    domain: Domain, user: Staff, person: Mapping[str, Any], definition: ProcessDefinition
) -> tuple[list[tuple[str, Label]], Label | None]:
    """What the person page offers ``user`` for the ``person`` record (judged by its own
    definition ``version``): the categories of the claim form, or why no claim can be made in
    the record's state (``why_no_claim``: a claim in review, a registration not yet approved),
    the form then left out. Nothing for a user who may not claim."""
    variables = person.get("variables") or {}
    offered = categories(domain, user, variables)
    if not offered:
        return [], None
    closed = why_no_claim(definition, str(person.get("state", "")))
    if closed is not None:
        return [], Label(*closed)
    return offered, None


def claim(
    engine: Engine,
    domain: Domain,
    user: Staff,
    variables: Mapping[str, Any],
    category: str,
    evidence: str,
) -> Transition:
    """File the claim for the person with ``variables`` (their ID number is the record's).

    Raises:
        WorkflowError: what ``claim_reduction`` refuses (unknown category, not registered, a claim
            in review already, no evidence), nothing written.
    """
    return claim_reduction(
        engine,
        domain,
        str(variables.get("id_number", "")),
        category,
        evidence,
        actor=user.username,
    )
