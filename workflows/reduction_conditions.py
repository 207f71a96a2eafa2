"""Which reduction categories a person may hold: the region's categories and their words, each
one's condition (``requires_any`` in the region's policy: huian.txt:59, low income counts for the
disabled, people 60 or older and those under 18 only) judged on the service's date and why not in
words, and the guards that keep a category whose condition fails off a record.

The one check of a category declared at registration (``workflows.people.checked``: the API,
``shebao people register``, the people import), of a claim after registering (``claim_problem``,
read by ``workflows.reductions``), at a registration's approval (``declared_reductions_still_met``,
the clerk's refusals read by ``refused_reductions``) and at a claim's grant
(``reduction_claim_still_met``). The claim's flow (recording, granting, refusing, the years
reassessed) is ``workflows.reductions``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.errors import DataInvalid, TransitionRefused
from engine.forms import FieldProblem
from engine.registry import Registry
from engine.transition_context import TransitionContext
from workflows.identity import age_on, mask_id_numbers_in
from workflows.person_flags import PERSON_FLAG_WORDS
from workflows.policy import Label
from workflows.policy_schema import Requirement
from workflows.rule_facts import (
    REDUCTION_CONDITION,
    REDUCTION_HELD,
    UNKNOWN_CATEGORY,
    RuleRefusal,
    RuleTransitionRefused,
)

if TYPE_CHECKING:
    from workflows.domain import Domain


DECLARED_AT_REGISTRATION = "reductions_declared"
"""The variable keeping the categories a registration declared, as declared (a clerk's refusal
takes a category out of ``reduction_categories``, not out of this): the review's fact."""


def reduction_labels(domain: Domain, region_key: str) -> dict[str, Label]:
    """The region's reduction categories with their words, the latest policy's first."""
    region = domain.regions.find(region_key)
    found: dict[str, Label] = {}
    for policy in reversed(region.policies) if region else ():
        for reduction in policy.reductions:
            found.setdefault(reduction.category, reduction.label)
    return found


def _requirement_words(requirement: Requirement) -> Label:
    """A condition as a sentence lists it (``disabled person; aged 60 or over; under 18``: a
    flag's words, a label on a page, start in lower case here)."""
    if requirement.flag is not None:
        said = PERSON_FLAG_WORDS.get(requirement.flag, Label(requirement.flag, requirement.flag))
        return Label(said.zh, said.en[:1].lower() + said.en[1:])
    if requirement.age_at_least is not None:
        n = requirement.age_at_least
        return Label(f"年满{n}周岁", f"aged {n} or over")
    return Label(f"未满{requirement.age_under}周岁", f"under {requirement.age_under}")


def condition_problem(
    domain: Domain, variables: Mapping[str, Any], category: str, now: datetime
) -> RuleRefusal | None:
    """Why the person with ``variables`` does not meet ``category``'s condition (the latest
    policy's ``requires_any``) on ``now``'s day in the region, or None: their age from the ID
    number, their declared flags (``disabled``). Its facts: the category, the policy, the day
    used and each condition with whether it is met (never the age or the ID number)."""
    region = domain.regions.find(str(variables.get("region", "")))
    for policy in reversed(region.policies) if region else ():
        found = next((r for r in policy.reductions if r.category == category), None)
        if found is None:
            continue
        today = policy.local_day(now)
        age = age_on(str(variables["id_number"]), today)
        flags = frozenset(str(f) for f in variables.get("flags", ()))
        if found.applies(age, flags):
            return None
        words = [_requirement_words(r) for r in found.requires_any]
        facts = {
            "category": category,
            "policy": policy.policy,
            "day_used": today.isoformat(),
            "conditions": [_requirement_facts(r, age, flags) for r in found.requires_any],
        }
        return RuleRefusal(
            REDUCTION_CONDITION,
            f"{found.label.zh}减免须符合以下条件之一：{'、'.join(w.zh for w in words)}"
            f"（{today}），该居民不符合，不能享受该减免",
            f"{found.label.en}: the reduction is for people who are one of: "
            f"{'; '.join(w.en for w in words)} (on {today}); this person is none of them",
            facts,
        )
    return None


def _requirement_facts(requirement: Requirement, age: int, flags: frozenset[str]) -> dict[str, Any]:
    """A condition as a refusal's facts give it: its kind, its value and whether it is met."""
    for kind in ("flag", "age_at_least", "age_under"):
        value = getattr(requirement, kind)
        if value is not None:
            return {"condition": kind, "value": value, "met": requirement.met(age, flags)}
    return {"condition": None, "value": None, "met": False}


def claim_problem(
    domain: Domain, variables: Mapping[str, Any], category: str, now: datetime
) -> RuleRefusal | None:
    """Why an insured person with ``variables`` may not claim ``category`` at ``now`` (Chinese,
    English, and the facts), or None: a category the region's policies do not name, one the
    person holds, or one whose condition they do not meet on the service's date (huian.txt:59:
    low income counts for the disabled, people 60 or older and those under 18 only)."""
    region = str(variables.get("region", ""))
    labels = reduction_labels(domain, region)
    if category not in labels:
        known = "、".join(f"{w.zh}（{c}）" for c, w in labels.items()) or "无"
        known_en = "; ".join(f"{w.en} ({c})" for c, w in labels.items()) or "none"
        shown = mask_id_numbers_in(category)  # what was sent, quoted: an ID number masked
        return RuleRefusal(
            UNKNOWN_CATEGORY,
            f"参保地没有减免类别“{shown}”（可申请：{known}）",
            f"the region has no reduction category {shown!r} (one of: {known_en})",
            {"region": region, "offered": list(labels)},
        )
    if category in [str(c) for c in variables.get("reduction_categories", ())]:
        label = labels[category]
        return RuleRefusal(
            REDUCTION_HELD,
            f"已认定为{label.zh}，无须再申请",
            f"{label.en} is held already: nothing to claim",
            {"category": category},
        )
    return condition_problem(domain, variables, category, now)


_SEPARATORS = re.compile(r"[,，、;；\n]+")


REASON_FIELD = "reductions_refused_reason"
"""The field of a registration's approval that says why the categories ticked are refused."""
REASON_NEEDED = (
    "勾选了不予认定的减免类别时必填",
    "required when a reduction category is ticked as refused",
)


def _named(data: Mapping[str, Any]) -> list[str]:
    """The names ``reductions_refused`` gives (a list, or text separated by commas)."""
    raw = data.get("reductions_refused") or ""
    listed = raw if isinstance(raw, list | tuple) else _SEPARATORS.split(str(raw))
    return [str(n).strip() for n in listed if str(n).strip()]


def reason_problems(data: Mapping[str, Any]) -> list[FieldProblem]:
    """A category ticked as refused without ``reductions_refused_reason``: an incomplete form,
    refused naming the field (by its label: ``Registry.add_data_check``) before any rule, and
    not a check's verdict, so not a refused attempt."""
    if _named(data) and not str(data.get(REASON_FIELD) or "").strip():
        return [FieldProblem(REASON_FIELD, *REASON_NEEDED)]
    return []


def refused_reductions(
    domain: Domain, variables: Mapping[str, Any], data: Mapping[str, Any]
) -> list[str]:
    """The declared categories a clerk's ``reductions_refused`` names (a list of keys, as the
    form's ``choices`` field gives them; or text naming them by key or by words).

        Raises:
            TransitionRefused: a name that is no declared category.
            DataInvalid: no reason given (``reason_problems``, which the guard's data check
                finds first).
    """
    names = _named(data)
    if not names:
        return []
    declared = [str(c) for c in variables.get("reduction_categories", ())]
    labels = reduction_labels(domain, str(variables.get("region", "")))
    words = {c: labels.get(c, Label(c, c)) for c in declared}
    refused: list[str] = []
    for name in names:
        found = next(
            (
                c
                for c, w in words.items()
                if name.casefold() in (c.casefold(), w.zh.casefold(), w.en.casefold())
            ),
            None,
        )
        if found is None:
            zh = "、".join(f"{w.zh}（{c}）" for c, w in words.items()) or "无"
            en = "; ".join(f"{w.en} ({c})" for c, w in words.items()) or "none"
            raise TransitionRefused(
                f"“{name}”不是申报的减免类别（申报的：{zh}）",
                f"{name!r} is not a declared reduction category (declared: {en})",
            )
        if found not in refused:
            refused.append(found)
    if problems := reason_problems(data):
        raise DataInvalid("person.approve_registration", problems)
    return refused


def register(registry: Registry, domain: Domain) -> None:
    """The guards the definitions name about a category's condition (``person.yaml``)."""

    def declared_reductions_still_met(ctx: TransitionContext) -> bool:
        """At approval, each declared category the clerk does not refuse must still meet its
        condition on the service's date (declared at 17, approved at 18): refused in the
        condition's words, naming what the clerk can do (refuse the category, or reject)."""
        refused = set(refused_reductions(domain, ctx.variables, ctx.data))
        declared = [str(c) for c in ctx.variables.get("reduction_categories", ())]
        for category in declared:
            problem = condition_problem(domain, ctx.variables, category, ctx.now)
            if category not in refused and problem is not None:
                zh, en = problem.words
                said = problem.said(
                    f"{zh}。可在“不予认定的减免类别”中勾选该类别并写明理由后通过，或不通过登记",
                    f"{en}. Tick it under Reduction categories refused (with the reason) to "
                    "approve without it, or reject the registration",
                )
                raise RuleTransitionRefused(said, "reduction_categories")
        return True

    def reduction_claim_still_met(ctx: TransitionContext) -> bool:
        """A claim is granted only while its condition holds on the service's date (the
        person may have turned 18 since claiming): refused in the claim's own words."""
        category = str((ctx.variables.get("reduction_claim") or {}).get("category", ""))
        problem = condition_problem(domain, ctx.variables, category, ctx.now)
        if problem is not None:
            raise RuleTransitionRefused(problem, "category")
        return True

    registry.add_guard("declared_reductions_still_met", declared_reductions_still_met)
    registry.add_guard("reduction_claim_still_met", reduction_claim_still_met)


__all__ = [
    "DECLARED_AT_REGISTRATION",
    "claim_problem",
    "condition_problem",
    "reason_problems",
    "reduction_labels",
    "refused_reductions",
    "register",
]
