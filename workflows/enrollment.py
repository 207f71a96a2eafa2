"""Enrollment rules the enrollment definition names: payment windows, late payment, refunds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.errors import TransitionRefused
from engine.registry import Registry, TransitionContext
from workflows.policy import Policy

PAYER_KINDS = ("self", "family", "on_behalf")


class EnrollmentRules:
    """Guards and actions over the loaded region policies."""

    def __init__(self, policies: Mapping[str, Policy]) -> None:
        self.policies = policies

    def policy_of(self, variables: Mapping[str, Any]) -> Policy:
        name = variables.get("policy")
        if name not in self.policies:
            raise TransitionRefused(f"未知的地区政策：{name}", f"unknown region policy: {name}")
        return self.policies[str(name)]

    @staticmethod
    def paid_at(ctx: TransitionContext) -> datetime:
        raw = ctx.data.get("paid_at")
        if raw is None:
            return ctx.now
        moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        if moment.tzinfo is None:
            raise TransitionRefused("缴费时间必须带时区", "paid_at needs a time zone")
        return moment

    def within_payment_period(self, ctx: TransitionContext) -> bool:
        policy, paid_at = self.policy_of(ctx.variables), self.paid_at(ctx)
        if not policy.is_within_period(paid_at):
            raise TransitionRefused(
                f"{paid_at.date()} 不在 {policy.policy} 的集中缴费期内",
                f"{paid_at.date()} is outside the payment period of {policy.policy}",
            )
        return True

    def late_payment_accepted(self, ctx: TransitionContext) -> bool:
        policy, paid_at = self.policy_of(ctx.variables), self.paid_at(ctx)
        if not policy.late_payment_accepted(paid_at):
            raise TransitionRefused(
                f"{policy.policy} 不接受 {paid_at.date()} 的逾期缴费",
                f"{policy.policy} does not accept a late payment on {paid_at.date()}",
            )
        return True

    def refund_window_open(self, ctx: TransitionContext) -> bool:
        policy = self.policy_of(ctx.variables)
        if not policy.duplicate_refund_accepted(ctx.now):
            raise TransitionRefused(
                f"{policy.policy} 的重复参保退费受理期已过",
                f"the duplicate-payment refund window of {policy.policy} is closed",
            )
        return True

    def record_payment(self, ctx: TransitionContext) -> None:
        """Keep what was paid, when, by whom and through which channel on the instance."""
        payer_kind = str(ctx.data.get("payer_kind", "self"))
        if payer_kind not in PAYER_KINDS:
            raise TransitionRefused(
                f"未知的缴费类型：{payer_kind}", f"unknown payer kind: {payer_kind}"
            )
        ctx.variables["payment"] = {
            "paid_at": self.paid_at(ctx).isoformat(),
            "amount": str(ctx.data.get("amount", "")),
            "payer_kind": payer_kind,
            "payer": ctx.data.get("payer"),
            "channel": ctx.data.get("channel", "tax_batch" if ctx.event == "deduct" else None),
        }

    def policy_date(self, path: str, variables: Mapping[str, Any]) -> tuple[datetime, str]:
        policy = self.policy_of(variables)
        return policy.date_value(path), f"{policy.policy}:{path}"

    def policy_ref_date(self, ref: str) -> datetime:
        """The moment a reference ``policy_date`` returned (``huian-2023:payment_period.end``)
        names in the policies loaded now."""
        name, _, path = ref.partition(":")
        if name not in self.policies or not path:
            raise LookupError(f"unknown policy date reference {ref!r}")
        return self.policies[name].date_value(path)

    def reload(self, policies: Mapping[str, Policy]) -> None:
        """Answer from ``policies`` from now on (the files were read again)."""
        self.policies = policies

    def register(self, registry: Registry) -> None:
        registry.add_guard("within_payment_period", self.within_payment_period)
        registry.add_guard("late_payment_accepted", self.late_payment_accepted)
        registry.add_guard("refund_window_open", self.refund_window_open)
        registry.add_action("record_payment", self.record_payment)
        registry.set_policy_date_resolver(self.policy_date)
