"""Policy dates under pending timers: when a policy file changes a date (Foshan moved 2022's
payment period end), every pending timer derived from it moves to the new date, and the change is
recorded (``wf_policy_change``: who, when, the date before and after, how many timers moved), in
one transaction. The scheduler runs it when it notices changed policy files; ``shebao policy
reload`` runs it by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from engine.runtime import Engine
from engine.sweep_statements import SweepSql
from engine.timers import ACTOR
from engine.tx import Tx

log = logging.getLogger(__name__)


def move_policy_timers(
    engine: Engine,
    *,
    reload: bool = True,
    on_unknown: Callable[[str], None] | None = None,
    actor: str = ACTOR,
) -> dict[str, int]:
    """Move every pending timer derived from a policy date to the date the policies give now;
    each date that moved timers is recorded as a policy change (``wf_policy_change``: who, when,
    the date before and after, how many timers), in the same transaction.

    Args:
        engine: the engine whose registry resolves policy references.
        reload: re-read the policy files first (``Registry.reload_policies``).
        on_unknown: called with a reference the policies no longer know (left unchanged).
        actor: who changed the policy (the scheduler that noticed the file, an operator).

    Returns:
        The number of timers moved, per policy reference that moved any.
    """
    if reload:
        engine.registry.reload_policies()
    sql = SweepSql(engine.db.dialect)

    def work(tx: Tx) -> dict[str, int]:
        moved: dict[str, int] = {}
        for row in tx.all(sql.policy_refs, {}):
            try:
                due = engine.registry.resolve_policy_ref(row.policy_ref)
            except (LookupError, ValueError) as exc:
                log.warning("pending timers name %s: %s", row.policy_ref, exc)
                if on_unknown:
                    on_unknown(row.policy_ref)
                continue
            values = {"ref": row.policy_ref, "b_due": due}
            before = tx.one(sql.policy_due, values).due_at
            count = tx.run(sql.move_policy_timers, values)
            if count:
                log.info("moved %d pending timers of %s to %s", count, row.policy_ref, due)
                moved[row.policy_ref] = count
                change = {
                    "at": engine.clock.now(),
                    "actor": actor,
                    "policy_ref": row.policy_ref,
                    "old_due": before,
                    "new_due": due,
                    "timers_moved": count,
                }
                tx.run(sql.record_policy_change, change)
        return moved

    return engine.transaction(work)
