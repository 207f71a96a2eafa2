"""The outbox's acceptance test: 10,000 notices, a receiver that fails 30% of the calls, real
``shebao notices deliver --loop`` processes, one ``kill -9``ed mid-way and started again.

Every notice ends ``delivered``; the receiver, which deduplicates by notice id, accepted each id
exactly once, none lost; the duplicates it dropped (answers lost by the flaky receiver, the batch in
flight at the kill) are counted in the figures printed at the end of the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from shebao_processes import SHEBAO
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import func, select

from benchmarks.notice_receiver import Tally
from engine.models import Incident
from tests.engine.notice_rows import NOTICES, pending_notices

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # kill -9, deadlines

N = 10_000
DEADLINE_S = 120


def statuses(db: SqlEngine) -> dict[str, int]:
    with db.connect() as conn:
        query = select(NOTICES.c.status, func.count()).group_by(NOTICES.c.status)
        return {str(s): int(n) for s, n in conn.execute(query)}


def deliver(url: str, receiver: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHEBAO_DATABASE_URL": url,
        "SHEBAO_NOTICE_CHANNEL": f"python:benchmarks.notice_receiver:flaky:{receiver}",
        "SHEBAO_NOTICE_MAX_ATTEMPTS": "40",  # 0.3**40: no notice runs out of attempts
        "SHEBAO_NOTICE_BACKOFF_SECONDS": "0.01",
        "SHEBAO_NOTICE_MAX_BACKOFF_SECONDS": "0.2",
        "SHEBAO_NOTICE_LEASE_SECONDS": "1",
        "SHEBAO_NOTICE_BATCH": "50",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(SHEBAO), "notices", "deliver", "--loop", "--interval", "0.05"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(
    condition: object, what: str, processes: list[subprocess.Popen[bytes]], log: Path
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        for process in processes:
            ended = process.poll()
            assert ended is None, f"a worker ended early ({what}, exit {ended}): {_tail(log)}"
        assert time.monotonic() < deadline, f"not within {DEADLINE_S} s: {what}"
        time.sleep(0.05)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@pytest.mark.parametrize("workers", [1, 2])
def test_ten_thousand_notices_through_a_flaky_receiver_and_a_kill_9(
    outbox_db: tuple[str, SqlEngine],
    tmp_path: Path,
    workers: int,
    bench_report: object,
) -> None:
    url, db = outbox_db
    if workers > 1 and url.startswith("sqlite"):
        pytest.skip("several workers share the outbox through PostgreSQL's row locks")
    pending_notices(
        db,
        N,
        process="card",
        event="notify_holder",
        kind="card_ready",
        text=("您的社会保障卡已制作完成（{}）", "Your card is ready ({})"),
    )
    receiver, log = tmp_path / "receiver.db", tmp_path / "workers.log"
    began = time.monotonic()
    running = [deliver(url, receiver, log) for _ in range(workers)]

    wait_until(lambda: Tally.read(receiver).accepted >= N * 3 // 10, "30% accepted", running, log)
    victim = running.pop(0)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    at_kill = statuses(db)
    assert 0 < at_kill.get("delivered", 0) < N, at_kill

    running.append(deliver(url, receiver, log))  # started again
    wait_until(lambda: statuses(db) == {"delivered": N}, "every notice delivered", running, log)
    seconds = time.monotonic() - began
    for process in running:
        process.send_signal(signal.SIGTERM)  # a clean stop after the batch in hand
        assert process.wait(timeout=30) == 0, log.read_text(errors="replace")[-2000:]

    tally = Tally.read(receiver)
    with db.connect() as conn:
        ids = [int(i) for i in conn.execute(select(NOTICES.c.id).order_by(NOTICES.c.id)).scalars()]
        incidents = conn.execute(select(func.count()).select_from(Incident.__table__)).scalar()
        attempts = conn.execute(select(func.sum(NOTICES.c.attempts))).scalar()
    assert Tally.accepted_ids(receiver) == ids  # each id accepted, none lost
    assert tally.accepted == tally.distinct == N
    assert incidents == 0
    assert tally.failed_before > 0 and tally.failed_after > 0
    assert tally.duplicates >= tally.failed_after - 50 * workers  # lost answers come back
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    bench_report(  # type: ignore[operator]
        f"outbox kill -9 ({database}, {workers} worker(s))",
        f"{N} notices delivered in {seconds:.1f} s, {int(attempts)} recorded attempts; receiver: "
        f"{tally.accepted} accepted once each, {tally.duplicates} duplicates dropped, "
        f"{tally.failed_before} failed before and {tally.failed_after} after taking a notice; "
        f"at the kill: {at_kill}",
    )
