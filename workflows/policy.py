"""Region policy files (``definitions/policies/<region>-<year>.yaml``) and the rules they drive.

This module owns ``Policy``, the frozen dataclass a policy file is validated into (its blocks are
in ``workflows.policy_schema``; ``policy_loader`` reads the file), and the answers computed from
one: the contribution a person owes after reductions, when
the payment period is over, whether a late payment is accepted, when benefits start, and whether a
duplicate payment is refunded. A policy's ``region`` block is the only source of region facts (key,
code, names, partner banks); ``workflows.regions`` builds the one region registry from it. A
broken file raises ``PolicyError`` naming the file, the key and what is wrong. The dataclasses are
the schema: a field's YAML key is its name (or ``metadata["key"]``) and ``metadata`` holds its
checks. Dates in a file are local dates in the policy's time zone; an end date includes its whole
day (over at 00:00 the day after).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from workflows.policy_schema import (
    BENEFIT_KINDS,
    NAME_CHECK,
    REFUND_REASONS,
    Bank,
    BenefitRules,
    CardRules,
    Contribution,
    Label,
    LatePayment,
    LatePaymentRefused,
    LateRule,
    PaymentPeriod,
    PolicyError,
    ReductionCategory,
    Refund,
    RefundDecision,
    Region,
)

_END_DATES = ("end", "until", "accepted_until")
_CENT = Decimal("0.01")
_DUPLICATE = "duplicate_with_employee_insurance"


ZONE_WORDS = {"Asia/Shanghai": ("北京时间", "Beijing time")}
"""A policy's time zone in words, as refusals name it."""


@dataclass(frozen=True)
class Policy:
    """One region's rules for one insurance year, loaded from ``source``."""

    policy: str = field(metadata={"pattern": r"[a-z0-9_]+(-[a-z0-9_]+)*"})
    region: Region
    year: int = field(metadata={"min": 1990, "max": 2100})
    timezone: str
    contribution: Contribution
    payers: tuple[str, ...] = field(metadata=NAME_CHECK)
    payment_period: PaymentPeriod
    late_payment: LatePayment
    benefit_rules: BenefitRules = field(metadata={"key": "benefit_start"})
    refund: Refund
    reductions: tuple[ReductionCategory, ...]
    card: CardRules
    renews_from: str | None = field(default=None, metadata={"pattern": r"[a-z][a-z0-9_-]*"})
    """The region's previous policy year: its insured in good standing renew into this one when
    this payment period opens (默认续保)."""
    source: str = field(default="", metadata={"internal": True})

    @property
    def title(self) -> Label:
        """The policy year in words, as texts for people name it (佛山市 2022 年度 / Foshan 2022),
        never its id (``foshan-2022``)."""
        name = self.region.name
        return Label(f"{name.zh} {self.year} 年度", f"{name.en} {self.year}")

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), ZoneInfo(self.timezone))

    def local_day(self, moment: datetime) -> date:
        """The calendar date of ``moment`` in the policy's time zone."""
        return _aware(moment).astimezone(ZoneInfo(self.timezone)).date()

    def deadline_instant(self) -> datetime:
        """When the payment period is over: 00:00 of the day after ``payment_period.end``."""
        return self._midnight(self.payment_period.end + timedelta(days=1))

    def date_value(self, path: str) -> datetime:
        """The instant a dotted path names (``policy:`` timers): 00:00 of that day, or of the day
        after for an end (``end``, ``until``, ``accepted_until``), e.g. ``payment_period.end``.

        Raises:
            PolicyError: the path names no date of this policy.
        """
        value: Any = self
        for name in path.split("."):
            value = getattr(value, name, None) if dataclasses.is_dataclass(value) else None
        if not isinstance(value, date):
            raise PolicyError(self.source, path, "names no date of this policy")
        is_end = path.split(".")[-1] in _END_DATES
        return self._midnight(value + timedelta(days=1 if is_end else 0))

    def is_within_period(self, paid_at: datetime) -> bool:
        """Whether ``paid_at`` (aware) falls in the concentrated payment period."""
        return self.date_value("payment_period.start") <= _aware(paid_at) < self.deadline_instant()

    def late_payment_accepted(self, paid_at: datetime) -> bool:
        """Whether ``paid_at`` (aware) is after the period and still accepted as a late payment:
        before ``late_payment.until``, and early enough that its waiting days end within the
        insurance year (a payment whose benefits would start after 31 December buys no cover)."""
        if not self.late_payment.accepted or paid_at < self.deadline_instant():
            return False
        if paid_at >= self.date_value("late_payment.until"):
            return False
        return self._late_start(self.local_day(paid_at)).year <= self.year

    def _late_start(self, day: date) -> date:
        """When the benefits of a late payment on ``day`` would start (its waiting days)."""
        return day + timedelta(days=self.late_payment.rule_on(day).waiting_days)

    def _after_year(self, paid_at: datetime) -> Label | None:
        """Why a late payment at ``paid_at`` (after the period) is refused because its benefits
        would start after the insurance year ends; ``None`` when that is not why (they would
        start within it, or the policy takes no late payment then at all)."""
        late = self.late_payment
        if (
            not late.accepted
            or late.until is None
            or paid_at >= self.date_value("late_payment.until")
        ):
            return None
        day = self.local_day(paid_at)
        start = self._late_start(day)
        if start.year <= self.year:
            return None
        wait, end = self.late_payment.rule_on(day).waiting_days, date(self.year, 12, 31)
        title = self.title
        return Label(
            f"{title.zh}：{day} 逾期缴费须等待 {wait} 天，待遇将自 {start} 起享受，"
            f"已在 {self.year} 年度结束（{end}）之后，不予受理（视为放弃当年待遇）",
            f"{title.en}: a late payment on {day} waits {wait} days, so benefits would start "
            f"on {start}, after the {self.year} insurance year ends ({end}): not accepted "
            "(the year's benefits were given up)",
        )

    def local_time_words(self, moment: datetime) -> tuple[str, str]:
        """``moment`` as the region's clock reads it, in Chinese and English:
        ``2021-08-31 23:30（北京时间）``, ``2021-08-31 23:30 (Beijing time)`` (a zone other than
        China's by its name): what a refusal says it decided on, not the caller's offset."""
        local = _aware(moment).astimezone(ZoneInfo(self.timezone))
        zh, en = ZONE_WORDS.get(self.timezone, (self.timezone, self.timezone))
        return f"{local:%Y-%m-%d %H:%M}（{zh}）", f"{local:%Y-%m-%d %H:%M} ({en})"

    def late_payment_refusal(self, paid_at: datetime) -> Label | None:
        """Why a payment at ``paid_at`` (aware) is not accepted as a late payment, in Chinese and
        English; ``None`` when it is. Before the period opens it is no payment of this year at
        all; within the period it is not late; after it, the policy's late rules decide."""
        start, (day_zh, day_en) = self.payment_period.start, self.local_time_words(paid_at)
        title = self.title
        if paid_at < self.date_value("payment_period.start"):
            return Label(
                f"{title.zh}的缴费期自 {start} 起，此前的缴费不予受理（缴费时间：{day_zh}）",
                f"the payment period of {title.en} opens on {start}: a payment before it is "
                f"not accepted (paid at {day_en})",
            )
        if paid_at < self.deadline_instant():
            end = self.payment_period.end
            return Label(
                f"{day_zh} 在{title.zh}的缴费期（{start} 至 {end}）内，不是逾期缴费",
                f"{day_en} is within the payment period of {title.en} ({start} to {end}): "
                "not a late payment",
            )
        if not self.late_payment_accepted(paid_at):
            after_year = self._after_year(paid_at)
            if after_year is not None:
                return after_year
            return Label(
                f"{title.zh}不接受 {day_zh} 的逾期缴费（视为放弃当年参保）",
                f"{title.en} does not accept a late payment on {day_en} "
                "(the year's benefits were given up)",
            )
        return None

    def _late_rule(self, paid_at: datetime) -> LateRule | None:
        """``None`` when paid by the deadline, else the late rule; raises if refused."""
        day = self.local_day(paid_at)
        if paid_at < self.deadline_instant():
            return None
        if not self.late_payment_accepted(paid_at):
            raise LatePaymentRefused(self.policy, day, self._after_year(paid_at), self.title)
        return self.late_payment.rule_on(day)

    def benefit_start(self, paid_at: datetime, kind: str) -> date:
        """The first day of ``kind`` benefits for a payment at ``paid_at``; never before 1 January
        (and a late payment whose waiting days would end after 31 December is refused).

        Raises:
            ValueError: ``kind`` is not one of ``BENEFIT_KINDS``, or ``paid_at`` is naive.
            LatePaymentRefused: the payment is after the period and not accepted (too late, or
                its benefits would start after the insurance year).
        """
        if kind not in BENEFIT_KINDS:
            raise ValueError(f"unknown benefit kind {kind!r}; expected one of {BENEFIT_KINDS}")
        day, year_start = self.local_day(paid_at), date(self.year, 1, 1)
        late, rule = self._late_rule(paid_at), getattr(self.benefit_rules, kind)
        if late is not None:
            start = day + timedelta(days=late.waiting_days)
        elif rule == "month_after_payment":
            start = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        else:
            start = day if rule == "payment_date" else year_start
        return max(start, year_start)

    def amount_due(
        self,
        categories: Iterable[str],
        age: int,
        flags: Iterable[str] = frozenset(),
        *,
        paid_at: datetime | None = None,
    ) -> Decimal:
        """The individual contribution after the best reduction the person qualifies for.

        Args:
            categories: reduction categories the person holds; unknown ones reduce nothing.
            age: age in full years (see ``identity.age_on``).
            flags: facts that conditions and exemptions test (``disabled``, ``newborn``, ...).
            paid_at: when late and the late rule ``owes_subsidy``, the subsidy is added unless a
                held category or flag is in ``late_payment.subsidy_exempt``; a held category
                with a condition (``requires_any``) counts only while the person meets it.

        Raises:
            LatePaymentRefused: ``paid_at`` is after the period and not accepted.
        """
        held, facts = frozenset(categories), frozenset(flags)
        met = {r.category for r in self.reductions if r.applies(age, facts)}
        known = {r.category for r in self.reductions}
        held = frozenset(c for c in held if c in met or c not in known)  # huian.txt:59
        shares = [r.share for r in self.reductions if r.category in held]
        due = self.contribution.individual * (1 - max(shares, default=Decimal(0)))
        late = self._late_rule(paid_at) if paid_at is not None else None
        if late and late.owes_subsidy and not (held | facts) & self.late_payment.subsidy_exempt:
            due += self.contribution.subsidy_min
        return due.quantize(_CENT)

    def refund_decision(
        self, at: datetime, *, employee_insurance_elsewhere: bool, benefits_used: bool
    ) -> RefundDecision:
        """Whether a resident premium paid twice is refunded, asked at ``at`` (aware).

        Checked in this order: the policy has a duplicate refund at all, the window is open (until
        ``accepted_until`` inclusive), the person is also insured as an employee, and used no
        resident benefits this year (foshan.txt:51-52: 对职工医保参保人…重复缴纳的居民医保费，
        未享受待遇的…核定退还).

        Raises:
            ValueError: ``at`` is naive.
        """
        at, duplicate = _aware(at), self.refund.duplicate_with_employee_insurance
        name, name_en = self.title.zh, self.title.en
        if duplicate is None:
            return _refused(
                "no_refund_in_policy",
                f"{name}：本年度政策没有重复参保退费",
                f"{name_en}: this policy year has no refund of duplicate payments",
            )
        until = duplicate.accepted_until
        if at >= self.date_value(f"refund.{_DUPLICATE}.accepted_until"):
            return _refused(
                "window_closed",
                f"{name}：重复参保退费受理期已于 {until} 结束",
                f"{name_en}: duplicate-payment refunds were accepted until {until}",
            )
        if not employee_insurance_elsewhere:
            return _refused(
                "not_employee_insured",
                f"{name}：只退还职工医保参保人重复缴纳的居民医保费",
                f"{name_en}: refunds are only for people also insured as employees",
            )
        if benefits_used:
            return _refused(
                "benefits_used",
                f"{name}：已享受居民医保待遇，不予退费",
                f"{name_en}: resident insurance benefits were used, so no refund",
            )
        return RefundDecision(
            True,
            None,
            f"{name}：受理重复参保退费（受理期至 {until}）",
            f"{name_en}: duplicate-payment refund accepted (applications until {until})",
        )

    def duplicate_refund_accepted(self, at: datetime) -> bool:
        """Whether refunds of duplicate (employee and resident) payments are accepted ``at``: the
        policy has them and the window is open (the person's own conditions aside)."""
        decision = self.refund_decision(at, employee_insurance_elsewhere=True, benefits_used=False)
        return decision.accepted


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {moment!r}")
    return moment


def _refused(reason: str, message_zh: str, message_en: str) -> RefundDecision:
    return RefundDecision(False, reason, message_zh, message_en)


__all__ = [
    "BENEFIT_KINDS",
    "REFUND_REASONS",
    "Bank",
    "Label",
    "LatePaymentRefused",
    "Policy",
    "PolicyError",
    "RefundDecision",
    "Region",
]
