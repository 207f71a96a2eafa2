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
``http.client`` connection, reopened when the server closes it, and its own disjoint cards), every card gets ``produce``,
``notify_holder`` and ``activate`` (with the presented ID number), each POSTed with the bearer
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
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import math
import os
import pstats
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.common import DEFINITIONS, POLICIES, emit, id_number, reset_postgres
from web.api.tokens import create_token
from web.config import PROJECT_ROOT
from web.wiring import build_service
from workflows import cards as card_rules

EVENTS = ("produce", "notify_holder", "activate")
LEVELS = (1, 4, 16)
SERVICE_PATH = "/api/v1/cards/{}/events"
FLOOR_PATH = "/cards/{}/events"
REGION_CODE = "440604"  # Foshan, Chancheng
BANK = "icbc"
WARM_CARDS = 32
FLOOR_SQL = "2 statements, 3 for notify_holder; BEGIN and COMMIT"
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Card:
    id: int
    person: str


@dataclass
class Run:
    """One side's requests at one level: what was sent, what failed, each latency, wall time."""

    sent: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    worker_shares: list[float] = field(default_factory=list)
    """Each gunicorn worker's share of the workers' CPU time meanwhile, largest first."""

    def add(self, other: Run) -> None:
        self.sent += other.sent
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)
        self.failures.extend(other.failures[: 5 - len(self.failures)])

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "events": self.sent,
            "errors": self.errors,
            "events_per_s": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": percentile_ms(ordered, 0.50),
            "p95_ms": percentile_ms(ordered, 0.95),
            "p99_ms": percentile_ms(ordered, 0.99),
            "worker_cpu_shares": self.worker_shares,
            **({"failures": self.failures} if self.failures else {}),
        }


def percentile_ms(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted seconds, in milliseconds."""
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000, 2)


class CardSeeder:
    """Card applications in state ``applied`` through the domain, each for a distinct person."""

    def __init__(self, url: str) -> None:
        self.service = build_service(url, str(DEFINITIONS), str(POLICIES))
        self.next_person = 0

    def cards(self, count: int) -> list[Card]:
        made = []
        for _ in range(count):
            person = id_number(self.next_person)
            self.next_person += 1
            done = card_rules.apply_for_card(
                self.service.engine,
                self.service.domain.regions,
                id_number=person,
                channel="online",
                bank=BANK,
                region_code=REGION_CODE,
                actor="bench",
            )
            made.append(Card(done.instance_id, person))
        return made

    def token(self) -> str:
        return create_token(self.service.engine.db, "bench-http", ["factory", f"bank:{BANK}"])

    def not_active(self) -> int:
        with self.service.engine.db.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT count(*) FROM wf_instance WHERE process = 'card' AND state <> 'active'"
                )
            ).scalar_one()
        return int(found)

    def close(self) -> None:
        self.service.engine.db.dispose()


def event_body(card: Card, event: str) -> bytes:
    data = {"presented_id_number": card.person} if event == "activate" else {}
    return json.dumps({"event": event, "data": data}).encode()


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    path: str
    master: int = 0
    """gunicorn's master process (its workers are its children)."""


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def worker_cpu(master: int) -> dict[int, float]:
    """CPU seconds (user + system) so far of each worker of a gunicorn master (Linux /proc)."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == master:  # the fields after the name: state, ppid, ..., utime, stime
            found[int(entry)] = (int(stat[11]) + int(stat[12])) / TICKS_PER_S
    return found


def worker_shares(before: dict[int, float], after: dict[int, float]) -> list[float]:
    """Each worker's share of the workers' CPU time between two ``worker_cpu``, largest first."""
    spent = [after[pid] - before.get(pid, 0.0) for pid in after]
    total = sum(spent) or 1.0
    return sorted((round(x / total, 2) for x in spent), reverse=True)


def fire(server: Server, token: str, cards: list[Card], clients: int) -> Run:
    """Every event of ``cards`` POSTed to ``server`` by ``clients`` threads (disjoint cards, one
    keep-alive connection each), each request timed; the wall time from a common start."""
    shares = [cards[i::clients] for i in range(clients)]
    runs = [Run() for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def client(share: list[Card], run: Run) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        start.wait()
        for card in share:
            path = server.path.format(card.id)
            for event in EVENTS:
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"bench-{card.id}-{event}",
                }
                body = event_body(card, event)
                began = time.perf_counter()
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    answer = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    status, answer = 0, repr(exc).encode()
                run.latencies.append(time.perf_counter() - began)
                run.sent += 1
                if status != 200:
                    run.errors += 1
                    if len(run.failures) < 5:
                        run.failures.append(f"{event} {status} {answer[:200]!r}")
        conn.close()

    threads = [
        threading.Thread(target=client, args=(share, run), daemon=True)
        for share, run in zip(shares, runs, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    total = Run(seconds=time.perf_counter() - began)
    for run in runs:
        total.add(run)  # the clients' own runs carry no seconds: the wall time stands
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    app: str, env: dict[str, str], options: argparse.Namespace, log: Path
) -> Iterator[tuple[int, int]]:
    """A gunicorn serving ``app`` on a free local port (and its master's pid), in a process group of its own that is
    ended (TERM, then KILL) on the way out, whatever happened."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(options.workers),
        "--worker-class",
        options.worker_class,
        "--threads",
        str(options.threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        "--log-level",
        "warning",
        app,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(process, port, log)
        yield port, process.pid
    finally:
        stop(process)


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not ready after {READY_TIMEOUT_S} s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End gunicorn's process group (its master and workers): TERM, then KILL after 15 s."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # workers left behind by a master that died first
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


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
