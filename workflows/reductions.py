"""Reductions (个人缴费减免 / 资助参保): the categories of a region's policy that lower what a
person pays, declared at registration or claimed later by someone already insured, and a clerk's
decision on them.

Source: quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 19, 53-61): people in a
reduction category pay less, part or all of it paid by the medical assistance fund or the county,
once the department that knows (民政, 卫健, 扶贫, 残联) confirms the category. The documents are
silent on someone who comes into a category after registering (a family newly on 低保): as an
office does, they claim it with the certificate, a medical-insurance clerk of the region checks
it (``person.yaml``: ``claim_reduction`` -> task ``review_reduction``), and an approval records
the category on the person's record; their years not yet paid then owe the reduced amount
(``enrollment.yaml``: ``reassess_reductions`` and its kin, the year keeping its state, a
lapsed one while it can still be paid late; the fund paying at once a year left with nothing
to pay) and the years opened or renewed later take it from the record. A refusal, at
registration or of a claim, names the categories and the reason, and the person is told.

This module owns the claim's flow and the words of a decision: the claim, its review, the grant
reassessing the years, the refusals recorded. A category's condition, whether a claim names one
the person can have, the clerk's refusals at approval and the guards that keep a category whose
condition fails off a record are ``workflows.reduction_conditions``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.definition import ProcessDefinition
from engine.errors import DataInvalid, TransitionRefused
from engine.forms import FieldProblem
from engine.interventions import label_of
from engine.registry import Registry
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.specs import Label as EngineLabel
from engine.transition_context import TransitionContext
from engine.tx import Tx
from workflows.enrollment import amount_due
from workflows.identity import InvalidIdNumber, validate_id_number
from workflows.notices import Text
from workflows.people import A_REDUCTION, ENROLLMENT, ON_BOOKS, PERSON, insured_record
from workflows.policy import Label, LatePaymentRefused, PolicyError
from workflows.reduction_conditions import (
    DECLARED_AT_REGISTRATION,
    claim_problem,
    reason_problems,
    reduction_labels,
    refused_reductions,
)
from workflows.rule_facts import CLAIM_NOT_OPEN, RefusedByRule, RuleRefusal
from workflows.service_date import service_today
from workflows.years import enrollment_key, unpaid_year

if TYPE_CHECKING:
    from workflows.domain import Domain

CLAIM = "claim_reduction"
"""The person's event that opens a clerk's review of a category claimed after registering."""
REASSESS = (
    "reassess_reductions",
    "reassess_renewal_reductions",
    "reassess_failed_reductions",
    "reassess_lapsed_reductions",
)
"""A year's events that take the record's categories and keep its state (``enrollment.yaml``: an
event has one target, so one per state a year not yet paid sits in): a year fires the one its
state offers under its own definition version (a year started on an older version: what that
version offers, if any)."""
COVERED_AFTER = ("covered_late_after_reassessment", "covered_after_reassessment")
"""The events by which the fund pays a reassessed year left with nothing to pay, where its state
does not offer ``covered_in_full`` (which leaves only the states a year opens in): late for a
lapsed year, else in time; a year fires the first its state offers."""
REFUSE = "refuse_reduction"
"""The person's event that tells them which categories were refused and why."""
COVERED = "covered_in_full"
MAX_EVIDENCE = 200
PENDING = "pending"
"""A claim's decision while the clerk reviews it (then ``granted`` or ``refused``)."""


class ReductionClaimRefused(RefusedByRule):
    """A reduction claim the rules refuse before anything is written; refused by a rule
    (``by_rule``), ``problems`` names the field with the facts that decided it."""

    code = "reduction_claim_refused"


def reduction_words(domain: Domain, variables: Mapping[str, Any], value: Any) -> Any:
    """Reduction categories (a list, or one) as the clerk reads them: ``低保对象`` / ``Minimum
    living allowance recipients``, the key for one the policies do not name."""
    labels = reduction_labels(domain, str(variables.get("region", "")))
    if isinstance(value, str):
        return labels.get(value, value)
    if not isinstance(value, list | tuple):
        return value
    return [labels.get(str(v), str(v)) for v in value]


def categories_text(domain: Domain, region_key: str, categories: Any) -> Text:
    """Categories named in a sentence of each language (``低保对象、特困人员``)."""
    labels = reduction_labels(domain, region_key)
    words = [labels.get(str(c), Label(str(c), str(c))) for c in categories or ()]
    return Text("、".join(w.zh for w in words), "; ".join(w.en for w in words))


def evidence_problem(evidence: str) -> tuple[str, str] | None:
    """Why a claim's evidence is refused (Chinese, English), or None: none given, over
    ``MAX_EVIDENCE`` characters, or with characters that do not print (a tab, a line break)."""
    evidence = evidence.strip()
    if not evidence or len(evidence) > MAX_EVIDENCE or not evidence.isprintable():
        return (
            f"须写明证明材料（如低保证及其编号），1 至 {MAX_EVIDENCE} 个字符",
            f"the evidence (the certificate and its number) is needed, 1 to {MAX_EVIDENCE} "
            "characters",
        )
    return None


def why_no_claim(definition: ProcessDefinition, state: str) -> tuple[str, str] | None:
    """Why no reduction can be claimed for a record in ``state`` under its own definition version
    (Chinese, English), or None when the definition lets a claim leave that state: a claim in
    review (the state a claim leads to) is decided first; any other state names those a claim
    can be made in. The words the refusal and the person page both say."""
    event = definition.events.get(CLAIM)
    if event is not None and CLAIM in definition.outgoing(state):
        return None
    here = label_of(definition, state)
    if event is None:
        return (
            f"当前状态（{here.zh}）不能申请减免（此版本的流程不受理）",
            f"no reduction can be claimed in state {here.en} (not under this process version)",
        )
    if state == event.target:
        return (
            f"已有一项减免申请在审核中（{here.zh}），审核结果出来后才能再申请",
            f"a reduction claim is in review ({here.en}): another can be claimed once it is "
            "decided",
        )
    allowed = [label_of(definition, s) for s in event.sources]
    return (
        f"当前状态（{here.zh}）不能申请减免，{'、'.join(a.zh for a in allowed)}时才能申请",
        f"no reduction can be claimed in state {here.en}: only in "
        f"{', '.join(a.en for a in allowed)}",
    )


def claim_reduction(
    engine: Engine,
    domain: Domain,
    id_number: str,
    category: str,
    evidence: str,
    *,
    actor: str,
    idempotency: Idempotency | None = None,
) -> Transition:
    """An insured person claims a reduction category after registering (with the certificate
    that shows it); a medical-insurance clerk of the region reviews it.

    Raises:
        ReductionClaimRefused: a bad ID number, a category the region does not have or the person
            holds, no evidence or too much (``evidence_problem``, the event's guard), or a claim in
            review already.
        NotRegistered: no insured record (or one still in review).
    """
    try:
        number = validate_id_number(id_number, today=service_today(engine.clock.now()))
    except InvalidIdNumber as exc:
        raise ReductionClaimRefused(exc.message_zh, exc.message_en) from None
    category, evidence = category.strip(), evidence.strip()
    data = {"category": category, "evidence": evidence}

    def work(tx: Tx) -> Transition:
        record = insured_record(engine, tx, number, A_REDUCTION)
        row = engine.load(tx, record.id)
        closed = why_no_claim(engine.definition(PERSON, row.definition_version), row.state)
        if closed is not None:
            facts = {"process": PERSON, "instance_id": record.id, "state": row.state}
            not_open = RuleRefusal(CLAIM_NOT_OPEN, *closed, facts)
            raise ReductionClaimRefused.by_rule(not_open, "id_number")
        problem = claim_problem(domain, record.variables, category, engine.clock.now())
        if problem is not None:
            raise ReductionClaimRefused.by_rule(problem, "category")
        try:  # the evidence is checked by the event's guard, as through every door
            return engine.fire_in(tx, row, CLAIM, actor, data)
        except TransitionRefused as refused:
            raise ReductionClaimRefused(refused.message_zh, refused.message_en) from None
        except DataInvalid as invalid:  # the guard's words, without the event's name
            [problem] = invalid.problems
            named = ReductionClaimRefused(problem.message_zh, problem.message_en)
            named.problems = [problem]  # the field named, as the events door names it
            raise named from None

    if idempotency is None:
        return engine.transaction(work)
    return engine.run_idempotent(idempotency, request_hash(CLAIM, number, data), work)


def _fund_pays_all(domain: Domain, variables: Mapping[str, Any], now: datetime) -> bool:
    """Nothing is left for the person to pay for this year now (the ``nothing_to_pay`` rule)."""
    try:
        policy = domain.policy_of(variables)
        if now >= policy.deadline_instant() and not policy.late_payment_accepted(now):
            return False
        return amount_due(policy, variables, now) == 0
    except (LookupError, LatePaymentRefused, PolicyError, ValueError):
        return False


def register(registry: Registry, domain: Domain) -> None:
    """The guards, actions, words and notice facts the definitions name about reductions."""

    def reductions_refused_were_declared(ctx: TransitionContext) -> bool:
        """The categories ticked as refused were declared (the reason given: its data check)."""
        refused_reductions(domain, ctx.variables, ctx.data)
        return True

    def decide_reductions(ctx: TransitionContext) -> None:
        """Keep only the reductions the clerk accepted; the refused ones, with the reason, stay on
        the record (the person's years get the accepted ones), and the person is told."""
        refused = refused_reductions(domain, ctx.variables, ctx.data)
        declared = [str(c) for c in ctx.variables.get("reduction_categories", ())]
        ctx.variables.setdefault(DECLARED_AT_REGISTRATION, declared)  # registered before it was
        if not refused:
            return
        ctx.variables["reduction_categories"] = [c for c in declared if c not in refused]
        reason = str(ctx.data.get("reductions_refused_reason", "")).strip()
        ctx.variables["reductions_refused"] = {
            "categories": refused,
            "reason": reason,
            "decided_at": ctx.now.isoformat(),
        }
        ctx.emit(REFUSE, ctx.instance_id, {"reason": reason})

    def reduction_claim_valid(ctx: TransitionContext) -> bool:
        """A claim's category and evidence, checked whichever door the claim came by: refused
        as the event's data (a 422 naming the field), as the claims endpoint refuses them."""
        category = str(ctx.data.get("category", "")).strip()
        where = f"{ctx.process}.{ctx.event}"
        ruled = claim_problem(domain, ctx.variables, category, ctx.now)
        if ruled is not None:
            raise DataInvalid(where, [ruled.problem("category", checked=True)])
        problem = evidence_problem(str(ctx.data.get("evidence", "")))
        if problem is not None:
            raise DataInvalid(where, [FieldProblem("evidence", *problem, checked=True)])
        return True

    def record_reduction_claim(ctx: TransitionContext) -> None:
        ctx.variables["reduction_claim"] = {
            "category": str(ctx.data["category"]).strip(),
            "evidence": str(ctx.data.get("evidence", "")).strip(),
            "claimed_at": ctx.now.isoformat(),
            "claimed_by": ctx.actor,
            "decision": PENDING,
        }

    def grant_reduction(ctx: TransitionContext) -> None:
        """The claimed category joins the record's; the years not yet paid owe the new amount."""
        claim = dict(ctx.variables.get("reduction_claim") or {})
        held = [str(c) for c in ctx.variables.get("reduction_categories", ())]
        category = str(claim.get("category", ""))
        ctx.variables["reduction_categories"] = sorted({*held, category})
        ctx.variables["reduction_claim"] = {
            **claim,
            "decision": "granted",
            "decided_at": ctx.now.isoformat(),
        }
        number = str(ctx.variables["id_number"])
        region = domain.regions.find(str(ctx.variables.get("region", "")))
        for policy in region.policies if region else ():
            for year in ctx.find(ENROLLMENT, enrollment_key(number, policy.policy)):
                offered = [e for e in REASSESS if e in year.events]
                if offered and unpaid_year(year.tags, policy, ctx.now):
                    ctx.emit(offered[0], year.id)

    def record_reduction_refusal(ctx: TransitionContext) -> None:
        """A refused claim: the category and the reason, as a refusal at registration keeps
        them (a refusal at registration was recorded by ``decide_reductions`` already)."""
        claim = ctx.variables.get("reduction_claim") or {}
        if claim.get("decision") != PENDING:
            return
        reason = str(ctx.data.get("reason", "")).strip()
        ctx.variables["reduction_claim"] = {
            **claim,
            "decision": "refused",
            "reason": reason,
            "decided_at": ctx.now.isoformat(),
        }
        ctx.variables["reductions_refused"] = {
            "categories": [claim.get("category")],
            "reason": reason,
            "decided_at": ctx.now.isoformat(),
        }

    def take_reductions_of_record(ctx: TransitionContext) -> None:
        """A year not yet paid takes its person's categories, in the state it is in; left with
        nothing to pay, the fund pays it at once (``covered_in_full``; from a failed year
        ``covered_after_reassessment``, from a lapsed one late), as when a year opens so."""
        number = str(ctx.variables["id_number"])
        records = [r for r in ctx.find(PERSON, number) if ON_BOOKS in r.tags]
        if not records:
            return
        held = records[-1].variables.get("reduction_categories", ())
        ctx.variables["reduction_categories"] = [str(c) for c in held]
        if _fund_pays_all(domain, ctx.variables, ctx.now):
            covered = next((e for e in COVERED_AFTER if e in ctx.events), COVERED)
            ctx.emit(covered, ctx.instance_id)

    def refused_categories(
        variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime
    ) -> Text:
        refused = (variables.get("reductions_refused") or {}).get("categories", ())
        return categories_text(domain, str(variables.get("region", "")), refused)

    def claimed_category(
        variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime
    ) -> Text:
        claim = variables.get("reduction_claim") or {}
        return categories_text(domain, str(variables.get("region", "")), [claim.get("category")])

    registry.add_guard("reductions_refused_were_declared", reductions_refused_were_declared)
    registry.add_data_check(  # a category ticked without its reason: an incomplete form
        "reductions_refused_were_declared", lambda ctx: reason_problems(ctx.data)
    )
    registry.add_action("decide_reductions", decide_reductions)
    registry.add_guard("reduction_claim_valid", reduction_claim_valid)
    registry.add_action("record_reduction_claim", record_reduction_claim)
    registry.add_action("grant_reduction", grant_reduction)
    registry.add_action("record_reduction_refusal", record_reduction_refusal)
    registry.add_action("take_reductions_of_record", take_reductions_of_record)
    for path in ("reduction_categories", "reduction_claim.category", DECLARED_AT_REGISTRATION):
        registry.add_value_words(
            path, lambda variables, value: reduction_words(domain, variables, value)
        )
    # the history says what a claim declared (whoever filed it: a counter, the API) and why a
    # refusal passed on from a registration's approval happened
    registry.add_history_field(
        PERSON,
        CLAIM,
        "category",
        lambda variables, value: reduction_words(domain, variables, value),
    )
    registry.add_history_field(PERSON, CLAIM, "evidence")
    registry.add_history_field(PERSON, REFUSE, "reason")
    registry.add_fact(
        "refused_reductions", refused_categories, uses=("reductions_refused", "region")
    )
    registry.add_fact("claimed_reduction", claimed_category, uses=("reduction_claim", "region"))
    registry.add_options(DECLARED, lambda variables: declared_options(domain, variables))


DECLARED = "declared_reductions"
"""The option source of a form offering the categories a person declared (``person.yaml``)."""


def declared_options(
    domain: Domain, variables: Mapping[str, Any]
) -> tuple[tuple[str, EngineLabel], ...]:
    """The categories declared at registration, each with the policy's words (the key for one
    the policies do not name): what a clerk approving the registration may refuse (and, once
    refused, still named by the decision's history)."""
    labels = reduction_labels(domain, str(variables.get("region", "")))
    refused = (variables.get("reductions_refused") or {}).get("categories") or ()
    found = []
    held = variables.get("reduction_categories", ())
    for category in dict.fromkeys(str(c) for c in (*held, *refused)):
        label = labels.get(category, Label(category, category))
        found.append((category, EngineLabel(label.zh, label.en)))
    return tuple(found)


__all__ = [
    "ReductionClaimRefused",
    "categories_text",
    "claim_reduction",
    "declared_options",
    "evidence_problem",
    "reduction_words",
    "register",
    "why_no_claim",
]
