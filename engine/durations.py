"""ISO 8601 durations (``P30D``, ``P1Y2M``, ``PT12H``) as used by timer definitions.

Years and months are calendar units: ``P1M`` from 31 January is the last day of February. They are
counted on the calendar of a time zone (the service's, where its clock runs in UTC): six months
after 06:00 on 31 August in China is 06:00 on 28 February there, whatever day that is in UTC.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class Duration:
    """A parsed ISO 8601 duration; ``text`` keeps the original spelling for diagrams and BPMN."""

    text: str
    years: int = 0
    months: int = 0
    delta: timedelta = timedelta(0)

    def after(self, moment: datetime, zone: tzinfo | None = None) -> datetime:
        """The moment this duration after ``moment``: years and months on the calendar of
        ``zone`` (an aware ``moment`` only; by default its own), the answer in ``moment``'s zone."""
        if self.years or self.months:
            local = moment.astimezone(zone) if zone is not None and moment.tzinfo else moment
            total = local.year * 12 + (local.month - 1) + self.years * 12 + self.months
            year, month = divmod(total, 12)
            day = min(local.day, calendar.monthrange(year, month + 1)[1])
            shifted = local.replace(year=year, month=month + 1, day=day)
            moment = shifted if local is moment else shifted.astimezone(moment.tzinfo)
        return moment + self.delta


def parse_duration(text: str) -> Duration:
    """Parse ``text`` as an ISO 8601 duration.

    Raises:
        ValueError: ``text`` is not a duration of the form PnYnMnWnDTnHnMnS.
    """
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not an ISO 8601 duration: {text!r} (expected e.g. P30D, P1Y, PT12H)")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    delta = timedelta(
        weeks=parts.get("weeks", 0),
        days=parts.get("days", 0),
        hours=parts.get("hours", 0),
        minutes=parts.get("minutes", 0),
        seconds=parts.get("seconds", 0),
    )
    return Duration(
        text=text.strip(), years=parts.get("years", 0), months=parts.get("months", 0), delta=delta
    )
