"""HTTP events' servers: gunicorn started on a free local port and ended whatever happens, and
its workers' CPU time (Linux ``/proc``), so that an uneven spread of requests over them shows."""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from web.config import PROJECT_ROOT

READY_TIMEOUT_S = 120.0


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(
    app: str, env: dict[str, str], options: argparse.Namespace, log: Path
) -> Iterator[tuple[int, int]]:
    """A gunicorn serving ``app`` on a free local port (and its master's pid), in a process
    group of its own that is ended (TERM, then KILL) on the way out, whatever happened."""
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
