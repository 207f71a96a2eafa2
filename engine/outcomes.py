"""What a firing returns, and the idempotency keys that make an outside delivery take effect once.

A ``Transition`` says what one firing did; a replayed one says what the first delivery of the same
request did. An ``Idempotency`` names a delivery (a bank message id, a batch file line, an API
``Idempotency-Key``): its row is written in the same transaction as the work it guards.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from engine.errors import IdempotencyConflict
from engine.statements import HotPath
from engine.tx import Tx


@dataclass(frozen=True)
class Transition:
    """What one firing did (or, replayed, what the first delivery of the same request did)."""

    instance_id: int
    process: str
    event: str
    from_state: str | None
    to_state: str
    version: int
    replayed: bool = False
    followups: tuple[dict[str, Any], ...] = ()
    """What the firing's actions set off in the same transaction (each a ``Transition`` dict)."""

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, as ``dataclasses.asdict`` gives them (the follow-ups'
        dicts copied), without its recursive walk: it is built twice per API event."""
        found = {name: getattr(self, name) for name in _TRANSITION_FIELDS}
        found["followups"] = tuple(dict(f) for f in self.followups)
        return found

    def with_followups(self, followed: list[Transition]) -> Transition:
        """This transition, listing ``followed`` and everything they set off in turn."""
        flat: list[dict[str, Any]] = []
        for item in followed:
            flat.append({k: v for k, v in item.as_dict().items() if k != "followups"})
            flat.extend(item.followups)
        return replace(self, followups=tuple(flat))


_TRANSITION_FIELDS = tuple(f.name for f in fields(Transition))


@dataclass(frozen=True)
class Idempotency:
    """An outside delivery's identity: a retried delivery with the same key is a no-op."""

    scope: str
    key: str
    digest: str | None = None
    """The caller's own hash of the request (an API body); by default the engine hashes the event."""


def request_hash(*parts: Any) -> str:
    """A stable hash of a request's content, to tell a retry from a different request."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def replay(tx: Tx, sql: HotPath, idem: Idempotency, digest: str) -> Transition | None:
    """The first result of this delivery, or None if it is new.

    Raises:
        IdempotencyConflict: the key was used for a different request.
    """
    found = tx.one(sql.select_idempotency, {"scope": idem.scope, "key": idem.key})
    if found is None:
        return None
    if found.request_hash != digest:
        raise IdempotencyConflict(idem.key)
    response = dict(found.response)
    response["followups"] = tuple(response.get("followups") or ())
    return Transition(**{**response, "replayed": True})


def key_row(idem: Idempotency, digest: str, done: Transition, now: datetime) -> dict[str, Any]:
    """The idempotency key's row for a delivery (``digest``: its request's hash) that did
    ``done``: what a later delivery of the same key replays."""
    return {
        "scope": idem.scope,
        "key": idem.key,
        "request_hash": digest,
        "instance_id": done.instance_id,
        "response": done.as_dict(),
        "created_at": now,
    }


def remember(
    tx: Tx, sql: HotPath, idem: Idempotency, digest: str, done: Transition, now: datetime
) -> None:
    """Record this delivery and its result, in the transaction that did the work."""
    tx.send(sql.insert_key, key_row(idem, digest, done, now))
