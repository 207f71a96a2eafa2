"""The one region registry: every region the service knows, built once from the policy files.

This module owns the answers about regions: which region a 6-digit region code falls in, a region's
names, province and partner banks, and which of its policy years a moment belongs to (the year open
for payment, the year people pay for). Its only source is the ``region:`` block of the policy files
(``definitions/policies/<key>-<year>.yaml``); a region's facts come from its latest year. Other
modules ask this registry instead of keeping their own lists of regions, codes or banks.

    regions = Regions.from_policies(load_policies(directory))
    regions.by_code("440604").key            # "foshan"
    regions.get("huian").current(moment)     # the Hui'an policy year people pay for at ``moment``
    regions.policy_named("huian-2030")       # UnknownPolicy, listing huian-2022, huian-2023
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from engine.errors import WorkflowError
from engine.field_words import one_of
from engine.forms import FieldProblem
from workflows.identity import mask_id_numbers_in
from workflows.policy import Label, Policy, PolicyError
from workflows.policy_loader import load_policies


def code_prefix(code: str) -> str:
    """The address-code prefix a region's own code stands for: trailing ``00`` pairs dropped, down
    to the 2-digit province (``"440600"`` -> ``"4406"``, ``"440000"`` -> ``"44"``, ``"350521"``
    unchanged). A code starting with it lies inside the region (GB/T 2260)."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


class UnknownPolicy(WorkflowError):
    """A policy year the service does not have (``x``, ``huian-2030``), named by a request's
    ``field``: refused naming the field and the policies that may be named (``offered``), the
    same in both languages; the code is echoed masked (a column shifted: an ID number)."""

    code = "unknown_policy"

    def __init__(self, policy_id: str, offered: Sequence[str], field: str = "policy") -> None:
        shown = mask_id_numbers_in(policy_id)
        super().__init__(
            f"未知的年度政策：{shown}（可选：{'、'.join(offered)}）",
            f"unknown policy year {shown!r} (one of: {', '.join(offered)})",
        )
        self.policy_id = policy_id
        self.problems = [FieldProblem(field, *one_of(offered, offered))]


@dataclass(frozen=True)
class RegionInfo:
    """One region and its policy years; the facts are those of its latest year."""

    key: str
    code: str
    name: Label
    city: Label
    province: str
    banks: Mapping[str, Label] = field(hash=False, repr=False)
    """Partner bank code -> label, in the file's order (read-only)."""
    policies: tuple[Policy, ...] = field(repr=False)
    """This region's policy years, oldest first, at least one."""

    def __post_init__(self) -> None:
        years = [p.year for p in self.policies]
        if not years or years != sorted(set(years)):
            raise ValueError(f"region {self.key}: policies must be one per year, oldest first")
        if any(p.region.key != self.key for p in self.policies):
            raise ValueError(f"region {self.key}: a policy of another region was given")

    @classmethod
    def from_policies(cls, policies: Iterable[Policy]) -> RegionInfo:
        """The region of ``policies`` (one region's years, any order); facts from the latest."""
        ordered = tuple(sorted(policies, key=lambda p: p.year))
        region = ordered[-1].region
        banks = MappingProxyType({bank.code: bank.label for bank in region.banks})
        return cls(
            region.key, region.code, region.name, region.city, region.province, banks, ordered
        )

    @property
    def prefix(self) -> str:
        """The prefix of every region code inside this region (``"4406"`` for Foshan)."""
        return code_prefix(self.code)

    def covers(self, region_code: str) -> bool:
        """Whether the 6-digit ``region_code`` lies inside this region (440604 in Foshan 440600)."""
        valid = len(region_code) == 6 and region_code.isdigit()
        return valid and region_code.startswith(self.prefix)

    def latest(self) -> Policy:
        return self.policies[-1]

    def today(self, moment: datetime) -> date:
        """The region's calendar date at ``moment`` (aware; the service clock's time), in its
        latest policy's time zone: what "born by today" is judged against."""
        return moment.astimezone(ZoneInfo(self.latest().timezone)).date()

    def policy_for_year(self, year: int) -> Policy | None:
        return next((p for p in self.policies if p.year == year), None)

    def open_for_payment(self, moment: datetime) -> Policy | None:
        """The year whose concentrated payment period contains ``moment`` (aware); the latest such
        year if periods overlap, ``None`` between periods.

        Raises:
            ValueError: ``moment`` is naive.
        """
        return next((p for p in reversed(self.policies) if p.is_within_period(moment)), None)

    def current(self, moment: datetime) -> Policy:
        """The year people pay for at ``moment`` (aware): the one open for payment, else the latest
        whose period started by ``moment`` (late payments, lapses), else the earliest year.

        Raises:
            ValueError: ``moment`` is naive.
        """
        started = (
            p for p in reversed(self.policies) if p.date_value("payment_period.start") <= moment
        )
        return self.open_for_payment(moment) or next(started, self.policies[0])


class Regions:
    """The registry: regions by key, by region code and by province; policies by id; bank labels."""

    def __init__(self, regions: Iterable[RegionInfo]) -> None:
        self._regions = {region.key: region for region in sorted(regions, key=lambda r: r.key)}
        self._policies = {p.policy: p for r in self._regions.values() for p in r.policies}

    @classmethod
    def from_policies(cls, policies: Mapping[str, Policy]) -> Regions:
        """Group loaded policies (``load_policies``) by region key; facts from each latest year.

        Raises:
            PolicyError: two policies of a region share a year, two regions share a code, or a bank
                code has different labels in two regions (a code means one bank everywhere).
        """
        by_key: dict[str, list[Policy]] = {}
        for policy in policies.values():
            years = by_key.setdefault(policy.region.key, [])
            twin = next((p for p in years if p.year == policy.year), None)
            if twin is not None:
                raise PolicyError(policy.source, "year", f"{twin.source} is for the same year")
            years.append(policy)
        regions = cls(RegionInfo.from_policies(years) for years in by_key.values())
        regions._check_across_regions()
        return regions

    @classmethod
    def load(cls, directory: str | Path) -> Regions:
        """``from_policies(load_policies(directory))``."""
        return cls.from_policies(load_policies(directory))

    def _check_across_regions(self) -> None:
        codes: dict[str, RegionInfo] = {}
        labels: dict[str, tuple[Label, RegionInfo]] = {}
        for region in self:
            source = region.latest().source
            other = codes.setdefault(region.code, region)
            if other is not region:
                raise PolicyError(source, "region.code", f"also the code of region {other.key!r}")
            for i, (code, label) in enumerate(region.banks.items()):
                seen, where = labels.setdefault(code, (label, region))
                if seen != label:
                    problem = f"bank {code!r} is labelled {seen} in region {where.key!r}"
                    raise PolicyError(source, f"region.banks[{i}].label", problem)

    def get(self, key: str) -> RegionInfo:
        """The region ``key``; raises ``KeyError`` naming the known keys if there is none."""
        region = self._regions.get(key)
        if region is None:
            raise KeyError(f"unknown region {key!r}; known: {', '.join(self._regions)}")
        return region

    def find(self, key: str) -> RegionInfo | None:
        return self._regions.get(key)

    def by_code(self, region_code: str) -> RegionInfo | None:
        """The region that covers the 6-digit ``region_code``; the most specific one if a region
        lies inside another (a county inside a city), ``None`` outside every region."""
        covering = [r for r in self if r.covers(region_code)]
        return max(covering, key=lambda r: len(r.prefix), default=None)

    def of_province(self, province: str) -> list[RegionInfo]:
        """The regions in the 2-digit ``province`` (``"44"``), by key."""
        return [r for r in self if r.province == province]

    def policy(self, policy_id: str) -> Policy | None:
        """The policy ``policy_id`` (``"huian-2023"``) of any region."""
        return self._policies.get(policy_id)

    def policy_named(self, policy_id: str, field: str = "policy") -> Policy:
        """The policy ``policy_id`` a request names in ``field``.

        Raises:
            UnknownPolicy: there is none; it lists the policies of the region the code starts
                with (``huian-2030``: Hui'an's), else every region's.
        """
        found = self._policies.get(policy_id)
        if found is not None:
            return found
        region = self._regions.get(policy_id.rsplit("-", 1)[0])
        named = region.policies if region is not None else tuple(self._policies.values())
        raise UnknownPolicy(policy_id, sorted(p.policy for p in named), field)

    def bank_label(self, code: str) -> Label | None:
        """The label of a partner bank of any region (the same in every region that lists it)."""
        return next((r.banks[code] for r in self if code in r.banks), None)

    def keys(self) -> list[str]:
        return list(self._regions)

    def __iter__(self) -> Iterator[RegionInfo]:
        return iter(self._regions.values())

    def __len__(self) -> int:
        return len(self._regions)

    def __contains__(self, key: object) -> bool:
        return key in self._regions

    def __repr__(self) -> str:
        return f"Regions({', '.join(self._regions)})"
