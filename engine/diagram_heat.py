"""What colours the states of a live diagram: the heat modes, their set-based queries, the legend.

Owns the choice between the three heats a supervisor can pick (``HEAT_MODES``): how many instances
sit in a state (``count``), how much work is late there (``overdue``: open tasks past their due
date plus pending timers whose due time has passed), and how long instances have sat there (``age``:
the oldest ``state_entered_at`` per state: a reminder that leaves an instance where it is does not
make it younger). Each is one ``GROUP BY state`` (or one probe per state on an
index) for one process, never a scan per instance. Also owns ``since`` (the time range of the flow
counts, ``7d`` ... ``all``) and the legend rows that say what each colour means. Colours and words
come from ``engine.diagram_styles``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, Engine, Select, func, literal_column, select, union_all

from engine import diagram_styles as ds
from engine import statements as st
from engine.definition import Label, ProcessDefinition
from engine.queries import counts_by_state

HEAT_MODES = ("count", "overdue", "age")
SINCE_CHOICES = ("7d", "30d", "365d", "all")
_SINCE = re.compile(r"([1-9]\d{0,3})d")
_DAY = 86400.0


class BadHeatArgument(ValueError):
    """A ``heat`` or ``since`` value the diagrams do not know."""


def parse_heat(value: str | None) -> str:
    """The heat mode named by ``value`` (``count`` when absent)."""
    if value is None or value == "":
        return "count"
    if value not in HEAT_MODES:
        raise BadHeatArgument(f"heat must be one of {', '.join(HEAT_MODES)}")
    return value


def parse_since(value: str | None) -> timedelta | None:
    """The range ``7d`` / ``30d`` / ``365d`` (any 1-9999 days) as a duration; ``all`` or absent:
    None (the whole history)."""
    if value is None or value in ("", "all"):
        return None
    found = _SINCE.fullmatch(value)
    if found is None:
        raise BadHeatArgument("since must be a number of days such as 7d, 30d, 365d, or all")
    return timedelta(days=int(found.group(1)))


@dataclass(frozen=True)
class Heat:
    """The figures behind one heat of one process at one moment.

    ``values`` is what colours each state (instances, overdue items, or the oldest age in
    seconds); ``counts`` are the instances per state (always shown); ``overdue_tasks`` and
    ``overdue_timers`` split the overdue figure.
    """

    mode: str
    values: dict[str, float]
    counts: dict[str, int]
    overdue_tasks: dict[str, int]
    overdue_timers: dict[str, int]


def overdue_tasks_query(process: str, now: datetime) -> Select[Any]:
    """Open tasks past their due date per state: the late part of the process's range of ``ix_wf_task_open_due`` alone."""
    t = st.tasks
    return (
        select(t.c.state, func.count())
        .where(
            t.c.process == process,
            t.c.status == literal_column("'open'"),
            t.c.due_at < now,
        )
        .group_by(t.c.state)
    )


def overdue_timers_query(process: str, now: datetime) -> Select[Any]:
    """Pending timers whose due time has passed per state: a range of ``ix_wf_timer_pending_due``
    (the timers the scheduler has not fired yet, normally few)."""
    tm = st.timers
    return (
        select(tm.c.state, func.count())
        .where(
            tm.c.status == literal_column("'pending'"),
            tm.c.due_at <= now,
            tm.c.process == process,
        )
        .group_by(tm.c.state)
    )


def oldest_query(definition: ProcessDefinition) -> tuple[list[str], CompoundSelect[Any] | None]:
    """The non-final states, and one ``MIN(state_entered_at)`` per state (by its position in
    that list), each the first entry of its range of ``ix_wf_instance_state_entered``."""
    i = st.instances
    states = [s for s in definition.states if s not in set(definition.final_states)]
    if not states:
        return states, None
    probes: list[Any] = [
        select(
            literal_column(str(n)).label("n"), func.min(i.c.state_entered_at).label("oldest")
        ).where(i.c.process == definition.key, i.c.state == state)
        for n, state in enumerate(states)
    ]
    return states, union_all(*probes)


def overdue_tasks_by_state(db: Engine, process: str, now: datetime) -> dict[str, int]:
    """Open tasks past their due date per state, one ``GROUP BY``."""
    with db.connect() as conn:
        return {state: int(n) for state, n in conn.execute(overdue_tasks_query(process, now))}


def overdue_timers_by_state(db: Engine, process: str, now: datetime) -> dict[str, int]:
    """Pending timers whose due time has passed per state, one ``GROUP BY``."""
    with db.connect() as conn:
        return {state: int(n) for state, n in conn.execute(overdue_timers_query(process, now))}


def oldest_by_state(db: Engine, definition: ProcessDefinition, now: datetime) -> dict[str, float]:
    """Seconds since the longest-waiting instance of each non-final state entered it.

    One statement: a ``MIN(state_entered_at)`` per state, each answered by the first entry of the
    ``(process, state, state_entered_at)`` index, so its cost follows the number of states, not of
    instances.
    """
    states, query = oldest_query(definition)
    if query is None:
        return {}
    found: dict[str, float] = {}
    with db.connect() as conn:
        for n, oldest in conn.execute(query):
            if oldest is None:
                continue
            if isinstance(oldest, str):  # SQLite through a UNION loses the column's type
                oldest = datetime.fromisoformat(oldest)
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=now.tzinfo)
            found[states[int(n)]] = max((now - oldest).total_seconds(), 0.0)
    return found


def heat_of(db: Engine, definition: ProcessDefinition, mode: str, now: datetime) -> Heat:
    """The figures of ``mode`` for ``definition`` at ``now`` (overdue figures always, they are
    cheap: both queries read only late rows)."""
    counts = counts_by_state(db, definition.key)
    tasks = overdue_tasks_by_state(db, definition.key, now)
    timers = overdue_timers_by_state(db, definition.key, now)
    values: dict[str, float]
    if mode == "count":
        values = {s: float(n) for s, n in counts.items()}
    elif mode == "overdue":
        values = {s: float(tasks.get(s, 0) + timers.get(s, 0)) for s in set(tasks) | set(timers)}
    else:
        values = oldest_by_state(db, definition, now)
    return Heat(mode, values, counts, tasks, timers)


def colour(mode: str, value: float, highest: float) -> tuple[str, str, str]:
    """(band name, fill, stroke) of a state whose heat is ``value`` (``highest``: the hottest)."""
    if mode == "age":
        if value <= 0:
            row = ds.LOAD_COLOURS[0]
        else:
            days = value / _DAY
            row = next(
                (
                    r
                    for r, limit in zip(ds.LOAD_COLOURS[1:], ds.AGE_DAYS, strict=True)
                    if days < limit
                ),
                ds.LOAD_COLOURS[-1],
            )
    else:
        row = ds.load_colour(int(value), int(highest))
    return row[1], row[2], row[3]


def heat_text(mode: str, value: float, lang: str) -> str:
    """The heat line under a state's count: ``逾期 12`` / ``最久 35天``; empty for ``count``."""
    if mode == "overdue":
        return ds.WORDS["overdue"].get(lang) + ds.compact(int(value))
    if mode == "age":
        days = int(value // _DAY)
        unit = ds.WORDS["days"].get(lang)
        return ds.WORDS["oldest"].get(lang) + f"{ds.compact(days)}{unit}"
    return ""


@dataclass(frozen=True)
class LegendRow:
    band: str
    fill: str
    stroke: str
    text: str


def legend(mode: str, values: Mapping[str, float], lang: str) -> list[LegendRow]:
    """What each colour means for ``mode`` with these ``values``, in ``lang``.

    ``count`` and ``overdue`` colour by share of the hottest state, so their bands are number
    ranges computed from it (bands that hold no whole number are left out); ``age`` has fixed day
    bands.
    """
    words: Mapping[str, Label] = ds.WORDS
    rows: list[LegendRow] = []
    zero = ds.LOAD_COLOURS[0]
    if mode == "age":
        rows.append(LegendRow(zero[1], zero[2], zero[3], words["legend_empty"].get(lang)))
        low = 0
        unit = words["days"].get(lang)
        for row, limit in zip(ds.LOAD_COLOURS[1:], ds.AGE_DAYS, strict=True):
            if limit == float("inf"):
                text = f"≥ {low:,}{unit}"
            else:
                text = f"{low:,}–{int(limit):,}{unit}" if low else f"< {int(limit):,}{unit}"
            rows.append(LegendRow(row[1], row[2], row[3], text))
            low = int(min(limit, 1e9))
        return rows
    highest = int(max(values.values(), default=0))
    rows.append(LegendRow(zero[1], zero[2], zero[3], "0"))
    previous = 0
    for share, band, fill, stroke in ds.LOAD_COLOURS[1:]:
        top = min(int(share * highest), highest)
        while top < highest and (top + 1) / highest <= share:  # floating point at the edges
            top += 1
        while top > previous and top / max(highest, 1) > share:
            top -= 1
        if top > previous:
            first = previous + 1
            text = f"{first:,}" if first == top else f"{first:,}–{top:,}"
            rows.append(LegendRow(band, fill, stroke, text))
            previous = top
    return rows
