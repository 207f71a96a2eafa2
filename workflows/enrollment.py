"""Enrollment rules the enrollment definition names: periods, fees, payers, payments, refunds.

Every fact a rule depends on comes from the service's clock, the year's policy and the instance's
own variables; the only time a caller may give is ``paid_at`` on the tax authority's events (the
definition lets only the ``tax`` scope send those, and the payments API lets only it set the time).
The rules run whichever door the event comes in by: the payments API, the events API, the
deduction file import, a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.errors import TransitionRefused
from engine.forms import FieldProblem
from engine.registry import Registry
from engine.transition_context import TransitionContext
from workflows.identity import age_on, mask_id_number
from workflows.payment_words import payer_words
from workflows.people import ENROLLMENT, LEFT_AT
from workflows.policy import LatePaymentRefused, Policy, PolicyError
from workflows.years import OPENED_AS_OF, enrollment_key, unpaid_year

if TYPE_CHECKING:
    from workflows.domain import Domain

PAYER_KINDS = ("self", "family", "on_behalf")
SELF = "self"
TAX_BATCH = "tax_batch"
ASSISTANCE = "medical_assistance"
"""Who paid a year whose whole contribution a fund pays (医疗救助资金全额补助)."""
RESERVED_CHANNELS = frozenset({TAX_BATCH, ASSISTANCE})
"""Channels a payment never names: the service writes them for the payments of their events."""
CLOSE_ON_LEAVING = "close_on_leaving"
"""The year's event that closes it when its person leaves the scheme (``enrollment.yaml``)."""


def amount_due(policy: Policy, variables: Mapping[str, Any], paid_at: datetime) -> Decimal:
    """The individual contribution for this person paying at ``paid_at`` (reductions, late rules).

    Raises:
        LatePaymentRefused: ``paid_at`` is after the period and the policy no longer accepts it.
        PolicyError: the policy lacks an amount.
    """
    day = paid_at.astimezone(ZoneInfo(policy.timezone)).date()
    age = age_on(str(variables["id_number"]), day)
    return policy.amount_due(
        variables.get("reduction_categories", ()), age, variables.get("flags", ()), paid_at=paid_at
    )


PAID_AS_IT_OPENS = "covered_in_full"
"""The event (enrollment.yaml) by which the fund pays a year with nothing to pay as it opens."""


class EnrollmentRules:
    """Guards and actions over the domain's policies (read anew at each call: reloads apply)."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def policy_of(self, variables: Mapping[str, Any]) -> Policy:
        try:
            return self.domain.policy_of(variables)
        except LookupError:
            name = variables.get("policy")
            raise TransitionRefused(
                f"未知的地区政策：{name}", f"unknown region policy: {name}"
            ) from None

    @staticmethod
    def moment(ctx: TransitionContext) -> datetime:
        """When the payment happened: the tax authority's ``paid_at``, else the service clock."""
        raw = ctx.data.get("paid_at")
        if raw is None:
            return ctx.now
        moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        if moment.tzinfo is None:
            raise TransitionRefused("缴费时间必须带时区", "the time of payment needs its time zone")
        if moment > ctx.now:
            raise TransitionRefused(
                "缴费时间不能晚于当前时间",
                "the time of payment cannot be later than the service's clock",
            )
        return moment

    def within_payment_period(self, ctx: TransitionContext) -> bool:
        policy, paid_at = self.policy_of(ctx.variables), self.moment(ctx)
        if not policy.is_within_period(paid_at):
            day_zh, day_en = policy.local_time_words(paid_at)
            raise TransitionRefused(
                f"{day_zh} 不在{policy.title.zh}的集中缴费期"
                f"（{policy.payment_period.start} 至 {policy.payment_period.end}）内",
                f"{day_en} is outside the payment period of {policy.title.en} "
                f"({policy.payment_period.start} to {policy.payment_period.end})",
            )
        return True

    def late_payment_accepted(self, ctx: TransitionContext) -> bool:
        policy, paid_at = self.policy_of(ctx.variables), self.moment(ctx)
        refusal = policy.late_payment_refusal(paid_at)
        if refusal is not None:
            raise TransitionRefused(refusal.zh, refusal.en)
        return True

    @staticmethod
    def payer_data_problems(ctx: TransitionContext) -> list[FieldProblem]:
        """What ``payer_accepted`` finds wrong in the payment's data alone, checked before any
        rule (``Registry.add_data_check``): a channel the service writes itself (the tax
        authority's batch deduction, the assistance fund: their payments come by their own
        events), and someone else's payment without the payer's ID number."""
        found = []
        channel = ctx.data.get("channel")
        if channel in RESERVED_CHANNELS:
            found.append(
                FieldProblem(
                    "channel",
                    f"渠道 {channel} 由系统记录（税务批量扣费、医疗救助资金），缴费时不能指定",
                    f"{channel} is written by the service (the tax authority's batch deduction, "
                    "the medical assistance fund): a payment cannot name it",
                )
            )
        if ctx.data.get("payer_kind", SELF) != SELF and not ctx.data.get("payer_id_number"):
            found.append(
                FieldProblem(
                    "payer_id_number",
                    "家庭缴费或代他人缴费须填写缴费人的证件号码",
                    "required for a family or on-behalf payment: the payer's ID number",
                )
            )
        return found

    def payer_accepted(self, ctx: TransitionContext) -> bool:
        """Who pays: one of the policy's payer kinds; someone else's payment names a payer who
        is not the insured; and through a channel of the payer's (``payer_data_problems``, run
        before any rule)."""
        policy = self.policy_of(ctx.variables)
        kind = str(ctx.data.get("payer_kind", SELF))
        payer = ctx.data.get("payer_id_number")
        if kind not in policy.payers:  # the kind sent is echoed; the accepted ones in words
            kinds = [(payer_words(p), p) for p in policy.payers]
            raise TransitionRefused(
                f"{policy.title.zh}不接受缴费类型 {kind}"
                f"（可选：{'、'.join(f'{w.zh}（{p}）' for w, p in kinds)}）",
                f"{policy.title.en} does not accept payer kind {kind} "
                f"(accepted: {', '.join(f'{w.en} ({p})' for w, p in kinds)})",
            )
        insured = ctx.variables.get("id_number")
        if kind == SELF and payer not in (None, insured):
            raise TransitionRefused(
                "本人缴费时缴费人应为参保人本人", "a self-payment is paid by the insured person"
            )
        if kind != SELF and payer == insured:
            raise TransitionRefused(
                "家庭缴费或代他人缴费的缴费人不能是参保人本人",
                "a family or on-behalf payment is made by someone other than the insured person",
            )
        return True

    def amount_is_due(self, ctx: TransitionContext) -> bool:
        """The amount paid is exactly what this person owes now (after reductions, late rules)."""
        policy, paid_at = self.policy_of(ctx.variables), self.moment(ctx)
        try:
            due = amount_due(policy, ctx.variables, paid_at)
        except LatePaymentRefused as exc:
            raise TransitionRefused(exc.message_zh, exc.message_en) from None
        except PolicyError as exc:
            raise TransitionRefused(
                f"政策缺少金额：{exc.key}", f"the policy lacks an amount: {exc.key}"
            ) from None
        paid = Decimal(str(ctx.data.get("amount", "")) or "-1")
        if paid != due:
            raise TransitionRefused(
                f"应缴金额为 {due} 元，收到 {paid} 元", f"the amount due is {due} yuan, got {paid}"
            )
        return True

    def record_payment(self, ctx: TransitionContext) -> None:
        """Keep what was paid, when, by whom and through which channel on the instance."""
        is_batch = "payer_kind" not in ctx.data
        ctx.variables["payment"] = {
            "event": ctx.event,
            "paid_at": self.moment(ctx).isoformat(),
            "amount": str(ctx.data.get("amount", "")),
            "payer_kind": str(ctx.data.get("payer_kind", SELF)),
            "payer_id_number": ctx.data.get("payer_id_number") or ctx.variables.get("id_number"),
            "channel": ctx.data.get("channel") or (TAX_BATCH if is_batch else None),
        }

    def nothing_to_pay(self, ctx: TransitionContext) -> bool:
        """The person's whole contribution is paid by a fund (特困人员、低保对象…个人缴费部分由
        医疗救助资金全额补助, huian.txt): nothing is left for them to pay. Whenever the year opens
        while it can still be paid (in the period, before it, or after it while the policy
        accepts late payments): the fund pays then, so the year never waits for a payment the
        person does not owe and never lapses (the benefits start as the policy's rules say for a
        payment at that moment). A year the periodic job opened late (``years.OPENED_AS_OF``) is
        paid as of the moment a run in the period would have opened it."""
        policy = self.policy_of(ctx.variables)
        moment = self.assistance_moment(ctx)
        if moment >= policy.deadline_instant() and not policy.late_payment_accepted(moment):
            raise TransitionRefused("已不能缴费", "the year can no longer be paid")
        try:
            due = amount_due(policy, ctx.variables, moment)
        except (LatePaymentRefused, PolicyError, ValueError):  # ValueError: no valid birth date
            raise TransitionRefused("无应缴金额", "no amount due can be set") from None
        if due != 0:
            raise TransitionRefused(f"应缴 {due} 元", f"{due} yuan to pay")
        return True

    @staticmethod
    def assistance_moment(ctx: TransitionContext) -> datetime:
        """When the fund pays a year with nothing to pay: now, or, as a year the periodic job
        opened late (a scheduler down for the period) opens, the earlier moment it would have
        opened at (``years.OPENED_AS_OF``): a downtime does not make the fund's payment a late
        one. Only as it opens (``PAID_AS_IT_OPENS``): a reduction granted since is paid when it
        is (late, if the year had lapsed)."""
        raw = ctx.variables.get(OPENED_AS_OF)
        if ctx.event != PAID_AS_IT_OPENS or not isinstance(raw, str):
            return ctx.now
        try:
            as_of = datetime.fromisoformat(raw)
        except ValueError:
            return ctx.now
        return min(as_of, ctx.now) if as_of.tzinfo is not None else ctx.now

    @classmethod
    def record_assistance(cls, ctx: TransitionContext) -> None:
        """Keep the fund's payment as a payment: nothing paid by the person, on the day the year
        opened (``assistance_moment``), so the benefits start as for anyone who paid then (in the
        period or late)."""
        ctx.variables["payment"] = {
            "event": ctx.event,
            "paid_at": cls.assistance_moment(ctx).isoformat(),
            "amount": "0.00",
            "payer_kind": ASSISTANCE,
            "payer_id_number": None,
            "channel": ASSISTANCE,
        }

    def refund_rule(self, ctx: TransitionContext) -> bool:
        """The policy decides a duplicate-payment refund from the facts the request states.
        What it refuses whatever the facts (no refund in this policy year, the window closed) is
        refused before the request is read, so the refusal is known ahead: the API then does not
        offer the event (``engine.guards_ahead``)."""
        policy = self.policy_of(ctx.variables)
        best = policy.refund_decision(
            ctx.now, employee_insurance_elsewhere=True, benefits_used=False
        )
        if not best.accepted:
            raise TransitionRefused(best.message_zh, best.message_en)
        decision = policy.refund_decision(
            ctx.now,
            employee_insurance_elsewhere=bool(ctx.data.get("employee_insurance_elsewhere")),
            benefits_used=bool(ctx.data.get("benefits_used")),
        )
        if not decision.accepted:
            raise TransitionRefused(decision.message_zh, decision.message_en)
        return True

    @staticmethod
    def record_refund(ctx: TransitionContext) -> None:
        """Keep the refund beside the payment: what is given back (the payment) and when (who
        decided is in the history)."""
        payment = ctx.variables.get("payment") or {}
        ctx.variables["refund"] = {
            "amount": str(payment.get("amount", "")),
            "approved_at": ctx.now.isoformat(),
        }

    def close_open_years(self, ctx: TransitionContext) -> None:
        """A person who leaves the scheme owes nothing more: each of their years not paid (and
        each lapsed year a late payment could still revive) closes in this transaction
        (``close_on_leaving``); a year paid stays paid. The record keeps when they left
        (``LEFT_AT``), which every door refusing them names."""
        ctx.variables[LEFT_AT] = ctx.now.isoformat()
        number = str(ctx.variables["id_number"])
        region = self.domain.regions.find(str(ctx.variables.get("region", "")))
        for policy in region.policies if region else ():
            for year in ctx.find(ENROLLMENT, enrollment_key(number, policy.policy)):
                if unpaid_year(year.tags, policy, ctx.now):
                    ctx.emit(CLOSE_ON_LEAVING, year.id)

    @staticmethod
    def record_refund_request(ctx: TransitionContext) -> None:
        """Keep the request's facts for the clerk's review."""
        ctx.variables["refund_request"] = {
            "employee_insurance_elsewhere": bool(ctx.data.get("employee_insurance_elsewhere")),
            "benefits_used": bool(ctx.data.get("benefits_used")),
            "evidence": ctx.data.get("evidence"),
            "requested_at": ctx.now.isoformat(),
        }

    def register(self, registry: Registry) -> None:
        registry.add_guard("within_payment_period", self.within_payment_period)
        registry.add_guard("late_payment_accepted", self.late_payment_accepted)
        registry.add_guard("payer_accepted", self.payer_accepted)
        registry.add_data_check("payer_accepted", self.payer_data_problems)
        registry.add_guard("amount_is_due", self.amount_is_due)
        registry.add_guard("refund_rule", self.refund_rule)
        registry.add_action("record_payment", self.record_payment)
        registry.add_action("record_refund_request", self.record_refund_request)
        registry.add_action("record_refund", self.record_refund)
        registry.add_action("close_open_years", self.close_open_years)
        registry.add_guard("nothing_to_pay", self.nothing_to_pay)
        registry.add_action("record_assistance", self.record_assistance)


def payer_masked(payment: Mapping[str, Any]) -> str | None:
    """The payer's ID number as pages and the API show it."""
    payer = payment.get("payer_id_number")
    return mask_id_number(str(payer)) if payer else None
