"""The facts notice texts show, and which instances are a person's (for their notices).

Definitions declare which events notify whom with what text (``notices:`` in
``definitions/*.yaml``); the texts name facts by ``{name}``, which this module computes from an
instance's variables, the region registry and the policy years, in Chinese and English:

- ``bank``: the card's partner bank (``工商银行`` / ``ICBC``);
- ``region``: the instance's region (``佛山市`` / ``Foshan``);
- ``policy_year``: the insurance year (``2022``);
- ``period_end``: the last day of the year's payment period (``2022年2月28日`` / ``28 February
  2022``);
- ``loss_report_lapses_on``: when a temporary loss report reported now lapses (the region's
  ``card.loss_report_lapses_after``), in the region's local time;
- ``after_sealing``: what a holder does after a card is sealed uncollected: apply again, or, for a
  replacement (换领), nothing about the card they had before, which the sealing leaves alone.

Sources: foshan-card-one-card-and-2022-medical-insurance.txt:22, 31 (the bank notifies the holder
that the card is ready), :52 (refunds decided), :67 (unpaid at the end: the year is given up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from engine.durations import parse_duration
from engine.registry import Registry
from engine.runtime import Engine
from engine.statements import instances
from workflows.cards import REPLACES
from workflows.identity import validate_id_number
from workflows.policy import Label, Policy
from workflows.service_date import service_today

if TYPE_CHECKING:
    from workflows.domain import Domain


@dataclass(frozen=True)
class Text:
    """A fact's value in Chinese and English."""

    zh: str
    en: str


_MONTHS = (
    "January February March April May June July August September October November December".split()
)


def day_text(day: date) -> Text:
    """A date as each language writes it (whatever the process's locale)."""
    return Text(
        f"{day.year}年{day.month}月{day.day}日", f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    )


class NoticeFacts:
    """The facts above, read from the domain at each call (a reloaded policy file applies)."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def _policy(self, variables: Mapping[str, Any]) -> Policy | None:
        try:
            return self.domain.policy_of(variables)
        except LookupError:
            return None

    def bank(self, variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime) -> Any:
        code = variables.get("bank")
        label = self.domain.regions.bank_label(str(code)) if code else None
        return label or code

    def region(
        self, variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime
    ) -> Label | None:
        found = self.domain.regions.find(str(variables.get("region", "")))
        return found.name if found else None

    def policy_year(
        self, variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime
    ) -> int | None:
        policy = self._policy(variables)
        return policy.year if policy else None

    def period_end(
        self, variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime
    ) -> Text | None:
        policy = self._policy(variables)
        return day_text(policy.payment_period.end) if policy else None

    def after_sealing(
        self, variables: Mapping[str, Any], _data: Mapping[str, Any], _now: datetime
    ) -> Text:
        if variables.get(REPLACES) is not None:  # a replacement: the old card is untouched
            return Text(
                "您原有的社会保障卡不受影响；如仍需换领，请重新申请。",
                "the card you had before is not affected; to replace it, please apply again.",
            )
        return Text("如需用卡，请重新申领。", "to have a card, please apply again.")

    def loss_report_lapses_on(
        self, variables: Mapping[str, Any], _data: Mapping[str, Any], now: datetime
    ) -> Text | None:
        policy = self._policy(variables)
        if policy is None:
            return None
        zone = ZoneInfo(policy.timezone)
        moment = parse_duration(policy.card.loss_report_lapses_after).after(now, zone)
        local = moment.astimezone(zone)
        day = day_text(local.date())
        return Text(f"{day.zh} {local:%H:%M}", f"{local:%H:%M} on {day.en}")

    USES = {
        "after_sealing": (REPLACES,),
        "loss_report_lapses_on": ("policy", "region"),
        "bank": ("bank",),
        "region": ("region",),
        "policy_year": ("policy", "region"),
        "period_end": ("policy", "region"),
    }
    """The variables each fact reads (and nothing else): a batch computes it once per value."""

    def register(self, registry: Registry) -> None:
        for name, uses in self.USES.items():
            registry.add_fact(name, getattr(self, name), uses=uses)


def person_instance_ids(engine: Engine, id_number: str) -> list[int]:
    """The ids of a person's instances: their record (business key: the ID number), their cards
    (``<province>:<ID>``) and their years (``<ID>:<policy>``), oldest first.

    Raises:
        InvalidIdNumber: ``id_number`` is not a valid resident ID number.
    """
    person = validate_id_number(id_number, today=service_today(engine.clock.now()))
    key = instances.c.business_key
    query = (
        select(instances.c.id)
        .where(or_(key == person, key.like(f"{person}:%"), key.like(f"%:{person}")))
        .order_by(instances.c.id)
    )
    with engine.db.connect() as conn:
        return [int(i) for i in conn.execute(query).scalars()]


__all__ = ["NoticeFacts", "Text", "day_text", "person_instance_ids"]
