"""HTTP events' load: the cards it sends events for, and the clients that send them.

Cards are applications in state ``applied`` seeded through the domain
(``workflows.cards.apply_for_card``, as ``POST /api/v1/cards`` does), each for a distinct person;
``fire`` sends every card ``produce``, ``notify_holder`` and ``activate`` from a number of client
threads (``http.client``, one keep-alive connection each, reopened when the server closes it) and
times each request. Used by ``benchmarks.http_events`` and ``benchmarks.http_profile``.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from benchmarks.common import DEFINITIONS, POLICIES, id_number
from benchmarks.gunicorn_servers import Server
from web.api.tokens import create_token
from web.wiring import build_service
from workflows import cards as card_rules

EVENTS = ("produce", "notify_holder", "activate")
SERVICE_PATH = "/api/v1/cards/{}/events"
REGION_CODE = "440604"  # Foshan, Chancheng
BANK = "icbc"


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
