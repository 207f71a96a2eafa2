"""How the commands show a moment: China time with its offset (``2022-03-01 00:00 +08:00``), as
``shebao clock show`` does and as the policies' dates are meant; the database keeps UTC (a naive
value read back is UTC). The commands' ``--json`` output keeps ISO 8601 as stored."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows.service_date import SERVICE_ZONE


def shown(moment: datetime | None, *, seconds: bool = False) -> str:
    """``moment`` in China time with its offset; ``-`` for none."""
    if moment is None:
        return "-"
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    local = aware.astimezone(SERVICE_ZONE)
    offset = local.isoformat()[-6:]  # +08:00
    return f"{local:%Y-%m-%d %H:%M:%S} {offset}" if seconds else f"{local:%Y-%m-%d %H:%M} {offset}"
