"""Where the supervisors' pages read: a read replica when ``SHEBAO_READ_DATABASE_URL`` names one,
else the primary.

The process pages count instances per state and flows per edge, colour the diagrams by overdue
work and age, and list the instances of a state: reads over millions of rows that, on a province,
belong on a PostgreSQL streaming replica a few seconds behind rather than on the primary that takes
the events. Their connections are read-only (``engine.db.make_engine(read_only=True)``): a page
that tried to write through them would fail, on a hot standby as on a primary.

What a person acts on and then looks at again reads the primary, so that their own action is
there: the inbox, the instance page (its path, history, tasks and actions), incidents and their
Retry/Resolve. The API never reads the replica.

``/readyz`` reports the replica (``read_database``: reachable, and on a standby how far its replay
is behind) without making the node unready when it is down: the inbox and the API do not need it,
and a replica's outage would otherwise take every web node out of the load balancer. While it is
down the supervisors' pages answer 503 with ``Retry-After`` (``web.db_faults``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.db import make_engine, normalise_url
from web.config import database_settings
from web.extensions import engine_of

READS = "shebao.read_database"
VARIABLE = "SHEBAO_READ_DATABASE_URL"


def read_url(config: Mapping[str, Any]) -> str | None:
    """``SHEBAO_READ_DATABASE_URL``, None when unset or blank."""
    value = str(config.get(VARIABLE) or "").strip()
    return value or None


def init_app(app: Flask) -> None:
    """Open the replica's engine when one is configured (connections are made on first use)."""
    url = read_url(app.config)
    if url is None:
        return
    try:
        parsed = make_url(normalise_url(url))
    except Exception as exc:  # a URL SQLAlchemy cannot read: say which setting, not the URL
        raise ValueError(f"{VARIABLE} is not a database URL ({type(exc).__name__})") from None
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        # SQLite would make an empty file there, and every page would fail on a missing table
        raise ValueError(f"{VARIABLE} names no SQLite database file")
    app.extensions[READS] = make_engine(url, database_settings(app.config), read_only=True)


def read_db(app: Flask | None = None) -> SqlEngine:
    """The database the supervisors' pages read: the replica, or the primary without one."""
    target = app or current_app
    replica = target.extensions.get(READS)
    return replica if replica is not None else engine_of(target).db


def has_replica(app: Flask) -> bool:
    return READS in app.extensions


_LAG = text(
    "SELECT CASE WHEN pg_is_in_recovery() "
    "THEN EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END"
)


def replay_lag_seconds(db: SqlEngine) -> float | None:
    """Seconds since a PostgreSQL standby replayed its last commit (None: a primary, SQLite, or
    nothing replayed yet). While the primary commits, that is how far the standby is behind;
    while the primary is idle it grows although nothing is missing."""
    if db.dialect.name != "postgresql":
        return None
    with db.connect() as conn:
        lag = conn.execute(_LAG).scalar()
        conn.rollback()
    return None if lag is None else round(float(lag), 3)
