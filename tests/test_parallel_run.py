"""The suite's parallel run (pytest-xdist, ``scripts/test``) keeps the last line of defence: a
resident ID number a test's service gave away in a worker fails the whole run, named in its
summary (see ``PersonalDataScan`` in ``conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEAKED = "11010519491231002X"
ASKED = "SHEBAO_TEST_LEAK_ON_PURPOSE"


def test_answers_a_resident_id_number_when_asked(personal_data_scan: Any) -> None:
    """The leak the test below runs in a worker of a pytest of its own: an answer that shows a
    resident ID number whole."""
    if not os.environ.get(ASKED):
        pytest.skip("run by test_a_leak_in_a_worker_fails_the_parallel_run")
    personal_data_scan.check(f"a leak on purpose: {LEAKED}", "response to GET /leak (200)")


def test_a_leak_in_a_worker_fails_the_parallel_run() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("SHEBAO_TEST_POSTGRES_URL", None)
    env[ASKED] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2"]
        + [f"{Path(__file__).relative_to(ROOT)}::test_answers_a_resident_id_number_when_asked"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-2000:]
    assert "unmasked resident ID numbers" in done.stdout
    assert "test_answers_a_resident_id_number_when_asked" in done.stdout
    assert LEAKED not in done.stdout  # the summary names the finding masked
