"""Reads a region policy file and validates it into ``workflows.policy``'s frozen dataclasses.

The dataclasses are the schema: a field's YAML key is its name (or ``metadata["key"]``) and its
``metadata`` holds the checks (pattern, choices, bounds). What one field cannot check (the file name,
the region key and year in the policy id, the time zone, the order of dates, unique bank codes) is
checked across keys at the end; what one file cannot check (``renews_from`` names the same region's
previous year) is checked across files by ``load_policies``. Every failure is a ``PolicyError``
naming the file and the dotted key. ``null`` is accepted only where a field is optional.
"""

from __future__ import annotations

import dataclasses
import re
import types
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo

import yaml

from workflows.policy import Policy, PolicyError
from workflows.policy_schema import Requirement

_TYPE_NAMES = {
    Decimal: "a number",
    date: "a date YYYY-MM-DD",
    int: "a whole number",
    bool: "true or false",
    str: "text",
}


def load_policies(directory: str | Path) -> dict[str, Policy]:
    """Load every ``*.yaml`` policy in ``directory``, keyed by policy id (= the file name stem).

    Raises:
        PolicyError: a file is broken (see ``load_policy``), or its ``renews_from`` does not name
            a policy in ``directory`` of the same region whose year is one less.
    """
    policies = {p.policy: p for p in map(load_policy, sorted(Path(directory).glob("*.yaml")))}
    for policy in policies.values():
        _check_renews_from(policy, policies, Path(directory))
    return policies


def _check_renews_from(policy: Policy, policies: dict[str, Policy], directory: Path) -> None:
    if policy.renews_from is None:
        return
    previous = policies.get(policy.renews_from)
    if previous is None:
        problem = f"names no policy in {directory}: {policy.renews_from!r}"
    elif previous.region.key != policy.region.key:
        problem = (
            f"{previous.policy} is of region {previous.region.key!r}, not {policy.region.key!r}"
        )
    elif previous.year != policy.year - 1:
        problem = f"{previous.policy} is for {previous.year}; expected {policy.year - 1}"
    else:
        return
    raise PolicyError(policy.source, "renews_from", problem)


def load_policy(path: str | Path) -> Policy:
    """Load and validate one policy file.

    Raises:
        PolicyError: the file cannot be read or parsed, or a key is missing, unknown or invalid.
    """
    path = Path(path)
    reader = _Reader(str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError) as error:
        raise reader.fail("", f"cannot read the file: {error}") from error
    policy = reader.build(Policy, data, "", source=str(path))
    reader.check(policy, path.stem)
    return policy


def _describe(tp: Any) -> str:
    if get_origin(tp) in (tuple, frozenset):
        return "a list"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return _TYPE_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


class _Reader:
    """Builds the dataclasses from parsed YAML; every failure names the file and the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> PolicyError:
        return PolicyError(self.source, key or "(top level)", problem)

    def build(self, cls: type, value: Any, key: str, **extra: Any) -> Any:
        hints = get_type_hints(cls)
        fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls)}
        fields = {k: f for k, f in fields.items() if not f.metadata.get("internal")}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {value!r}")
        for name in [*fields, *value]:
            where, spec = f"{key}.{name}" if key else str(name), fields.get(name)
            if spec is None:
                raise self.fail(where, f"unknown key; expected one of {sorted(fields)}")
            if name not in value and dataclasses.MISSING is spec.default is spec.default_factory:
                raise self.fail(where, "missing")
        kwargs = {
            f.name: self.convert(value[k], hints[f.name], f"{key}.{k}" if key else k, f.metadata)
            for k, f in fields.items()
            if k in value
        }
        return cls(**kwargs, **extra)

    def convert(self, value: Any, tp: Any, key: str, meta: Any) -> Any:
        args = get_args(tp)
        if get_origin(tp) is types.UnionType:  # X | None
            return None if value is None else self.convert(value, args[0], key, meta)
        if value is None:
            raise self.fail(key, f"a value is required, got null (expected {_describe(tp)})")
        if get_origin(tp) in (tuple, frozenset):
            if not isinstance(value, list):
                raise self.fail(key, f"expected a list, got {value!r}")
            items = (self.convert(v, args[0], f"{key}[{i}]", meta) for i, v in enumerate(value))
            return get_origin(tp)(items)
        if tp is Requirement:
            if not isinstance(value, dict):
                value = {"flag": value}
            if len(value) != 1:
                raise self.fail(key, f"expected one condition, got {value!r}")
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.build(tp, value, key)
        if tp is date and isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                pass
        if tp is Decimal and isinstance(value, int | float) and not isinstance(value, bool):
            value = Decimal(str(value))
        wrong = not isinstance(value, tp) or isinstance(value, bool | datetime) != (tp is bool)
        if wrong or (tp is Decimal and not value.is_finite()):
            raise self.fail(key, f"expected {_TYPE_NAMES.get(tp, tp.__name__)}, got {value!r}")
        if tp is str and not re.fullmatch(meta.get("pattern", r"(?s).*\S.*"), value):
            raise self.fail(key, f"expected text matching {meta.get('pattern')}, got {value!r}")
        if tp is str and value not in meta.get("choices", (value,)):
            raise self.fail(key, f"expected one of {meta['choices']}, got {value!r}")
        if not meta.get("min", value) <= value <= meta.get("max", value):
            bounds = f"at least {meta['min']}" + (
                f" and at most {meta['max']}" if "max" in meta else ""
            )
            raise self.fail(key, f"expected {bounds}, got {value}")
        return value

    def check(self, p: Policy, stem: str) -> None:
        """What a single field cannot check: consistency across keys."""
        if p.policy != stem:
            raise self.fail("policy", f"must match the file name {stem!r}, got {p.policy!r}")
        region_key, _, year = p.policy.rpartition("-")
        if region_key != p.region.key:
            raise self.fail(
                "region.key",
                f"must be the policy id before the year, {region_key!r}; got {p.region.key!r}",
            )
        if year != str(p.year):
            raise self.fail("year", f"must be the year in the policy id, {year!r}; got {p.year}")
        banks = [bank.code for bank in p.region.banks]
        if not banks:
            raise self.fail("region.banks", "at least one partner bank is needed")
        if len(set(banks)) != len(banks):
            raise self.fail("region.banks", f"a bank code is listed twice: {banks}")
        try:
            ZoneInfo(p.timezone)
        except (ValueError, LookupError) as error:  # ZoneInfoNotFoundError is a KeyError
            raise self.fail("timezone", f"unknown time zone {p.timezone!r}") from error
        if not p.region.code.startswith(p.region.province):
            raise self.fail("region.code", f"not in province {p.region.province}")
        period, late = p.payment_period, p.late_payment
        if period.end < period.start:
            raise self.fail("payment_period.end", f"{period.end} is before {period.start}")
        if not late.accepted and (late.until or late.rules or late.subsidy_exempt):
            raise self.fail("late_payment", "no other keys when late payment is not accepted")
        if late.accepted and (late.until is None or late.until <= period.end):
            raise self.fail("late_payment.until", f"needed, and after {period.end}")
        starts = [period.end] + [rule.start for rule in late.rules]
        for i, (before, start) in enumerate(zip(starts, starts[1:], strict=False)):
            first_ok = i > 0 or start == period.end + timedelta(days=1)
            if not first_ok or start <= before or (late.until and start > late.until):
                raise self.fail(
                    f"late_payment.rules[{i}].from",
                    "the first rule starts the day after the period; each later one after the "
                    f"one before, by late_payment.until; got {start}",
                )
        names = [r.category for r in p.reductions]
        if len(set(names)) != len(names):
            raise self.fail("reductions", f"a category is listed twice: {names}")
