"""HTTP events' profile: the service's app run in this process under cProfile, and what psycopg
sends meanwhile, to say where an API event's time goes (top functions, own time per package,
statements and commands per event)."""

from __future__ import annotations

import cProfile
import pstats
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.http_load import EVENTS, SERVICE_PATH, Card, CardSeeder, event_body
from web.config import PROJECT_ROOT

FLOOR_SQL = "2 statements, 3 for notify_holder; BEGIN and COMMIT"


def _where(filename: str) -> str:
    """A profile entry's file, short: relative to site-packages or to the project."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if filename.startswith(str(PROJECT_ROOT)):
        return str(Path(filename).relative_to(PROJECT_ROOT))
    return filename


def _package(filename: str) -> str:
    """The top package of a profile entry's file (``stdlib``, ``builtins`` for C functions)."""
    if filename.startswith(("~", "<")):
        return "builtins"
    where = _where(filename)
    if where.startswith("/"):
        return "stdlib"
    return where.split("/", 1)[0].removesuffix(".py")


@contextmanager
def psycopg_sends() -> Iterator[dict[str, int]]:
    """What psycopg sends to the server meanwhile, counted where it sends it: ``statements``
    (plain, ``_execute_send``, and prepared, ``_send_query_prepared``: psycopg prepares a query
    it has run 5 times on a connection) and ``commands`` (``_exec_command``: BEGIN, COMMIT,
    ROLLBACK, SAVEPOINT). Each is one round trip outside a pipeline. (Counting the profile's
    calls instead misses the prepared statements and counts a generator's every resumption.)"""
    from psycopg import _connection_base, _cursor_base

    sent = {"statements": 0, "commands": 0}
    cursor, connection = _cursor_base.BaseCursor, _connection_base.BaseConnection
    originals = {
        (cursor, "_execute_send"): "statements",
        (cursor, "_send_query_prepared"): "statements",
        (connection, "_exec_command"): "commands",
    }
    saved = {key: getattr(key[0], key[1]) for key in originals}

    def counting(function: Any, kind: str) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            sent[kind] += 1
            return function(*args, **kwargs)

        return counted

    for (owner, name), kind in originals.items():
        setattr(owner, name, counting(saved[(owner, name)], kind))
    try:
        yield sent
    finally:
        for (owner, name), function in saved.items():
            setattr(owner, name, function)


def profile_service(url: str, token: str, seeder: CardSeeder, cards: int) -> dict[str, Any]:
    """The service's app in this process under cProfile (only inside its WSGI call) for the
    events of ``cards`` cards: the top functions by own time and by cumulative time (project
    code), and the own time per package."""
    from web.app import create_app
    from web.extensions import engine_of

    app = create_app({"SHEBAO_DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16)})
    profiler = cProfile.Profile()
    inner = app.wsgi_app
    profiling = False

    def profiled(environ: Any, start_response: Any) -> Any:
        if not profiling:
            return inner(environ, start_response)
        return profiler.runcall(inner, environ, start_response)

    app.wsgi_app = profiled  # type: ignore[method-assign]
    client = app.test_client()

    def send(batch: list[Card]) -> int:
        failed = 0
        for card in batch:
            for event in EVENTS:
                answer = client.post(
                    SERVICE_PATH.format(card.id),
                    data=event_body(card, event),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Idempotency-Key": f"profile-{card.id}-{event}",
                    },
                )
                failed += answer.status_code != 200
        return failed

    send(seeder.cards(10))  # warm: definitions, policies, pools, statements
    batch = seeder.cards(cards)
    profiling = True
    with psycopg_sends() as sent:
        began = time.perf_counter()
        failed = send(batch)
        seconds = time.perf_counter() - began
    engine_of(app).db.dispose()
    stats = pstats.Stats(profiler)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in entries.values()) or 1.0
    events = 3 * len(batch)

    def line(key: Any, row: Any) -> dict[str, Any]:
        filename, lineno, name = key
        return {
            "function": f"{_where(filename)}:{lineno}({name})",
            "calls": row[1],
            "own_ms_per_event": round(row[2] * 1000 / events, 3),
            "cum_ms_per_event": round(row[3] * 1000 / events, 3),
            "own_share": round(row[2] / total, 3),
        }

    by_own = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:10]
    project = ("engine/", "web/", "workflows/")
    by_cum = sorted(
        (kv for kv in entries.items() if _where(kv[0][0]).startswith(project)),
        key=lambda kv: kv[1][3],
        reverse=True,
    )[:10]
    packages: dict[str, float] = {}
    for (filename, _, _), row in entries.items():
        packages[_package(filename)] = packages.get(_package(filename), 0.0) + row[2]
    return {
        "events": events,
        "errors": failed,
        "ms_per_event_profiled": round(seconds * 1000 / events, 3),
        "statements_per_event": round(sent["statements"] / events, 1),
        "commands_per_event": round(sent["commands"] / events, 1),
        "top10_own": [line(k, r) for k, r in by_own],
        "top10_cumulative_project": [line(k, r) for k, r in by_cum],
        "own_share_by_package": {
            k: round(v / total, 3)
            for k, v in sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:12]
        },
    }


def profile_text(profile: dict[str, Any]) -> str:
    lines = [
        f"profile: {profile['events']} events in process, "
        f"{profile['ms_per_event_profiled']} ms/event under cProfile",
        "top 10 by own time (ms per event, share of all own time):",
    ]
    for row in profile["top10_own"]:
        lines.append(
            f"  {row['own_ms_per_event']:>7} ms {row['own_share']:>6.1%}  {row['function']}"
        )
    lines.append("project top 10 by cumulative time (ms per event):")
    for row in profile["top10_cumulative_project"]:
        lines.append(f"  {row['cum_ms_per_event']:>7} ms  {row['function']}")
    lines.append(
        f"per event: {profile['statements_per_event']} SQL statements and "
        f"{profile['commands_per_event']} commands sent by psycopg (the floor: {FLOOR_SQL})"
    )
    shares = ", ".join(f"{k} {v:.0%}" for k, v in profile["own_share_by_package"].items())
    lines.append(f"own time by package: {shares}")
    return "\n".join(lines)
