"""A selection of open user tasks changed at once (the inbox's bulk form): claimed, assigned,
unassigned or given a priority, each in one set-based UPDATE with one instance-history row per
task changed (the events and data ``engine.task_team`` writes for one task). Closed or unknown
tasks are reported as not open, tasks the action would not change as skipped; who may do what is
the web layer's check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.sqlexec import Prepared
from engine.task_team import (
    ASSIGNED,
    CLAIMED,
    MAX_BULK,
    PRIORITY,
    UNASSIGNED,
    TeamInputInvalid,
    TeamStatements,
    audit,
    check_priority,
    statements_of,
)
from engine.tx import Tx

if TYPE_CHECKING:
    from engine.runtime import Engine


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: ``changed`` ids, ids ``not_open`` any more (or unknown),
    ``skipped`` ids (left as they were: claimed by someone else, when only unclaimed ones were to
    be taken, or already the assignee's; held by nobody, to unassign; at that priority already)."""

    changed: list[int] = field(default_factory=list)
    not_open: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def bulk_assign(
    engine: Engine,
    task_ids: Sequence[int],
    assignee: str,
    actor: str,
    *,
    only_unclaimed: bool = False,
) -> BulkResult:
    """Give every open task of ``task_ids`` to ``assignee`` in one UPDATE, one history row each.

    ``only_unclaimed``: take only tasks nobody holds (staff claiming a selection; audited as
    ``task_claimed``); otherwise a supervisor's assignment (``task_assigned``, ends delegations).
    Tasks already the assignee's are skipped, closed or unknown ones reported as not open.
    """
    return _bulk(
        engine,
        task_ids,
        actor,
        CLAIMED if only_unclaimed else ASSIGNED,
        skip=lambda r: r.assignee == assignee or (only_unclaimed and bool(r.assignee)),
        change=lambda sql: (sql.assign, {"b_assignee": assignee, "b_owner": None}),
        data=lambda r: {"assignee": assignee, "previous": r.assignee},
    )


def bulk_unassign(engine: Engine, task_ids: Sequence[int], actor: str) -> BulkResult:
    """Take every open task of ``task_ids`` from whoever holds it (a supervisor's unclaim of a
    selection, as ``unassign``): one UPDATE; tasks nobody holds are skipped."""

    def data(row: Any) -> dict[str, Any]:
        return {
            "assignee": None,
            "previous": row.assignee,
            **({"owner": None} if row.owner else {}),
        }

    return _bulk(
        engine,
        task_ids,
        actor,
        UNASSIGNED,
        skip=lambda r: not r.assignee,
        change=lambda sql: (sql.assign, {"b_assignee": None, "b_owner": None}),
        data=data,
    )


def bulk_set_priority(
    engine: Engine, task_ids: Sequence[int], priority: int, actor: str
) -> BulkResult:
    """Set the priority (0-100) of every open task of ``task_ids`` in one UPDATE (as
    ``set_priority``); tasks at that priority already are skipped."""
    check_priority(priority)
    return _bulk(
        engine,
        task_ids,
        actor,
        PRIORITY,
        skip=lambda r: r.priority == priority,
        change=lambda sql: (sql.priority, {"b_priority": priority}),
        data=lambda r: {"priority": priority, "previous": r.priority},
    )


def _bulk(
    engine: Engine,
    task_ids: Sequence[int],
    actor: str,
    event: str,
    *,
    skip: Callable[[Any], bool],
    change: Callable[[TeamStatements], tuple[Prepared, dict[str, Any]]],
    data: Callable[[Any], dict[str, Any]],
) -> BulkResult:
    """Change the open tasks of ``task_ids`` but those to ``skip`` in one UPDATE (``change``:
    the statement and its values), audited as ``event`` with ``data(row)`` each."""
    ids = sorted({int(i) for i in task_ids})
    if len(ids) > MAX_BULK:
        raise TeamInputInvalid(
            f"一次最多处理 {MAX_BULK} 个任务", f"at most {MAX_BULK} tasks at a time"
        )

    def work(tx: Tx) -> BulkResult:
        sql = statements_of(engine)
        rows = tx.all(sql.select, {"ids": ids}) if ids else []
        seen = {r.id for r in rows}
        result = BulkResult(not_open=[i for i in ids if i not in seen])
        taken = []
        for row in rows:
            if row.status != "open":
                result.not_open.append(row.id)
            elif skip(row):
                result.skipped.append(row.id)
            else:
                taken.append(row)
        if taken:
            changed = [r.id for r in taken]
            statement, values = change(sql)
            tx.run(statement, {"ids": changed, **values})
            audit(engine, tx, taken, event, actor, [data(r) for r in taken])
            result.changed.extend(changed)
        result.not_open.sort()
        return result

    return engine.transaction(work)
