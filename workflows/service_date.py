"""The service clock's calendar date where no region is known yet (a person looked up by ID
number, an ID number presented at a bank): what "born by today" is judged against at such a door.

Every policy file keeps its dates in ``Asia/Shanghai`` (``timezone:``); a door that knows the
region asks it instead (``RegionInfo.today``), which gives the same date.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SERVICE_ZONE = ZoneInfo("Asia/Shanghai")


def service_today(moment: datetime) -> date:
    """The calendar date in China at ``moment`` (aware: the service clock's time).

    Raises:
        ValueError: ``moment`` is naive.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected an aware datetime, got {moment!r}")
    return moment.astimezone(SERVICE_ZONE).date()
