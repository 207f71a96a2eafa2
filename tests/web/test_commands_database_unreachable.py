"""Every ``shebao`` command, ``run`` and ``scheduler`` as they start included, answers a database
it cannot reach with one line on stderr and exit 1, not a traceback (QA A-1): PostgreSQL refusing
connections, a database that does not exist, a mistyped SQLite path (which it leaves uncreated).
The password in the URL is never printed. The real ``shebao`` entry point, as processes."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path
from subprocess import PIPE

import pytest
from shebao_processes import SHEBAO
from sqlalchemy.engine import make_url

COMMANDS = (
    ("incidents", "list"),
    ("clock", "show"),
    ("definitions", "versions"),
    ("scheduler", "--once"),
    ("run", "--port", "{port}"),
)


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shebao_on(url: str, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Each of ``commands`` run by the ``shebao`` entry point on ``url``, all at once."""
    env = {**os.environ, "SHEBAO_DATABASE_URL": url, "SHEBAO_SECRET_KEY": "x" * 32}
    port = str(closed_port())
    runs = [[str(SHEBAO), *(part.replace("{port}", port) for part in c)] for c in commands]
    started = [
        (args, subprocess.Popen(args, env=env, stdout=PIPE, stderr=PIPE, text=True))
        for args in runs
    ]
    done = []
    for args, process in started:
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        done.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return done


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    said = f"{result.args}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.returncode == 1, said
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, said
    assert result.stdout == "", said
    for word in words:
        assert word in lines[0], said
    return lines[0]


def test_a_refused_connection_is_one_line_naming_the_database_without_its_password() -> None:
    port = closed_port()
    url = f"postgresql://root:secretpw@127.0.0.1:{port}/shebao"
    for result in shebao_on(url, *COMMANDS):
        line = assert_one_line(result, "cannot reach the database", "无法连接数据库")
        assert f"postgresql://root:***@127.0.0.1:{port}/shebao" in line
        assert "Connection refused" in line
        assert "secretpw" not in result.stderr + result.stdout


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_one_line() -> None:
    server = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    missing = f"no_such_db_{uuid.uuid4().hex[:8]}"
    url = make_url(server).set(database=missing).render_as_string(hide_password=False)
    for result in shebao_on(url, ("incidents", "list"), ("scheduler", "--once"), COMMANDS[-1]):
        assert_one_line(result, "cannot reach the database", f'database "{missing}" does not exist')


def test_a_mistyped_sqlite_path_is_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "shebao.db"
    for result in shebao_on(f"sqlite:///{typo}", ("incidents", "list"), ("clock", "show")):
        assert_one_line(result, "no such database file", str(typo), "shebao db upgrade")
    assert not typo.exists() and not typo.parent.exists()
