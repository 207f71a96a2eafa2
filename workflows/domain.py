"""The domain as the service runs it: the region registry and the engine registry that uses it.

``Domain`` reads the policy files once into the one region registry (``workflows.regions``) and
fills an engine ``Registry`` with every guard, action, field type, policy date, periodic job and
notice fact the shipped definitions name. Rules read the regions through the ``Domain`` each time,
so ``reload()`` (a changed policy file) is seen by every rule at once. A broken file found by a
reload changes nothing: the last good policies stay in force and the fault is logged once and kept
in ``fault`` (``/readyz`` shows it) until a good reload. The engine never imports this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.durations import Duration, parse_duration
from engine.forms import FieldValueError
from engine.registry import Registry
from workflows import cards, extra_cards, people, reduction_conditions, reductions, years
from workflows.enrollment import EnrollmentRules
from workflows.identity import InvalidIdNumber, validate_id_number
from workflows.notices import NoticeFacts
from workflows.policy import Policy, PolicyError
from workflows.policy_loader import load_policies
from workflows.regions import Regions
from workflows.renewals import RenewalOpener
from workflows.service_date import SERVICE_ZONE, service_today

log = logging.getLogger(__name__)


class Domain:
    """Regions from the policy files, and the engine registry of the rules over them."""

    def __init__(self, policies_dir: str | Path) -> None:
        self.policies_dir = Path(policies_dir)
        self.regions = Regions.from_policies(load_policies(self.policies_dir))
        self.fault: PolicyError | None = None
        """Why the last reload read nothing (the last good policies serve meanwhile)."""
        self._timer_values: dict[tuple[str, str], datetime | Duration] = {}
        self.enrollment = EnrollmentRules(self)
        self.registry = Registry()
        self.registry.calendar = SERVICE_ZONE  # a timer's months are China's (durations.py)
        self.now: Callable[[], datetime] | None = None
        """The service clock's time (``use_clock``): the date ``check_id_number`` judges by."""
        self.registry.add_field_type("id_number", self.check_id_number)
        cards.register(self.registry)
        extra_cards.register(self.registry)
        people.register(self.registry, self)
        years.register(self.registry, self)
        reduction_conditions.register(self.registry, self)
        reductions.register(self.registry, self)
        self.enrollment.register(self.registry)
        self.registry.set_policy_date_resolver(self.policy_date)
        self.registry.set_policy_ref_resolver(self.policy_ref_date, reload=self.reload)
        self.registry.set_policy_path_check(self.policy_path_problem)
        self.registry.add_periodic("open_renewals", RenewalOpener(self))
        NoticeFacts(self).register(self.registry)

    def use_clock(self, now: Callable[[], datetime]) -> None:
        """Judge the dates of form fields by ``now()``: the engine's clock, read each time (a
        command or the app may put another clock in the engine after it is built)."""
        self.now = now

    def check_id_number(self, value: str) -> str:
        """The ``id_number`` form field type: a valid GB 11643 number, normalised, its holder
        born by the service clock's date (a presented ID, a payer's).

        Raises:
            FieldValueError: the number is not valid.
            RuntimeError: no clock was given (``use_clock``).
        """
        if self.now is None:
            raise RuntimeError("the domain has no clock: call use_clock first")
        try:
            return validate_id_number(value, today=service_today(self.now()))
        except InvalidIdNumber as exc:
            raise FieldValueError(exc.message_zh, exc.message_en) from None

    @property
    def policies(self) -> dict[str, Policy]:
        """Every loaded policy year, by id (``huian-2023``)."""
        return {p.policy: p for region in self.regions for p in region.policies}

    def reload(self) -> None:
        """Read the policy files again (``shebao policy reload``, a changed file).

        A broken file changes nothing: the last good policies stay in force, the fault (file, key,
        problem) goes to ``fault`` and is logged once as an ERROR, not again until it changes.
        """
        try:
            regions = Regions.from_policies(load_policies(self.policies_dir))
        except PolicyError as exc:
            if self.fault is None or str(self.fault) != str(exc):
                log.error("policy files not reloaded, the last good ones stay in force: %s", exc)
            self.fault = exc
            return
        if self.fault is not None:
            log.warning("policy files reloaded; the fault is gone: %s", self.fault)
        self.regions, self.fault = regions, None
        self._timer_values = {}

    def policy_of(self, variables: Mapping[str, Any]) -> Policy:
        """The policy an instance lives under: its year's (``policy``), else its region's latest.

        Raises:
            LookupError: neither is known.
        """
        named = variables.get("policy")
        if named is not None:
            found = self.regions.policy(str(named))
            if found is None:
                raise LookupError(f"unknown policy {named!r}")
            return found
        region = self.regions.find(str(variables.get("region", "")))
        if region is None:
            raise LookupError(f"unknown region {variables.get('region')!r}")
        return region.latest()

    def policy_date(
        self, path: str, variables: Mapping[str, Any], now: datetime
    ) -> tuple[datetime, str | None]:
        """When a ``policy:`` timer entered at ``now`` is due: a date of the instance's policy
        (with a reference, so a changed file moves it) or a duration from ``now`` (none)."""
        policy = self.policy_of(variables)
        key = (policy.policy, path)
        found = self._timer_values.get(key)
        if found is None:
            found = self._timer_values[key] = self._timer_value(policy, path)
        if isinstance(found, Duration):
            return found.after(now, ZoneInfo(policy.timezone)), None
        return found, f"{policy.policy}:{path}"

    def policy_path_problem(self, path: str) -> str | None:
        """Which loaded policy year gives no date or duration at ``path`` (None: every one does)."""
        for policy in self.policies.values():
            try:
                self._timer_value(policy, path)
            except (PolicyError, ValueError):
                return f"policy {policy.policy} gives no date or duration at {path}"
        return None

    def _timer_value(self, policy: Policy, path: str) -> datetime | Duration:
        """What ``path`` names in ``policy``: a date, or else a duration (kept until a reload)."""
        try:
            return policy.date_value(path)
        except PolicyError:
            pass
        value: Any = policy
        for name in path.split("."):
            value = getattr(value, name, None)
        if not isinstance(value, str):
            raise PolicyError(policy.source, path, "names no date or duration of this policy")
        return _duration(value)

    def policy_ref_date(self, ref: str) -> datetime:
        """The moment a reference ``policy_date`` returned names in the policies loaded now."""
        name, _, path = ref.partition(":")
        policy = self.regions.policy(name)
        if policy is None or not path:
            raise LookupError(f"unknown policy date reference {ref!r}")
        return policy.date_value(path)


@lru_cache(maxsize=256)
def _duration(text: str) -> Duration:
    return parse_duration(text)


def build_registry(policies_dir: str | Path) -> Registry:
    """The engine registry of a fresh ``Domain`` (``shebao definitions validate``)."""
    return Domain(policies_dir).registry
