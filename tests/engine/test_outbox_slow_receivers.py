"""Notices to a receiver so slow that a batch outlasts its lease: real ``shebao notices deliver
--loop`` workers, two at once, and a webhook that answers HTTP 500 only after a pause.

A worker that sent its whole batch before recording anything saw its lease run out mid-batch;
the other worker took the notices over and sent them again, the first one's outcomes were
discarded, and so on: no attempt was ever counted, no incident opened. Now a worker records what
it has done and extends the lease of the rest once half the lease has gone by.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_server import serving
from shebao_processes import SHEBAO
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select

from engine.models import Incident
from tests.engine.notice_rows import NOTICES, pending_notices

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # real processes, timing

INCIDENTS = Incident.__table__
N = 6
PAUSE_S = 0.6
"""Each answer's delay: six of them (3.6 s) outlast the 2 s lease."""
DEADLINE_S = 30


class SlowRefusal(BaseHTTPRequestHandler):
    """A receiver that answers every POST with HTTP 500 after ``PAUSE_S``, and notes which
    notice ids were being sent at the same moment."""

    lock = threading.Lock()
    posts: Counter[str] = Counter()
    in_flight: Counter[str] = Counter()
    overlaps: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        key = str(self.headers.get("Idempotency-Key"))
        self.rfile.read(int(self.headers["Content-Length"]))
        with SlowRefusal.lock:
            SlowRefusal.posts[key] += 1
            SlowRefusal.in_flight[key] += 1
            if SlowRefusal.in_flight[key] > 1:
                SlowRefusal.overlaps.append(key)
        time.sleep(PAUSE_S)
        with SlowRefusal.lock:
            SlowRefusal.in_flight[key] -= 1
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    SlowRefusal.posts, SlowRefusal.in_flight, SlowRefusal.overlaps = Counter(), Counter(), []
    with serving(SlowRefusal) as address:
        yield f"{address}/h"


def deliver(url: str, hook: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHEBAO_DATABASE_URL": url,
        "SHEBAO_NOTICE_LEASE_SECONDS": "2",
        "SHEBAO_NOTICE_MAX_ATTEMPTS": "2",
        "SHEBAO_NOTICE_BACKOFF_SECONDS": "0.2",
        "SHEBAO_NOTICE_WEBHOOK_TIMEOUT": "0.9",
    }
    command = ["notices", "deliver", "--loop", "--interval", "0.2", "--channel", f"webhook:{hook}"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(SHEBAO), *command], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def test_a_batch_slower_than_its_lease_counts_every_attempt_and_opens_incidents(
    outbox_db: tuple[str, SqlEngine], receiver: str, tmp_path: Path
) -> None:
    url, db = outbox_db
    ids = pending_notices(
        db,
        N,
        process="card",
        event="report_loss",
        kind="card_lost",
        text=("挂失已受理（{}）", "Loss reported ({})"),
    )
    log = tmp_path / "workers.log"
    workers = [deliver(url, receiver, log) for _ in range(2)]

    def finished() -> list[Any]:
        with db.connect() as conn:
            return list(conn.execute(select(NOTICES.c.id, NOTICES.c.status, NOTICES.c.attempts)))

    try:
        deadline = time.monotonic() + DEADLINE_S
        while {row.status for row in finished()} != {"failed"}:
            for worker in workers:
                assert worker.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, (
                f"not every notice failed within {DEADLINE_S} s: {finished()}, "
                f"{sum(SlowRefusal.posts.values())} POSTs"
            )
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

    assert sorted((row.id, row.attempts) for row in finished()) == [(i, 2) for i in ids]
    with db.connect() as conn:
        incidents = sorted(
            conn.execute(select(INCIDENTS.c.ref_id).where(INCIDENTS.c.kind == "notice")).scalars()
        )
    assert incidents == ids  # one incident per notice
    # each notice sent once per attempt, never by both workers at the same time
    assert SlowRefusal.posts == Counter({f"notice-{i}": 2 for i in ids})
    assert SlowRefusal.overlaps == []
