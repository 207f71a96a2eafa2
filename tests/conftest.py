"""Shared fixtures: a migrated database per test, on SQLite and (marked ``postgres``) PostgreSQL.

The PostgreSQL URL comes from ``SHEBAO_TEST_POSTGRES_URL``; without it those tests skip, except in
CI (``CI=true``), where a missing URL is an error rather than a silent skip.

At the end of the session, a scan of every response and log line for unmasked resident ID
numbers fails the run if it found one (see ``PersonalDataScan``).

The suite runs in two phases (``scripts/test``): ``--phase parallel`` under pytest-xdist, every
test but the benchmarks (``bench``) and those marked ``serial``; then ``--phase serial``, those
alone. Each xdist worker has a PostgreSQL database of its own (see ``worker_database``), notices
of its own, and hands its scan's findings and benchmark figures to the controller.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask
import lxml.html
import pytest
import werkzeug.exceptions
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import MakeApp, Staff

from engine.db import normalise_url
from web import log_masking
from web.migrate import upgrade_database
from workflows.identity import is_valid_id_number

POSTGRES_URL = os.environ.get("SHEBAO_TEST_POSTGRES_URL")
BENCH_FIGURES: list[str] = []
SERIAL_MARKERS = ("bench", "serial")
"""Tests with these markers run in the serial phase, alone on the machine."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--phase",
        choices=("parallel", "serial"),
        default=None,
        help="run only the tests of one phase: 'serial' those marked bench or serial, "
        "'parallel' the others (default: all)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    phase = config.getoption("--phase")
    if phase is None:
        return
    serial = phase == "serial"
    kept, dropped = [], []
    for item in items:
        alone = any(item.get_closest_marker(name) for name in SERIAL_MARKERS)
        (kept if alone == serial else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def worker_database(url: str, worker: str) -> str:
    """``url`` naming the database of xdist worker ``worker`` (``test`` -> ``test_gw0``), which is
    created through a connection to ``url``'s own database when it does not exist yet."""
    parsed = make_url(normalise_url(url))
    name = f"{parsed.database}_{worker}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if found.first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def pytest_configure(config: pytest.Config) -> None:
    # An xdist worker runs on a database of its own, for its tests and the processes they start
    # (which read the variable too), so that workers never empty each other's tables.
    global POSTGRES_URL
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and POSTGRES_URL:
        POSTGRES_URL = worker_database(POSTGRES_URL, worker)
        os.environ["SHEBAO_TEST_POSTGRES_URL"] = POSTGRES_URL


@pytest.fixture
def bench_report() -> Callable[[str, str], None]:
    """``bench_report(name, line)``: a benchmark's figures, printed at the end of the run."""

    def report(name: str, line: str) -> None:
        BENCH_FIGURES.append(f"{name}: {line}")

    return report


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: what a worker's scan found and its benchmark figures."""
    output = getattr(node, "workeroutput", {})
    BENCH_FIGURES.extend(output.get("shebao_bench_figures", []))
    scan = output.get("shebao_personal_data")
    if scan:
        PERSONAL_DATA.findings.extend(scan["findings"])
        PERSONAL_DATA.responses += scan["responses"]
        PERSONAL_DATA.records += scan["records"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BENCH_FIGURES:
        terminalreporter.section("benchmark figures")
        for line in BENCH_FIGURES:
            terminalreporter.write_line(line)
    if PERSONAL_DATA.findings:
        terminalreporter.section("unmasked resident ID numbers", red=True)
        for finding in PERSONAL_DATA.findings[:50]:
            terminalreporter.write_line(finding)
        if len(PERSONAL_DATA.findings) > 50:
            terminalreporter.write_line(f"... and {len(PERSONAL_DATA.findings) - 50} more")
    elif PERSONAL_DATA.active:
        terminalreporter.write_line(
            f"personal data scan: {PERSONAL_DATA.responses} responses and "
            f"{PERSONAL_DATA.records} log records, no unmasked resident ID number"
        )


# -- the last line of defence: no resident ID number in a server log line or a response body ----
#
# Every response any Flask app of the session sends (API answers, pages, through the test client,
# schemathesis or a live server thread) and every log record that reaches the root logger are
# scanned for a valid resident ID number (check digit right) that is not masked. Requests carry
# ID numbers, of course; answers and logs must not. A finding fails the session at its end,
# naming the test and where the number appeared. The masking of log records is installed as the
# service installs it at start-up (``web.log_masking``), so the scan sees what a server would log.

# Not the fraction of a decimal number: a Prometheus histogram's sum (``0.009733...``) once had
# 18 digits after the point that made a valid number, and failed a run that leaked nothing.
ID_CANDIDATE = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{17}[0-9Xx](?![0-9])")
SCANNED_TYPES = ("application/json", "text/", "image/svg+xml", "application/xml")

# A refused form gives the user's own typing back, ID numbers whole, in the field they typed it in
# (``web.log_masking.refill``): an ``<input>`` or ``<textarea>`` named as a field of the request's
# form, holding exactly what the request sent in it, is the one place an answer may hold one.
FIELD_TAGS = ("<input", "<textarea")


def without_typed_fields(body: str, sent: dict[str, list[str]]) -> str:
    """``body`` with the form fields that give back exactly what ``sent`` (the request's form)
    carried under their names left out (the page parsed as a browser would, by lxml)."""
    if not sent or not any(tag in body.lower() for tag in FIELD_TAGS):
        return body
    page = lxml.html.document_fromstring(body)
    for field in list(page.iter("input", "textarea")):
        if field.tag == "input":
            shown = field.get("value", "")
        else:
            shown = (field.text or "").removeprefix("\n")
        if shown in sent.get(field.get("name", ""), []):
            field.drop_tree()
    return str(lxml.html.tostring(page, encoding="unicode"))


def resident_ids_in(text: str) -> list[str]:
    """The valid resident ID numbers written out in full in ``text``."""
    return [found for found in ID_CANDIDATE.findall(text) if is_valid_id_number(found, today=None)]


class PersonalDataScan:
    """What the session's responses and log records gave away (see above)."""

    def __init__(self) -> None:
        self.findings: list[str] = []
        self.responses = 0
        self.records = 0
        self.active = False
        self._lock = threading.Lock()

    def check(self, text: str, where: str) -> None:
        found = resident_ids_in(text)
        if found:
            test = os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)").rsplit(" ", 1)[0]
            shown = log_masking.mask_text(found[0])
            with self._lock:
                self.findings.append(f"{test}: {where}: {len(found)} unmasked, e.g. {shown}")

    def on_response(self, sender: flask.Flask, response: flask.Response, **_: Any) -> None:
        self.responses += 1
        if response.direct_passthrough or response.is_streamed:
            return
        if not (response.mimetype or "").startswith(SCANNED_TYPES):
            return
        request = flask.request
        try:  # a body the app refused to read (too large) sent no field back
            sent = request.form.to_dict(flat=False) if request.method == "POST" else {}
        except werkzeug.exceptions.HTTPException:
            sent = {}
        self.check(
            without_typed_fields(response.get_data(as_text=True), sent),
            f"response to {request.method} {request.path} ({response.status_code})",
        )

    @contextmanager
    def expecting_a_leak(self) -> Iterator[list[str]]:
        """For the scan's own tests: findings made inside are handed back, not reported."""
        with self._lock:
            before = len(self.findings)
        caught: list[str] = []
        try:
            yield caught
        finally:
            with self._lock:
                caught.extend(self.findings[before:])
                del self.findings[before:]


class _ScanHandler(logging.Handler):
    def __init__(self, scan: PersonalDataScan) -> None:
        super().__init__(logging.NOTSET)
        self.scan = scan
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.scan.records += 1
        try:
            line = self.format(record)
        except Exception:
            return
        self.scan.check(line, f"log record of {record.name} ({record.levelname})")


PERSONAL_DATA = PersonalDataScan()
_SCAN_HANDLER = _ScanHandler(PERSONAL_DATA)
_SAVED_LEVELS: dict[str, int] = {}
QUIET = ("sqlalchemy", "transitions")


NOTICE_FOLDER: list[str] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    # Notices delivered by the apps and ``shebao`` processes of the tests go to a folder of the
    # session's, not to the checkout's instance/notices.jsonl (the service's default channel).
    # An xdist worker inherits the controller's folder: it makes its own.
    channel = os.environ.get("SHEBAO_NOTICE_CHANNEL")
    if channel is None or channel == os.environ.get("SHEBAO_TEST_NOTICE_CHANNEL"):
        NOTICE_FOLDER.append(tempfile.mkdtemp(prefix="shebao-test-notices-"))
        os.environ["SHEBAO_NOTICE_CHANNEL"] = f"file:{NOTICE_FOLDER[0]}/notices.jsonl"
        os.environ["SHEBAO_TEST_NOTICE_CHANNEL"] = os.environ["SHEBAO_NOTICE_CHANNEL"]
    log_masking.install()
    root = logging.getLogger()
    _SAVED_LEVELS[""] = root.level
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)  # the service's info lines (security events, access) too
    # SQLAlchemy's INFO is echo (every statement); transitions' is a line per state callback
    for name in QUIET:
        quiet = logging.getLogger(name)
        _SAVED_LEVELS[name] = quiet.level
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)
    root.addHandler(_SCAN_HANDLER)
    flask.request_finished.connect(PERSONAL_DATA.on_response, weak=False)
    PERSONAL_DATA.active = True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for folder in NOTICE_FOLDER:
        os.environ.pop("SHEBAO_NOTICE_CHANNEL", None)
        os.environ.pop("SHEBAO_TEST_NOTICE_CHANNEL", None)
        shutil.rmtree(folder, ignore_errors=True)
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # an xdist worker: the controller reports and judges
        output["shebao_bench_figures"] = list(BENCH_FIGURES)
        output["shebao_personal_data"] = {
            "findings": list(PERSONAL_DATA.findings),
            "responses": PERSONAL_DATA.responses,
            "records": PERSONAL_DATA.records,
        }
    if PERSONAL_DATA.active:
        flask.request_finished.disconnect(PERSONAL_DATA.on_response)
        logging.getLogger().removeHandler(_SCAN_HANDLER)
        for name, level in _SAVED_LEVELS.items():
            logging.getLogger(name).setLevel(level)
    if PERSONAL_DATA.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def personal_data_scan() -> PersonalDataScan:
    """The session's scan for unmasked resident ID numbers (for the scan's own tests)."""
    return PERSONAL_DATA


def _all_tables() -> list[str]:
    from engine.models import Base
    from web.models import WebBase

    return [t.name for m in (Base.metadata, WebBase.metadata) for t in m.sorted_tables]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    if not POSTGRES_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but SHEBAO_TEST_POSTGRES_URL is not set")
        pytest.skip("SHEBAO_TEST_POSTGRES_URL is not set")
    url = normalise_url(POSTGRES_URL)
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()
    upgrade_database(url)
    return url


def _truncate(url: str) -> None:
    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_all_tables())} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the test PostgreSQL truncated."""
    if request.param == "sqlite":
        path = tmp_path / "shebao.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_migrated")
        _truncate(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database only (for tests that need no PostgreSQL variant)."""
    path = tmp_path / "shebao.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_app(db_url: str) -> Iterator[MakeApp]:
    """``make_app(clock, staff=(), csrf=False, **config)``: the service on this test's database,
    with ``staff`` created (password ``pw``; supervisors enrolled in a second factor, as they must
    be to log in), CSRF checks off unless asked for. The apps' connections close after the test."""
    from web.app import create_app, engine_of
    from web.auth import create_user
    from web.mfa import enroll

    made: list[flask.Flask] = []

    def make(
        clock: Any = None,
        staff: tuple[Staff, ...] | list[Staff] = (),
        csrf: bool = False,
        **config: Any,
    ) -> flask.Flask:
        settings = {"SHEBAO_DATABASE_URL": db_url, "TESTING": True, "WTF_CSRF_ENABLED": csrf}
        app = create_app({**settings, **config}, clock=clock)
        made.append(app)
        db = engine_of(app).db
        for name, group, scope in staff:
            create_user(db, name, "pw", group, scope)
            if group == "supervisor":
                enroll(db, name)
        return app

    yield make
    for app in made:
        engine_of(app).db.dispose()
