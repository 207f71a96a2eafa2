"""The facts that decided a domain rule's refusal, for the caller to read as data.

A field's refusal names the field; a rule's refusal (a newborn registered after the window, a
reduction category whose condition is not met, a record or year on the books already) names the
field the rule judged too, with the ``rule`` (a stable key) and its ``facts``: the days, the
category and its conditions, the record's process, instance id and state. Facts are never personal
data: no ID number, name or phone; a date or a key of the policy or the process.

``RuleRefusal`` is what a rule finds; ``problem(field)`` makes it the ``FieldProblem`` the errors
carry in ``problems``, which the JSON API gives as ``details`` (``web.api.errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from engine.errors import TransitionRefused, WorkflowError
from engine.forms import FieldProblem

NEWBORN_WINDOW = "newborn_window"
REDUCTION_CONDITION = "reduction_condition"
REDUCTION_HELD = "reduction_held"
UNKNOWN_CATEGORY = "unknown_category"
DUPLICATE_RECORD = "duplicate_record"
CLAIM_NOT_OPEN = "claim_not_open"
OTHER_REGION = "other_region"
YEAR_NOT_PAYABLE = "year_not_payable"
YEAR_ENDED = "year_ended"
ONE_CARD_PER_PROVINCE = "one_card_per_province"
NO_CARD_TO_REPLACE = "no_card_to_replace"
CARD_NOT_REPLACEABLE = "card_not_replaceable"
"""The rules' keys, as ``details[].rule`` gives them."""


@dataclass(frozen=True)
class RuleProblem(FieldProblem):
    """A ``FieldProblem`` found by a rule: ``rule`` and the ``facts`` that decided it."""

    rule: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "rule": self.rule, "facts": dict(self.facts)}


@dataclass(frozen=True)
class RuleRefusal:
    """Why a rule refused (Chinese, English), its key and the facts that decided it."""

    rule: str
    message_zh: str
    message_en: str
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> tuple[str, str]:
        return self.message_zh, self.message_en

    def problem(self, field: str, *, checked: bool = False) -> RuleProblem:
        """The refusal as a problem of ``field`` (the request's fact the rule judged)."""
        return RuleProblem(
            field,
            self.message_zh,
            self.message_en,
            checked=checked,
            rule=self.rule,
            facts=self.facts,
        )

    def said(self, zh: str, en: str) -> RuleRefusal:
        """The same refusal in other words (the facts kept)."""
        return RuleRefusal(self.rule, zh, en, self.facts)


class RefusedByRule(WorkflowError):
    """A domain error that a rule may raise with the facts that decided it (``by_rule``):
    ``problems`` then names the field judged, with the rule's key and facts."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_zh, message_en)
        self.problems: list[FieldProblem] = []

    @classmethod
    def by_rule(cls, refusal: RuleRefusal, field: str) -> Self:
        refused = cls(refusal.message_zh, refusal.message_en)
        refused.problems = [refusal.problem(field)]
        return refused


class RuleTransitionRefused(TransitionRefused):
    """A guard's refusal by a rule, with the facts that decided it (``problems``): a
    ``TransitionRefused`` (409 ``transition_refused``) as any other guard's."""

    def __init__(self, refusal: RuleRefusal, field: str) -> None:
        super().__init__(refusal.message_zh, refusal.message_en)
        self.problems = [refusal.problem(field)]


__all__ = [
    "CARD_NOT_REPLACEABLE",
    "CLAIM_NOT_OPEN",
    "DUPLICATE_RECORD",
    "NEWBORN_WINDOW",
    "NO_CARD_TO_REPLACE",
    "ONE_CARD_PER_PROVINCE",
    "OTHER_REGION",
    "REDUCTION_CONDITION",
    "REDUCTION_HELD",
    "UNKNOWN_CATEGORY",
    "RefusedByRule",
    "YEAR_ENDED",
    "YEAR_NOT_PAYABLE",
    "RuleProblem",
    "RuleRefusal",
    "RuleTransitionRefused",
]
