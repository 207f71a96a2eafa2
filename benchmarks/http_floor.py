"""The floor of the HTTP benchmark: a bare Flask app doing a card event's SQL and nothing else.

``POST /cards/<id>/events`` takes the same JSON body as the service's
``POST /api/v1/cards/<id>/events`` (``{"event": ..., "data": {...}}``) and, in one transaction on a
psycopg connection of its own (one per worker thread, opened on first use), runs the statements
``benchmarks.event_throughput.Floor`` runs for that event: the UPDATE of ``wf_instance`` with the
version check (the version before each event of the path is known: seeded cards start at 1), the
INSERT into ``wf_history`` and, for ``notify_holder``, the card-ready notice into ``wf_notice``.
It answers a small JSON body like the service's transition. It checks no token, no scope, no
idempotency key and no guard: the fastest a Flask endpoint can make those rows. Like the
service's ``web.wsgi``, it freezes the objects it made at start out of the garbage collector's
full collections.

Served by ``benchmarks.http_events`` through gunicorn with the service's workers:
``SHEBAO_DATABASE_URL=postgresql+psycopg://... gunicorn -w 4 'benchmarks.http_floor:create_app()'``.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import Flask, jsonify, request
from sqlalchemy.engine import make_url

from benchmarks.event_throughput import _HISTORY, _NOTICE, _PATH, _READY, _UPDATE

STEPS = {
    event: (version, source, target) for version, (event, source, target) in enumerate(_PATH, 1)
}
"""Per event of the path: the version the card holds before it, its source and target states."""
UPDATE = _UPDATE.format(p="%s") + " RETURNING variables->>'id_number'"
HISTORY = _HISTORY.format(p="%s")
NOTICE = _NOTICE.format(p="%s")
SHOWN = json.dumps({"bank": {"zh": "工商银行", "en": "ICBC"}}, ensure_ascii=False)


def plain_dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy URL (``postgresql+psycopg://...``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_app(database_url: str | None = None) -> Flask:
    """The floor app over ``database_url`` (default ``SHEBAO_DATABASE_URL``, as the service)."""
    dsn = plain_dsn(database_url or os.environ["SHEBAO_DATABASE_URL"])
    local = threading.local()
    app = Flask(__name__)

    def connection() -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(dsn)
        return conn

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.post("/cards/<int:card_id>/events")
    def card_event(card_id: int) -> Any:
        body = request.get_json()
        event = body["event"]
        step = STEPS.get(event)
        if step is None:
            return jsonify(code="event_not_allowed"), 409
        version, source, target = step
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        conn = connection()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(UPDATE, (target, now, card_id, version))
            row = cursor.fetchone()
            if row is None:
                return jsonify(code="conflict"), 409
            cursor.execute(HISTORY, (card_id, event, source, target, "floor", now, None))
            if event == "notify_holder":
                cursor.execute(NOTICE, (card_id, row[0], *_READY, SHOWN, now))
        return jsonify(
            instance_id=card_id,
            process="card",
            event=event,
            from_state=source,
            to_state=target,
            version=version + 1,
            followups=[],
        )

    gc.collect()  # as ``web.wsgi`` does: the objects made so far are out of full collections'
    gc.freeze()  # reach (~100,000 here too: the floor imports the engine's benchmark module)
    return app
