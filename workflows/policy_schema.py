"""The blocks of a region policy file (``definitions/policies/<region>-<year>.yaml``): the frozen
dataclasses ``workflows.policy.Policy`` is made of, and the errors a policy raises.

The dataclasses are the schema ``policy_loader`` validates a file against: a field's YAML key is
its name (or ``metadata["key"]``) and ``metadata`` holds its checks (``pattern``, ``min``,
``max``, ``choices``). What a whole policy answers (amounts, dates, refunds) is in
``workflows.policy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

BENEFIT_KINDS = ("general_outpatient", "inpatient", "special_outpatient")
BENEFIT_RULES = ("policy_year_start", "month_after_payment", "payment_date")
NAME_CHECK = {"pattern": r"[a-z][a-z0-9_]*"}
"""The check of a snake_case name (keys, categories, flags) in a policy file."""
_DURATION = {"pattern": r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"}
_RULE = {"choices": BENEFIT_RULES}


class PolicyError(ValueError):
    """A policy file is broken, or lacks a value that was asked for."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


class LatePaymentRefused(Exception):
    """A payment after the period where the policy does not (or no longer) accept late payment."""

    code = "late_payment_refused"

    def __init__(
        self, policy: str, paid_on: date, why: Label | None = None, title: Label | None = None
    ) -> None:
        """``policy``: the policy's id; ``title``: its name in words (``Policy.title``), which
        the message names (the id when not given)."""
        named = title or Label(policy, policy)
        if why is not None:  # e.g. the benefits would start after the insurance year
            self.message_zh, self.message_en = why.zh, why.en
        else:
            self.message_zh = f"{named.zh}：{paid_on} 已过缴费期，不再接受缴费，视为放弃当年待遇"
            self.message_en = f"{named.en}: payment period over on {paid_on}, payment not accepted"
        super().__init__(f"{self.message_zh} / {self.message_en}")
        self.policy, self.paid_on = policy, paid_on


@dataclass(frozen=True)
class Label:
    zh: str
    en: str


@dataclass(frozen=True)
class Bank:
    """A partner bank that issues the region's cards; ``code`` is ours (snake_case)."""

    code: str = field(metadata=NAME_CHECK)
    label: Label


@dataclass(frozen=True)
class Region:
    """A policy file's ``region:`` block. ``workflows.regions.RegionInfo`` is the registry's view."""

    key: str = field(metadata=NAME_CHECK)
    """snake_case; the policy id is ``<key>-<year>`` (checked by the loader)."""
    code: str = field(metadata={"pattern": r"\d{6}"})
    name: Label
    city: Label
    province: str = field(metadata={"pattern": r"\d{2}"})
    banks: tuple[Bank, ...]
    """In the file's order; codes unique, at least one (checked by the loader)."""


@dataclass(frozen=True)
class Contribution:
    """Yearly amounts per person; every policy states both (assumed figures say so in the file)."""

    currency: str = field(metadata={"pattern": "[A-Z]{3}"})
    individual: Decimal = field(metadata={"min": 0})
    subsidy_min: Decimal = field(metadata={"min": 0})


@dataclass(frozen=True)
class PaymentPeriod:
    start: date
    end: date


@dataclass(frozen=True)
class LateRule:
    """Late payments from ``start`` on: benefits start ``waiting_days`` after the payment date."""

    start: date = field(metadata={"key": "from"})
    waiting_days: int = field(metadata={"min": 0, "max": 366})
    owes_subsidy: bool = False


@dataclass(frozen=True)
class LatePayment:
    accepted: bool
    until: date | None = None
    rules: tuple[LateRule, ...] = ()
    subsidy_exempt: frozenset[str] = field(default=frozenset(), metadata=NAME_CHECK)

    def rule_on(self, day: date) -> LateRule:
        """The rule for a late payment on ``day``: the last one started by then."""
        return next((r for r in reversed(self.rules) if r.start <= day), LateRule(day, 0))


@dataclass(frozen=True)
class BenefitRules:
    """For each kind of benefit, one of ``BENEFIT_RULES``; for payments within the period."""

    general_outpatient: str = field(metadata=_RULE)
    inpatient: str = field(metadata=_RULE)
    special_outpatient: str = field(metadata=_RULE)


@dataclass(frozen=True)
class DuplicateRefund:
    accepted_until: date


@dataclass(frozen=True)
class Refund:
    duplicate_with_employee_insurance: DuplicateRefund | None = None


@dataclass(frozen=True)
class RefundDecision:
    """The answer to a refund request: ``reason`` is ``None`` when accepted, else one of
    ``REFUND_REASONS``; the messages say why in Chinese and English."""

    accepted: bool
    reason: str | None
    message_zh: str
    message_en: str


REFUND_REASONS = ("no_refund_in_policy", "window_closed", "not_employee_insured", "benefits_used")


@dataclass(frozen=True)
class Requirement:
    """A reduction condition: a flag (``disabled``), ``age_at_least: 60`` or ``age_under: 18``."""

    flag: str | None = field(default=None, metadata=NAME_CHECK)
    age_at_least: int | None = field(default=None, metadata={"min": 0, "max": 150})
    age_under: int | None = field(default=None, metadata={"min": 0, "max": 150})

    def met(self, age: int, flags: frozenset[str]) -> bool:
        if self.flag is not None:
            return self.flag in flags
        if self.age_at_least is not None:
            return age >= self.age_at_least
        return self.age_under is not None and 0 <= age < self.age_under  # never a negative age


@dataclass(frozen=True)
class ReductionCategory:
    """People in ``category`` have ``share`` of their individual contribution paid for them."""

    category: str = field(metadata=NAME_CHECK)
    label: Label
    share: Decimal = field(metadata={"min": 0, "max": 1})
    funded_by: str = field(metadata=NAME_CHECK)
    requires_any: tuple[Requirement, ...] = ()

    def applies(self, age: int, flags: frozenset[str]) -> bool:
        return not self.requires_any or any(r.met(age, flags) for r in self.requires_any)


@dataclass(frozen=True)
class CardRules:
    """ISO 8601 durations (days, weeks, months, years) for the card process's timers."""

    loss_report_lapses_after: str = field(metadata=_DURATION)
    activation_reminder_after: str = field(metadata=_DURATION)
    uncollected_card_returned_after: str = field(metadata=_DURATION)
    uncollected_card_sealed_after: str = field(metadata=_DURATION)
