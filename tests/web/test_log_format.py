"""``SHEBAO_LOG_FORMAT=json``: one JSON object per log record, resident ID numbers masked in the
message, the extra fields and the exception alike."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date

import pytest

from web import log_format
from web.config import PROJECT_ROOT
from workflows.identity import make_id_number, mask_id_number

PERSON = make_id_number("440604", date(1990, 5, 17), 21)


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_format.JsonFormatter())
    logger = logging.getLogger("tests.json_log")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_record_is_one_json_object_with_its_extras_and_ids_masked(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.warning(
        "payment refused for %s",
        PERSON,
        extra={"instance_id": 42, "id_number": PERSON, "facts": {"holder": PERSON, "n": [1, 2]}},
    )
    [entry] = lines(stream)
    assert entry["level"] == "WARNING" and entry["logger"] == "tests.json_log"
    assert entry["message"] == f"payment refused for {mask_id_number(PERSON)}"
    assert str(entry["time"]).endswith("+00:00") and "T" in str(entry["time"])
    assert entry["instance_id"] == 42
    assert entry["id_number"] == mask_id_number(PERSON)
    assert entry["facts"] == {"holder": mask_id_number(PERSON), "n": [1, 2]}
    assert PERSON not in stream.getvalue()


def test_an_id_number_used_as_a_key_of_an_extra_field_is_masked_too(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.info("imported", extra={"rows": {PERSON: [{PERSON: "dup"}]}})
    [entry] = lines(stream)
    assert entry["rows"] == {mask_id_number(PERSON): [{mask_id_number(PERSON): "dup"}]}
    assert PERSON not in stream.getvalue()


def test_an_exception_stays_on_the_one_line_masked(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    try:
        raise ValueError(f"bad row for 身份证{PERSON}号")
    except ValueError:
        logger.exception("import failed")
    [entry] = lines(stream)
    assert entry["level"] == "ERROR" and entry["message"] == "import failed"
    assert "ValueError" in str(entry["exception"])
    assert mask_id_number(PERSON) in str(entry["exception"])
    assert PERSON not in stream.getvalue() and len(stream.getvalue().splitlines()) == 1


def test_the_settings_are_checked() -> None:
    assert log_format.log_format({}) == "text"
    assert log_format.log_format({"SHEBAO_LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(ValueError, match="SHEBAO_LOG_FORMAT"):
        log_format.log_format({"SHEBAO_LOG_FORMAT": "xml"})
    assert log_format.log_level(logging.INFO, {}) == logging.INFO
    assert log_format.log_level(logging.INFO, {"SHEBAO_LOG_LEVEL": "warning"}) == logging.WARNING
    with pytest.raises(ValueError, match="SHEBAO_LOG_LEVEL"):
        log_format.log_level(logging.INFO, {"SHEBAO_LOG_LEVEL": "loud"})


PROCESS = textwrap.dedent(
    """
    import logging, sys
    from web import log_format
    from web.app import create_app
    app = create_app({"SHEBAO_DATABASE_URL": "sqlite://", "TESTING": True})
    app.logger.debug("made before logging is set up: Flask gives it a text handler")
    log_format.configure(logging.INFO)
    logging.getLogger("shebao.test").info("registered %s", sys.argv[1], extra={"count": 3})
    app.logger.warning("from the app's logger: %s", sys.argv[1])
    """
)


def test_a_process_configured_for_json_writes_json_lines_on_stderr() -> None:
    env = {**os.environ, "SHEBAO_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", PROCESS, PERSON],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    by_logger = {e["logger"]: e for e in entries}
    assert by_logger["shebao.test"]["message"] == f"registered {mask_id_number(PERSON)}"
    assert by_logger["shebao.test"]["count"] == 3 and by_logger["shebao.test"]["level"] == "INFO"
    assert by_logger["web.app"]["message"].endswith(mask_id_number(PERSON))
    assert PERSON not in done.stderr


SECURITY = textwrap.dedent(
    """
    import logging, sys
    from web import log_format
    log_format.configure(logging.WARNING)  # as `shebao run` and the WSGI entry point do
    from web.security_log import log
    log.info("security_event kind=login_failed actor=%s", sys.argv[1])
    """
)


@pytest.mark.parametrize("chosen", ["text", "json"])
def test_the_security_log_writes_its_lines_in_a_service_started_at_warning(chosen: str) -> None:
    """QA: the service configures logging at WARNING, so the INFO lines of the security event
    log were dropped unless SHEBAO_LOG_LEVEL said otherwise."""
    env = {k: v for k, v in os.environ.items() if k != "SHEBAO_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", SECURITY, PERSON],
        env={**env, "SHEBAO_LOG_FORMAT": chosen},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [line] = [x for x in done.stderr.splitlines() if "security_event" in x]
    assert f"actor={mask_id_number(PERSON)}" in line and PERSON not in done.stderr
    if chosen == "json":
        assert json.loads(line)["logger"] == "shebao.security"
