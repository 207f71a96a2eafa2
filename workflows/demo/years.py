"""The enrollment years of the story: the office opens the year for the insured the renewals did
not cover, the tax authority's batch deductions succeed or fail, people (or a family member) pay
within the period, late where the policy accepts it, newcomers pay after their registration, and
people also insured as employees ask for a duplicate-payment refund in the window's last weeks.

``Years`` is the stage's layer of these steps; ``story`` schedules them per policy, ``staff`` calls
``_pay_as_newcomer`` when a registration is approved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from workflows.demo.parameters import (
    DEDUCTION_FAILS,
    EVIDENCE,
    FAILURE_REASONS,
    FAMILY_PAYS,
    LATE_WINDOW,
    OFFICE,
    PAYMENT_CHANNELS,
    PAYS_LATE,
    PAYS_THEMSELVES,
    REQUESTS_REFUND,
    SECOND_DEDUCTION_SUCCEEDS,
    TAX,
)
from workflows.demo.population import Resident
from workflows.demo.stage import Stage
from workflows.enrollment import amount_due
from workflows.payments import PaymentRequest, pay_enrollment, pay_for_person
from workflows.people import ENROLLMENT, PERSON
from workflows.policy import Policy
from workflows.regions import RegionInfo
from workflows.years import open_year


class Years(Stage):
    """The steps of the enrollment years (see the module docstring)."""

    def _years(self, policy: Policy) -> list[Any]:
        return self._instances(ENROLLMENT, key_suffix=f":{policy.policy}")

    def _years_of(self, resident: Resident, policy: Policy) -> list[Any]:
        return self._instances(ENROLLMENT, key=f"{resident.id_number}:{policy.policy}")

    def _open_years(self, policy: Policy) -> None:
        """The office opens the year for every insured person the renewals did not cover."""
        have = {
            str(y.variables.get("id_number"))
            for y in self._years(policy)
            if y.state in self.live_year
        }
        for row in self._instances(PERSON, states=tuple(self.insured)):
            number = str(row.variables.get("id_number"))
            if row.variables.get("region") == policy.region.key and number not in have:
                self._do(open_year, self.engine, self.domain, number, policy.policy, actor=OFFICE)

    def _deduction_batch(self, policy: Policy, first: bool) -> None:
        """The tax authority's batch results: deducted or failed, dated early that morning."""
        rng, now = self.rng, self.clock.now()
        deducted_at = self.local(self.day_of(now), 2)
        deadline = policy.deadline_instant()
        for year in self._years(policy):
            if year.state not in self.payable:
                continue
            resident = self.by_number.get(str(year.variables["id_number"]))
            if resident is None:
                continue
            if not resident.in_agreement:
                if first and rng.random() < PAYS_THEMSELVES:
                    moment = self.some_time(self.after(now, 1, 1), deadline - timedelta(days=1))
                    self.later(moment, self._pay, resident, year.id, policy)
                continue
            if year.state == self.failed:
                success = rng.random() < SECOND_DEDUCTION_SUCCEEDS
                if not success:
                    continue
            else:
                success = rng.random() >= DEDUCTION_FAILS
            data = {
                "amount": str(amount_due(policy, year.variables, deducted_at)),
                "paid_at": deducted_at.isoformat(),
            }
            if not success:
                data["reason"] = rng.choice(FAILURE_REASONS)
            event = "deduct" if success else "fail_deduction"
            done = self._do(self.engine.fire, year.id, event, actor=TAX, data=data)
            if done is not None and not success and rng.random() < PAYS_THEMSELVES:
                moment = self.some_time(self.after(now, 2, 2), deadline - timedelta(days=1))
                self.later(moment, self._pay, resident, year.id, policy)

    def _request(self, resident: Resident, amount: Any) -> PaymentRequest:
        """Who pays ``amount`` and through which channel: the person, or a household member."""
        channel = self.rng.choice(PAYMENT_CHANNELS)
        if resident.family and self.rng.random() < FAMILY_PAYS:
            return PaymentRequest(str(amount), "family", resident.family, channel)
        return PaymentRequest(str(amount), "self", None, channel)

    def _pay(self, resident: Resident, year_id: int, policy: Policy) -> None:
        year = self._instance(year_id)
        if year is None or year.state not in (*self.payable, self.lapsed):
            return  # paid meanwhile (the next batch), or no longer payable
        now = self.clock.now()
        if not (policy.is_within_period(now) or policy.late_payment_accepted(now)):
            return
        request = self._request(resident, amount_due(policy, year.variables, now))
        self._do(
            pay_enrollment,
            self.engine,
            self.domain,
            year_id,
            request,
            actor=f"channel:{request.channel}",
        )

    def _pay_as_newcomer(self, resident: Resident) -> None:
        """A newly registered person pays the year people pay for now (opened if need be)."""
        now = self.clock.now()
        policy = self.domain.regions.get(resident.region).current(now)
        if not (policy.is_within_period(now) or policy.late_payment_accepted(now)):
            return
        years = self._years_of(resident, policy)
        if any(y.state in self.live_year and y.state not in self.payable for y in years):
            return
        request = self._request(resident, amount_due(policy, resident.facts, now))
        self._do(
            pay_for_person,
            self.engine,
            self.domain,
            resident.id_number,
            policy.policy,
            request,
            actor=f"channel:{request.channel}",
        )

    def _late_payers(self, policy: Policy) -> None:
        deadline = policy.deadline_instant()
        last = min(policy.date_value("late_payment.until"), deadline + LATE_WINDOW)
        for year in self._years(policy):
            resident = self.by_number.get(str(year.variables["id_number"]))
            if resident is not None and year.state == self.lapsed and self.rng.random() < PAYS_LATE:
                self.later(self.some_time(deadline, last), self._pay, resident, year.id, policy)

    def _refunds(self, policy: Policy) -> None:
        until = policy.date_value("refund.duplicate_with_employee_insurance.accepted_until")
        now = self.clock.now()
        for year in self._years(policy):
            if year.state in self.refundable and self.rng.random() < REQUESTS_REFUND:
                moment = self.some_time(now, until - timedelta(minutes=1))
                self.later(moment, self._request_refund, year.id)

    def _request_refund(self, year_id: int) -> None:
        year = self._instance(year_id)
        if year is None or year.state not in self.refundable:
            return
        data = {"employee_insurance_elsewhere": True, "benefits_used": False, "evidence": EVIDENCE}
        self._do(self.engine.fire, year_id, "request_refund", actor="channel:online", data=data)

    def _fresh_refund(self, region: RegionInfo) -> None:
        now = self.clock.now()
        policy = region.current(now)
        if not policy.duplicate_refund_accepted(now):
            return
        candidates = [
            y
            for y in self._years(policy)
            if y.state in self.refundable and str(y.variables["id_number"]) not in self.busy
        ]
        if candidates:
            year = self.rng.choice(candidates)
            self.busy.add(str(year.variables["id_number"]))
            self._request_refund(year.id)
