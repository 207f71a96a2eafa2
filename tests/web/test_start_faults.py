"""Starting on what an operator can get wrong (QA): ``shebao demo`` run again over a demo with
notices, incidents, task comments and logins; a broken definition file (the commands and the
service run on the versions deployed, and refuse in one line only when none is); a database
without its schema (a mistyped or new SQLite file, one behind the migrations): 503
``database_unavailable`` from the API and the pages, one line from the commands."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from shebao_processes import SHEBAO
from sqlalchemy import func, insert, select
from staff_login import client_for

from engine import statements as st
from engine.models import DeployedDefinition, Incident, Notice, TaskComment
from engine.task_team import add_comment
from tests.web.definition_files import definition_service, definition_settings
from web.api.tokens import create_token
from web.app import engine_of
from web.auth import create_user
from web.cli.main import main
from web.migrate import upgrade_database

BROKEN_LABEL = "states.applied.label.en"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def service(db_url: str, definitions: Path | None = None) -> Flask:
    """The service starting (it deploys the files that changed)."""
    return definition_service(db_url, definitions, WTF_CSRF_ENABLED=False)


def shebao(db_url: str, definitions: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``shebao`` command, a process of its own as an operator runs it."""
    env = {**os.environ, **definition_settings(db_url, definitions)}
    return subprocess.run([str(SHEBAO), *args], capture_output=True, text=True, env=env)


def break_card_label(definitions: Path) -> Path:
    path = definitions / "card.yaml"
    text = path.read_text(encoding="utf-8")
    broken = text.replace("label: {zh: 已申领, en: Applied}", "label: {zh: 已申领}", 1)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    return path


def count(app: Flask, table: Any) -> int:
    with engine_of(app).db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# -- shebao demo, again ------------------------------------------------------------------------


def demo(app: Flask) -> Result:
    return app.test_cli_runner().invoke(main, ["demo", "--people", "50", "--yes"])


def test_the_demo_reseeds_over_notices_incidents_comments_and_logins(db_url: str) -> None:
    app = service(db_url)
    first = demo(app)
    assert first.exit_code == 0, first.output
    assert count(app, Notice.__table__) > 0  # what made the second run fail on the foreign key
    engine = engine_of(app)
    with engine.db.begin() as conn:
        open_tasks = select(st.tasks.c.id).where(st.tasks.c.status == "open")
        task = conn.execute(open_tasks.limit(1)).scalar_one()
        conn.execute(
            insert(Incident.__table__).values(
                kind="timer", ref_id=1, step="fire", error="x", attempts=3, created_at=NOW
            )
        )
    add_comment(engine, task, "clerk", "called the holder")
    create_user(engine.db, "clerk", "pw", "social_security_clerk", "foshan")
    clerk = client_for(app, "clerk")
    assert clerk.get("/inbox/").status_code == 200

    again = demo(app)
    assert again.exit_code == 0, again.output
    assert "50 people" in again.output
    assert count(app, TaskComment.__table__) == 0 and count(app, Incident.__table__) == 0
    assert clerk.get("/inbox/").status_code == 302  # the account and its login are gone
    engine.db.dispose()


def test_a_reseed_that_fails_leaves_every_login_in_place(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = service(db_url)
    assert demo(app).exit_code == 0
    create_user(engine_of(app).db, "clerk", "pw", "social_security_clerk", "foshan")
    clerk = client_for(app, "clerk")
    # a wipe that leaves a referencing table out fails on its foreign key ...
    monkeypatch.setattr(
        "web.demo_accounts.instance_tables",
        lambda: [st.tasks.metadata.tables["wf_task_comment"], st.timers, st.tasks, st.instances],
        raising=False,
    )
    failed = demo(app)
    assert failed.exit_code != 0
    # ... and deletes nothing, the logins included
    assert clerk.get("/inbox/").status_code == 200
    assert count(app, st.instances) > 0
    engine_of(app).db.dispose()


# -- a broken definition file ------------------------------------------------------------------


def test_validate_reports_a_broken_file_on_a_database_never_migrated(
    tmp_path: Path, definitions: Path
) -> None:
    path = break_card_label(definitions)
    url = f"sqlite:///{tmp_path / 'new.db'}"
    checked = shebao(url, definitions, "definitions", "validate", str(path))
    assert checked.returncode == 1
    assert checked.stderr.strip() == (
        f"invalid: {path}: {BROKEN_LABEL}: a label needs non-empty Chinese and English text"
    )
    every = shebao(url, definitions, "definitions", "validate")
    assert every.returncode == 1 and "Traceback" not in every.stderr
    assert "ok: " in every.stdout and "enrollment v1" in every.stdout
    assert every.stderr.count(BROKEN_LABEL) == 1


def test_with_versions_deployed_commands_and_the_service_run_on_them(
    db_url: str, definitions: Path
) -> None:
    deployed = service(db_url, definitions)  # deploys v1 of every file
    engine_of(deployed).db.dispose()
    path = break_card_label(definitions)
    enrollment = definitions / "enrollment.yaml"  # changed beside the broken one: not deployed
    enrollment.write_text(enrollment.read_text(encoding="utf-8") + "\n# changed\n", "utf-8")

    for args in (("clock", "show"), ("incidents", "list"), ("stats", "card")):
        ran = shebao(db_url, definitions, *args)
        assert ran.returncode == 0, ran.stderr
        assert "Traceback" not in ran.stderr
        said = [line for line in ran.stderr.splitlines() if str(path) in line]
        assert len(said) == 1 and BROKEN_LABEL in said[0]
        assert "running on the deployed versions" in said[0]
    assert "awaiting_activation" in shebao(db_url, definitions, "stats", "card").stdout

    app = service(db_url, definitions)  # a starting service: runs, deploys nothing
    assert engine_of(app).definition("card").version == 1
    assert engine_of(app).definition("card").states["applied"].label.en == "Applied"
    assert count(app, DeployedDefinition.__table__) == 4
    engine_of(app).db.dispose()


def test_with_nothing_deployed_commands_and_the_service_refuse_in_one_line(
    sqlite_url: str, definitions: Path
) -> None:
    path = break_card_label(definitions)
    refused = shebao(sqlite_url, definitions, "clock", "show")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert str(path) in line and BROKEN_LABEL in line and "no version is deployed" in line

    env = {**os.environ, **definition_settings(sqlite_url, definitions)}
    wsgi = subprocess.run(
        [sys.executable, "-c", "import web.wsgi"], capture_output=True, text=True, env=env
    )
    assert wsgi.returncode == 3 and "Traceback" not in wsgi.stderr  # gunicorn: failed to boot
    assert len(wsgi.stderr.strip().splitlines()) == 1 and BROKEN_LABEL in wsgi.stderr


# -- a database without its schema -------------------------------------------------------------


def assert_503(response: Any, api: bool = True) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    if api:
        assert response.get_json()["code"] == "database_unavailable"
    else:
        assert "数据库暂时不可用" in response.get_data(as_text=True)


def test_a_missing_sqlite_file_answers_503_and_the_commands_say_to_migrate(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    app = service(url)
    client = app.test_client()
    assert_503(client.get("/api/v1/cards/1", headers={"Authorization": "Bearer abc"}))
    assert_503(client.post("/login", data={"username": "x", "password": "y"}), api=False)

    for args in (("clock", "show"), ("incidents", "list"), ("definitions", "versions")):
        ran = shebao(url, None, *args)
        assert ran.returncode == 1, ran.stdout
        assert ran.stderr.strip() == (
            "Error: 数据库尚无表结构 / the database has no schema: 请运行 / run `shebao db upgrade`"
        )

    assert shebao(url, None, "db", "upgrade").returncode == 0  # the way out
    assert shebao(url, None, "clock", "show").returncode == 0
    assert client.get("/api/v1/cards/1", headers={"Authorization": "Bearer abc"}).status_code == 401
    engine_of(app).db.dispose()


def test_a_schema_behind_the_migrations_answers_503_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0005")
    app = service(url)
    token = create_token(engine_of(app).db, "ops", ["admin"])  # tokens are older than 0005
    incidents = app.test_client().get(  # incidents came with 0006
        "/api/v1/admin/incidents", headers={"Authorization": f"Bearer {token}"}
    )
    assert_503(incidents)
    ran = CliRunner().invoke(main, ["incidents", "list"], env=definition_settings(url))
    assert ran.exit_code == 1
    assert "the database schema is at 0005, not at" in ran.output
    assert "run `shebao db upgrade`" in ran.output
    engine_of(app).db.dispose()


def test_a_reference_that_no_longer_holds_is_a_broken_file_too(
    sqlite_url: str, definitions: Path
) -> None:
    engine_of(service(sqlite_url, definitions)).db.dispose()  # deploys v1 of every file
    (definitions / "card.yaml").unlink()  # card_review's reference to the cards holds no more
    ran = shebao(sqlite_url, definitions, "stats", "card")
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert "references: no process 'card'" in ran.stderr
    assert "running on the deployed versions" in ran.stderr
