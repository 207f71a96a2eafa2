"""The ``shebao`` command run as a process of its own, as the tests that start, stop and kill it
run it: where it is, a scheduler sweeping on the system clock, and a stop by SIGTERM as a
service manager stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHEBAO = Path(sys.executable).with_name("shebao")
"""The ``shebao`` command of this environment."""


def running_scheduler(url: str, log: Path, *args: str, **settings: str) -> subprocess.Popen[str]:
    """``shebao scheduler`` on ``url`` and the system clock (leases run out in real time),
    sweeping every second, with ``args`` and the environment's ``settings``; what it says goes
    to ``log``."""
    env = {**os.environ, "SHEBAO_DATABASE_URL": url, **settings}
    return subprocess.Popen(
        [str(SHEBAO), "scheduler", "--interval", "1", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
    )


@contextmanager
def stopped_by_sigterm(process: subprocess.Popen[str]) -> Iterator[None]:
    """The block runs while ``process`` does; then SIGTERM stops it, as a service manager stops
    the service, and it has a minute to exit. Killed if the block failed or it did not exit."""
    try:
        yield
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
