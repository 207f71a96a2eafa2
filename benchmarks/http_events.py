"""HTTP events: the service as deployed (gunicorn, N workers, PostgreSQL) against a bare Flask floor.

Owns issue 17's HTTP benchmark. Setup: the PostgreSQL database is emptied and migrated (as
``shebao db upgrade``), card applications are seeded in state ``applied`` through the domain
(``workflows.cards.apply_for_card``, as ``POST /api/v1/cards`` does) and an API token with the
scopes ``factory`` and ``bank:icbc`` is created (as ``shebao tokens create``). Two gunicorn servers
with the same worker class and count then run side by side on local ports: the service
(``web.wsgi:app`` with ``SHEBAO_DATABASE_URL``, ``SHEBAO_SECRET_KEY`` and
``PROMETHEUS_MULTIPROC_DIR`` as README "Production" deploys it; no scheduler) and the floor
(``benchmarks.http_floor``: one endpoint doing the same SQL per event as
``benchmarks.event_throughput.Floor`` in one transaction, nothing else).

Both servers run gunicorn's default ``sync`` workers, as README "Production" deploys the service
(``gunicorn -w 4``): a worker serves one connection at a time and closes it after the response, so
the clients' requests spread over all the workers. (With ``--worker-class gthread`` a worker keeps
the keep-alive connections it accepted: measured here, all 16 clients' connections were served by
one worker of four while the others idled, and the ratio at 16 clients swung between 0.41 and
0.71 with which server's workers happened to accept what.) Each worker's share of its server's CPU
time is reported per level, so such an imbalance shows.

Load: at 1, 4 and 16 concurrent clients (threads of this process, each with an
``http.client`` connection, reopened when the server closes it, and its own disjoint cards),
every card gets ``produce``, ``notify_holder`` and ``activate`` (with the presented ID number),
each POSTed with the bearer
token, an ``Idempotency-Key`` and the same JSON body to both servers, and timed. Per level the
cards are fresh and the two servers alternate service, floor, floor, service, so that drift on
the shared machine weighs on both alike. Figures per level: events/s and p50/p95/p99 latency of
each, and ratio = service events/s / floor events/s. Then the service runs once more in this
process under cProfile (the Flask app through its WSGI entry, same database) and the top 10
functions by own time, the project's top 10 by cumulative time and the own time per package are
reported: where the time goes.

The last line is one JSON object (``ratio`` is ``ratio_16``). Usage:

    python -m benchmarks.http_events --postgres URL [--quick] [-n CARDS] [--workers W]
        [--worker-class sync|gthread] [--threads T] [--profile-cards P]

``--postgres`` defaults to ``SHEBAO_BENCH_POSTGRES_URL``, else ``SHEBAO_TEST_POSTGRES_URL``; the
benchmark drops that database's schema, so give it a database of its own.

The cards and clients are ``benchmarks.http_load``'s, the servers ``benchmarks.gunicorn_servers``'
and the in-process profile ``benchmarks.http_profile``'s; this module measures and reports.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.common import emit, reset_postgres
from benchmarks.gunicorn_servers import Server, gunicorn, worker_cpu, worker_shares
from benchmarks.http_load import SERVICE_PATH, CardSeeder, Run, fire
from benchmarks.http_profile import profile_service, profile_text

LEVELS = (1, 4, 16)
FLOOR_PATH = "/cards/{}/events"
WARM_CARDS = 32


def measure_level(
    servers: tuple[Server, Server], token: str, seeder: CardSeeder, clients: int, n: int
) -> tuple[Run, Run]:
    """Service and floor at ``clients``: fresh cards, halves in the order service, floor, floor,
    service."""
    service, floor = servers
    half = max(n // 2, clients)
    batches = [seeder.cards(half) for _ in range(4)]
    runs = {service.name: Run(), floor.name: Run()}
    spent: dict[str, dict[int, float]] = {service.name: {}, floor.name: {}}
    for server, batch in zip((service, floor, floor, service), batches, strict=True):
        before = worker_cpu(server.master) if server.master else {}
        runs[server.name].add(fire(server, token, batch, clients))
        after = worker_cpu(server.master) if server.master else {}
        for pid, seconds in after.items():
            spent[server.name][pid] = (
                spent[server.name].get(pid, 0.0) + seconds - before.get(pid, 0.0)
            )
    for name, run in runs.items():
        run.worker_shares = worker_shares({}, spent[name])
    return runs[service.name], runs[floor.name]


def table(levels: list[dict[str, Any]]) -> str:
    head = (
        f"{'clients':>7} | {'service ev/s':>12} {'p50':>7} {'p95':>7} {'p99':>7} | "
        f"{'floor ev/s':>10} {'p50':>7} {'p95':>7} {'p99':>7} | {'ratio':>5}"
    )
    lines = [head, "-" * len(head)]
    for level in levels:
        s, f = level["service"], level["floor"]
        lines.append(
            f"{level['clients']:>7} | {s['events_per_s']:>12} {s['p50_ms']:>7} {s['p95_ms']:>7} "
            f"{s['p99_ms']:>7} | {f['events_per_s']:>10} {f['p50_ms']:>7} {f['p95_ms']:>7} "
            f"{f['p99_ms']:>7} | {level['ratio']:>5}"
        )
    lines.append("(latencies in ms; ratio = service events/s / floor events/s)")
    for level in levels:
        shares = {side: level[side]["worker_cpu_shares"] for side in ("service", "floor")}
        lines.append(
            f"{level['clients']:>2} clients, each worker's share of its server's CPU time: "
            f"service {shares['service']}, floor {shares['floor']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI size (well under a minute)")
    parser.add_argument("-n", type=int, help="cards per side and level (default 1200, quick 240)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("SHEBAO_BENCH_POSTGRES_URL")
        or os.environ.get("SHEBAO_TEST_POSTGRES_URL"),
        help="PostgreSQL database to empty and use (default: SHEBAO_BENCH_POSTGRES_URL, "
        "else SHEBAO_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of each (4)")
    parser.add_argument(
        "--worker-class",
        default="sync",
        choices=("sync", "gthread"),
        help="(sync, gunicorn's default, as README deploys it)",
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1)")
    parser.add_argument(
        "--profile-cards", type=int, help="cards of the profile run (default 200, quick 100)"
    )
    args = parser.parse_args(argv)
    if not args.postgres:
        parser.error("--postgres URL (or SHEBAO_BENCH_POSTGRES_URL) is required")
    n = args.n or (240 if args.quick else 1200)
    if 3 * 2 * n + 4 * WARM_CARDS + 300 > 28_000:
        parser.error("-n too large: the benchmark's ID numbers run out above about 4,500")
    url = reset_postgres(args.postgres)
    seeder = CardSeeder(url)
    token = seeder.token()
    server_kind = (
        f"gunicorn --workers {args.workers} --worker-class {args.worker_class} "
        f"--threads {args.threads}"
    )
    levels: list[dict[str, Any]] = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shebao-http-")))
        metrics = folder / "metrics"
        metrics.mkdir()
        service_port, service_master = stack.enter_context(
            gunicorn(
                "web.wsgi:app",
                {
                    "SHEBAO_DATABASE_URL": url,
                    "SHEBAO_SECRET_KEY": secrets.token_hex(32),
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                },
                args,
                folder / "service.log",
            )
        )
        floor_port, floor_master = stack.enter_context(
            gunicorn(
                "benchmarks.http_floor:create_app()",
                {"SHEBAO_DATABASE_URL": url},
                args,
                folder / "floor.log",
            )
        )
        servers = (
            Server("service", service_port, SERVICE_PATH, service_master),
            Server("floor", floor_port, FLOOR_PATH, floor_master),
        )
        for server in servers:  # every worker loads its app, connects, reads its definitions
            warm = fire(server, token, seeder.cards(WARM_CARDS), min(16, WARM_CARDS))
            if warm.errors:
                raise RuntimeError(f"{server.name} failed while warming up: {warm.failures}")
        for clients in LEVELS:
            service, floor = measure_level(servers, token, seeder, clients, n)
            s, f = service.figures(), floor.figures()
            ratio = round(s["events_per_s"] / f["events_per_s"], 3) if f["events_per_s"] else 0
            levels.append({"clients": clients, "service": s, "floor": f, "ratio": ratio})
            print(
                f"{clients:>2} clients: service {s['events_per_s']} ev/s, "
                f"floor {f['events_per_s']} ev/s, ratio {ratio}",
                file=sys.stderr,
            )
        for name in ("service.log", "floor.log"):
            logged = (folder / name).read_text(errors="replace").strip()
            if logged:
                print(f"{name}:\n{logged[-3000:]}", file=sys.stderr)
    not_active = seeder.not_active()
    profile = profile_service(
        url, token, seeder, args.profile_cards or (100 if args.quick else 200)
    )
    seeder.close()
    sent = sum(level[side]["events"] for level in levels for side in ("service", "floor"))
    errors = sum(level[side]["errors"] for level in levels for side in ("service", "floor"))
    ratio_16 = next(level["ratio"] for level in levels if level["clients"] == 16)
    print(f"http_events on PostgreSQL, {server_kind}, {n} cards (x3 events) per side and level")
    print(table(levels))
    print(profile_text(profile))
    result = {
        "benchmark": "http_events",
        "database": "postgresql",
        "server": server_kind,
        "cards_per_level": n,
        "levels": levels,
        "events_sent": sent,
        "events_ok": sent - errors,
        "errors": errors,
        "cards_not_active": not_active,
        "ratio_16": ratio_16,
        "ratio": ratio_16,
        "profile_top10": [
            f"{row['own_ms_per_event']} ms/event own ({row['own_share']:.1%}) {row['function']}"
            for row in profile["top10_own"]
        ],
        "profile": profile,
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
