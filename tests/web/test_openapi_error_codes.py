"""The OpenAPI document lists, under each error status, the codes an answer with that status may
carry and what each means (QA: "the OpenAPI document lists no error codes per status": a bank's
client learned ``transition_refused`` or ``card_application_refused`` only by meeting them).

Every ``ApiError(status, "code", ...)`` the web layer writes, and every typed error of the engine
and the domain at the status the API gives it, is listed (``web.api.error_codes``); a code written
in the source and missing from the list fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from support import MakeApp

from engine.clock import SimulatedClock
from web import db_faults
from web.api.error_codes import codes_by_status
from web.api.errors import _HTTP_CODES

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = re.compile(r'ApiError\(\s*(\d{3}),\s*"([a-z_]+)"')


def listed() -> set[tuple[int, str]]:
    return {(s, c.code) for s, codes in codes_by_status().items() for c in codes}


def test_every_code_the_web_layer_writes_is_listed_under_its_status() -> None:
    written = {
        (int(status), code)
        for path in (ROOT / "web").rglob("*.py")
        for status, code in WRITTEN.findall(path.read_text(encoding="utf-8"))
    }
    written |= set(_HTTP_CODES.items()) | {(503, db_faults.CODE)}
    assert len(written) > 15, written  # the pattern still finds them
    assert written - listed() == set()


def test_the_typed_errors_are_listed_at_the_status_the_api_answers() -> None:
    found = listed()
    for pair in (
        (409, "transition_refused"),
        (409, "concurrent_modification"),
        (404, "instance_not_found"),
        (422, "card_application_refused"),
        (422, "registration_refused"),
        (422, "not_registered"),
    ):
        assert pair in found, pair
    assert all(code != "workflow_error" for _, code in found)  # the base class is no answer


def test_the_document_names_each_status_codes(make_app: MakeApp) -> None:
    app = make_app(SimulatedClock(datetime(2024, 3, 1, 2, tzinfo=UTC)))
    spec = app.test_client().get("/api/v1/openapi.json").json
    answers = spec["paths"]["/cards"]["post"]["responses"]
    assert "`transition_refused`" in answers["409"]["description"]
    assert "`card_application_refused`" in answers["422"]["description"]
    assert (
        "`invalid_id_number`: an ID number fails the GB 11643 check"
        in answers["422"]["description"]
    )
    assert "`unauthenticated`" in answers["401"]["description"]
    assert "`database_unavailable`" in answers["503"]["description"]
