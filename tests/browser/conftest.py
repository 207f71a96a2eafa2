"""Browser tests: the app served from a real server thread, driven by Debian's Chromium.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``. Screenshots go to
``artifacts/screenshots/``; the folder is printed at the end of the run.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import CHROMIUM, CHROMIUM_ARGS, counter_card
from werkzeug.serving import make_server

from engine.clock import SimulatedClock
from web.app import create_app, domain_of, engine_of
from web.auth import create_user
from web.mfa import enroll
from workflows.demo import seed_demo

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PERSON = "11010519491231002X"
NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Site:
    url: str
    app: Any
    card_id: int
    task_id: int
    person: str = PERSON
    totp: dict[str, str] = field(default_factory=dict)
    """The TOTP secrets of accounts with a second factor (supervisors need one)."""


@pytest.fixture(scope="session")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The service with a small demo, one known card awaiting activation at ICBC, and accounts."""
    path = tmp_path_factory.mktemp("browser") / "shebao.db"
    shutil.copy(sqlite_template, path)
    config = {"SHEBAO_DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "browser-tests"}
    app = create_app(config, clock=SimulatedClock(NOW))
    engine = engine_of(app)
    seed_demo(engine, domain_of(app), people=120)
    card = counter_card(app, PERSON, events=("produce", "notify_holder"))
    from engine import queries

    task_id = int(queries.tasks_of(engine.db, card.instance_id, "open")[0]["id"])
    for name, group, scope in [
        ("wang", "bank_teller", "icbc"),
        ("chen", "bank_teller", "boc"),
        ("boss", "supervisor", None),
        ("su", "social_security_clerk", "foshan"),
    ]:
        create_user(engine.db, name, "browser-pw", group, scope)
    totp = {"boss": enroll(engine.db, "boss")}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(
            f"http://127.0.0.1:{server.server_port}", app, card.instance_id, task_id, totp=totp
        )
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the project's set-up installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"screenshots saved under {SCREENSHOTS}")
