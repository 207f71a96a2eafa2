"""``shebao run`` (the README's start command: the web app and the scheduler in one process)
stopped as a service manager stops it, by SIGTERM: it stops serving, lets the scheduler finish the
chunk in hand, gives back its timer leases, removes its heartbeat row and exits 0. Before, SIGTERM
killed it at once: exit -15 and a heartbeat row of a dead scheduler left for ``shebao schedulers``
and the health pages to show."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from shebao_processes import SHEBAO, stopped_by_sigterm
from sqlalchemy import text

from engine.db import make_engine

pytestmark = pytest.mark.slow  # a real process, started and stopped


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def schedulers(url: str) -> int:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM wf_scheduler")).scalar_one())
    finally:
        db.dispose()


def test_sigterm_stops_serving_and_the_scheduler_leaving_no_heartbeat_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shebao.db'}"
    port = free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "SHEBAO_DATABASE_URL": url, "SHEBAO_HISTORY_CLEANUP_WINDOW": "off"}
    process = subprocess.Popen(
        [str(SHEBAO), "run", "--no-demo", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    with stopped_by_sigterm(process):
        deadline = time.monotonic() + 120
        while True:  # serving, and the scheduler has swept once (its heartbeat row is there)
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "not serving with a heartbeat within two minutes"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    if r.status == 200 and schedulers(url) == 1:
                        break
            except OSError:
                pass
            time.sleep(0.2)
    assert process.returncode == 0, log.read_text()
    assert schedulers(url) == 0, log.read_text()
