"""Outbox delivery throughput: the delivery worker against a bare loop of the same channel calls.

(a) the worker delivers N pending notices from the outbox: claims them in batches, sends each to
the channel outside any transaction, records each batch's outcomes (``engine.outbox``); (b) the
bare loop makes the same N ``channel.send`` calls on notices already in memory, and nothing else.
The channel is the demo's file channel (one JSON line per notice), optionally behind a simulated
network round trip (``--latency-ms``, as an SMS gateway or a bank's webhook would answer). Both run
alternating in rounds so that noise on the machine weighs on both alike; the ratio is the bare
loop's time over the worker's (1.0: the outbox costs nothing over the calls themselves). The last
line is one JSON object.

Usage: python -m benchmarks.outbox_delivery [--quick] [-n N] [--rounds R] [--batch B]
       [--latency-ms MS] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, text

from benchmarks.common import DEFINITIONS, POLICIES, emit, fresh_sqlite, id_number, reset_postgres
from engine.models import Notice
from engine.outbox import OutboxNotice, OutboxWorker
from engine.outbox_channels import FileChannel
from engine.runtime import Engine
from web.wiring import build_engine

NOTICES: Table = Notice.__table__  # type: ignore[assignment]
NOW = datetime(2022, 2, 15, 2, tzinfo=UTC)


class Latency:
    """A channel behind a network round trip of ``seconds``."""

    def __init__(self, channel: Any, seconds: float) -> None:
        self.channel, self.seconds = channel, seconds

    def send(self, notice: OutboxNotice) -> None:
        if self.seconds:
            time.sleep(self.seconds)
        self.channel.send(notice)


def notice(i: int) -> dict[str, Any]:
    return {
        "instance_id": None,
        "process": "card",
        "event": "notify_holder",
        "kind": "card_ready",
        "recipient": id_number(i),
        "channel": "sms",
        "text_zh": "您的社会保障卡已制作完成，请本人携带申领时使用的身份证件到工商银行网点领卡并激活。",
        "text_en": "Your social security card is ready: please collect and activate it in person "
        "at ICBC, bringing the ID document you applied with.",
        "data": {"bank": {"zh": "工商银行", "en": "ICBC"}},
        "status": "pending",
        "attempts": 0,
        "created_at": NOW,
    }


def seed(engine: Engine, people: range) -> None:
    """Write the notices; on PostgreSQL, refresh the table's statistics as autovacuum does after
    a burst of writes (a freshly filled table without them gets plans that read every pending
    notice to mark a batch)."""
    with engine.db.begin() as conn:
        conn.execute(insert(NOTICES), [notice(i) for i in people])
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE wf_notice"))


def run_worker(worker: OutboxWorker, n: int) -> float:
    began = time.perf_counter()
    report = worker.run_once(NOW)
    seconds = time.perf_counter() - began
    assert report.delivered == n, report
    return seconds


def run_bare(channel: Any, people: range) -> float:
    """The same calls on notices already in memory: the floor of delivering through ``channel``."""
    notices = [
        OutboxNotice(id=i + 1, attempts=0, **{k: v for k, v in notice(i).items() if k in _FIELDS})
        for i in people
    ]
    began = time.perf_counter()
    for item in notices:
        channel.send(item)
    return time.perf_counter() - began


_FIELDS = {f for f in OutboxNotice.__dataclass_fields__} - {"id", "attempts"}


def measure(url: str, n: int, rounds: int, batch: int, latency: float) -> tuple[float, float]:
    """Worker and bare-loop seconds for ``n`` notices each, alternating in ``rounds``."""
    engine = build_engine(url, str(DEFINITIONS), str(POLICIES))
    with tempfile.TemporaryDirectory(prefix="shebao-outbox-bench-") as folder:
        worker_channel = Latency(FileChannel(Path(folder) / "worker.jsonl"), latency)
        bare_channel = Latency(FileChannel(Path(folder) / "bare.jsonl"), latency)
        worker = OutboxWorker(engine, worker_channel, batch=batch)
        worker_s = bare_s = 0.0
        step = max(n // rounds, 1)
        for start in range(0, n, step):
            people = range(start, min(start + step, n))
            seed(engine, people)
            worker_s += run_worker(worker, len(people))
            bare_s += run_bare(bare_channel, people)
    engine.db.dispose()
    return worker_s, bare_s


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (a few seconds)")
    parser.add_argument("-n", type=int, help="notices (default 50000, quick 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--batch", type=int, default=100, help="notices per claim (default 100)")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="a simulated round trip per call"
    )
    parser.add_argument("--postgres", metavar="URL", help="run against PostgreSQL instead")
    args = parser.parse_args(argv)
    n = args.n or (5000 if args.quick else 50_000)
    latency = args.latency_ms / 1000
    if args.postgres:
        worker_s, bare_s = measure(
            reset_postgres(args.postgres), n, args.rounds, args.batch, latency
        )
        database = "postgresql"
    else:
        with fresh_sqlite("outbox.db") as url:
            worker_s, bare_s = measure(url, n, args.rounds, args.batch, latency)
        database = "sqlite-wal-normal"
    result = {
        "benchmark": "outbox_delivery",
        "database": database,
        "channel": "file" + (f"+{args.latency_ms:g}ms" if args.latency_ms else ""),
        "notices": n,
        "batch": args.batch,
        "worker_notices_per_s": round(n / worker_s, 1),
        "bare_notices_per_s": round(n / bare_s, 1),
        "ratio": round(bare_s / worker_s, 3),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
