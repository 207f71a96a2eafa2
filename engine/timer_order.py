"""The due order of one instance's timers in the sweep: earliest first, a later one never ahead.

An instance can have several timers of its state due at once (a catch-up after a downtime: the
card's reminder, take-back and seal). They fire in due order, the way they would have fired on
time: a timer fires only once no earlier timer of its instance is still pending.

Within a chunk, ``waves`` splits the claimed rows (which the claim reads in due order) into waves
holding at most one timer per instance, the earliest first; ``engine.timers`` fires each wave as
it fires a chunk (grouped by process, version, state and event, set-based where it can), so the
next wave sees the instance where the earlier timer left it (a timer of a state the instance has
left is stale). The order of the groups inside a wave no longer matters: no two of its timers
share an instance.

Across chunks (and schedulers), ``DueOrder.behind`` finds the claimed timers with an earlier
pending timer of their instance outside the chunk: one another scheduler leased, one waiting for
its next attempt after a failure, one a momentary row lock kept out of this chunk. Those, and the
later timers of an instance whose earlier timer failed an attempt in this chunk, wait:
``DueOrder.hold_back`` gives their lease back. An earlier timer waiting for its next attempt keeps
them from being leased again until that attempt may start; one leased (by another scheduler, or
by this one) does not: the scheduler that fires it leases them with its next chunk, and the sweep
of one that finds only timers that wait ends after a few tries (``engine.timers``), as it does
when every timer it leased was held by others for a moment. A timer that failed for good
(``failed``, an incident) no longer holds the later ones back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect

from engine.id_lists import InIds
from engine.models import UtcDateTime
from engine.sqlexec import Prepared
from engine.statements import timers
from engine.tx import Tx

_ME = bindparam("b_me", type_=String())
# The status is bound, not written in, in the two reads below: the partial index of pending timers
# by due time must not be taken for them (it would scan every pending timer); the instance's index
# finds them.
_PENDING_OF_INSTANCES = (
    InIds(timers.c.instance_id, "iids"),
    timers.c.status == bindparam("b_pending"),
)

# How many pending timers of the chunk's instances are due: the claimed ones alone (the common
# case: nothing else to read), or more.
INSTANCE_DUE_TIMERS = select(func.count()).where(
    *_PENDING_OF_INSTANCES, timers.c.due_at <= bindparam("b_now", type_=UtcDateTime())
)

# The pending timers of the chunk's instances, in due order (ids, and 1 for a due one: no result
# processing).
INSTANCE_PENDING_TIMERS = (
    select(
        timers.c.instance_id,
        timers.c.id,
        case((timers.c.due_at <= bindparam("b_now", type_=UtcDateTime()), 1), else_=0).label("due"),
    )
    .where(*_PENDING_OF_INSTANCES)
    .order_by(timers.c.due_at, timers.c.id)
)

_earlier = timers.alias("earlier")

# Claimed timers that wait for an earlier one of their instance: the lease given back, and not
# leased again before the latest next attempt of an earlier timer that waits for one (no lease,
# ``lock_expires_at`` its backoff's end); at once when the earlier ones are leased.
HOLD_BACK_TIMERS = (
    update(timers)
    .where(
        InIds(timers.c.id, "tids"),
        timers.c.status == literal_column("'pending'"),
        timers.c.locked_by == _ME,
    )
    .values(
        locked_by=null(),
        lock_expires_at=select(func.max(_earlier.c.lock_expires_at))
        .where(
            _earlier.c.instance_id == timers.c.instance_id,
            _earlier.c.status == literal_column("'pending'"),
            _earlier.c.id != timers.c.id,
            _earlier.c.locked_by.is_(None),
            or_(
                _earlier.c.due_at < timers.c.due_at,
                (_earlier.c.due_at == timers.c.due_at) & (_earlier.c.id < timers.c.id),
            ),
        )
        .scalar_subquery(),
    )
)


def waves(rows: Sequence[Any]) -> list[list[Any]]:
    """``rows`` (claimed timers in due order) in waves: the n-th wave holds each instance's n-th
    timer, so an instance has at most one timer per wave and its earliest in the first."""
    found: list[list[Any]] = [[]]
    seen: dict[int, int] = {}
    for row in rows:
        rank = seen.get(row.instance_id, 0)
        seen[row.instance_id] = rank + 1
        if rank == len(found):
            found.append([])
        found[rank].append(row)
    return found


class DueOrder:
    """The due-order reads and writes of one sweep (its scheduler's name, its dialect)."""

    def __init__(self, dialect: Dialect, name: str) -> None:
        self.name = name
        self.due = Prepared(INSTANCE_DUE_TIMERS, dialect)
        self.pending = Prepared(INSTANCE_PENDING_TIMERS, dialect)
        self.hold = Prepared(HOLD_BACK_TIMERS, dialect)

    def behind(self, tx: Tx, rows: Sequence[Any], now: datetime) -> tuple[set[int], frozenset[int]]:
        """Of the claimed ``rows`` (due at ``now``): the ids of those that an earlier pending
        timer of their instance, not claimed with them, must fire before; and the ids of those
        a later due timer of their instance follows, claimed with them or not (``followed``:
        a reminder it makes stale fires without its notice, whichever chunk holds the later)."""
        iids = list(dict.fromkeys(row.instance_id for row in rows))
        values = {"iids": iids, "b_pending": "pending", "b_now": now}
        if tx.one(self.due, values)[0] == len(rows):
            return set(), followed(rows)  # no due timer of these instances outside the chunk
        claimed = {row.id for row in rows}
        gaps: set[int] = set()  # instances with an earlier pending timer outside the chunk
        found: set[int] = set()
        last_due: dict[int, int] = {}  # each instance's latest due timer
        for instance_id, tid, due in tx.all(self.pending, values):
            if tid not in claimed:
                gaps.add(instance_id)
            elif instance_id in gaps:
                found.add(tid)
            if due:
                last_due[instance_id] = tid
        later = frozenset(r.id for r in rows if last_due.get(r.instance_id, r.id) != r.id)
        return found, later

    def hold_back(self, tx: Tx, tids: list[int]) -> int:
        """Give back the lease of the claimed timers ``tids``, which wait for an earlier timer of
        their instance (see the module's docstring); returns how many."""
        return tx.run(self.hold, {"tids": tids, "b_me": self.name})


def followed(rows: Sequence[Any]) -> frozenset[int]:
    """The ids of claimed ``rows`` (in due order) that a later row of the same instance follows:
    due with them, it fires after them in this chunk."""
    seen: set[int] = set()
    found: set[int] = set()
    for row in reversed(rows):
        if row.instance_id in seen:
            found.add(row.id)
        seen.add(row.instance_id)
    return frozenset(found)
