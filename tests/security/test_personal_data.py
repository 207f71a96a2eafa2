"""Personal data stays out of URLs, logs, error bodies and redisplayed forms.

A person's cards and years are asked for with the ID number in a POST body (URLs end up in access
logs); answers show masked numbers only; an error body never echoes a full number, wherever the
caller put it; every log record is masked (``web.log_masking``); a form shown again after a refusal
gives what was typed into an ID number field back whole in that field, and only there. The session-wide scan of tests/conftest.py checks
all of this for every test; the tests here check each door on purpose, and the scan itself.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from lxml import html as lxml_html
from support import MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from web import log_masking
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.auth import create_user
from web.extensions import domain_of
from workflows.cards import apply_for_card
from workflows.identity import make_id_number, mask_id_number
from workflows.imports import import_people

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
ALICE = make_id_number("440604", date(1990, 5, 17), 21)
BOB = make_id_number("350521", date(1957, 6, 1), 31)
WRONG_CHECK = ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")
PASSWORD = "a-long-teller-password"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


@pytest.fixture
def api(app: Flask) -> Any:
    db = engine_of(app).db
    tokens = {
        "app": create_token(db, "app", ["channel"]),
        "tax": create_token(db, "tax", ["tax"]),
        "board": create_token(db, "board", ["read"]),
        "factory": create_token(db, "factory", ["factory"]),
        "importer": create_token(db, "importer", ["import"]),
    }
    client = app.test_client()

    def call(method: str, path: str, who: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[who]}", **kwargs.pop("headers", {})}
        return client.open(f"/api/v1{path}", method=method, json=body, headers=headers, **kwargs)

    return call


def no_full_number(text: str, *numbers: str) -> None:
    for number in numbers:
        assert number not in text, text[:500]
        assert number[:17] not in text, text[:500]


def test_a_persons_cards_and_years_are_asked_for_in_a_post_body(app: Flask, api: Any) -> None:
    import_people(
        engine_of(app),
        domain_of(app),
        [(1, {"id_number": BOB, "name": "张三", "region": "huian"})],
        actor="t",
    )
    applied = api(
        "POST",
        "/cards",
        "app",
        {"id_number": BOB, "channel": "counter", "bank": "qzccb", "region_code": "350521"},
    )
    assert applied.status_code == 201, applied.get_json()
    cards = api("POST", "/people/cards", "board", {"id_number": BOB})
    assert cards.status_code == 200
    assert cards.get_json()["id_number_masked"] == mask_id_number(BOB)
    assert [c["id_number_masked"] for c in cards.get_json()["cards"]] == [mask_id_number(BOB)]
    years = api("POST", "/people/enrollments", "tax", {"id_number": BOB})
    assert years.status_code == 200 and years.get_json()["id_number_masked"] == mask_id_number(BOB)
    for answer in (applied, cards, years):
        no_full_number(answer.get_data(as_text=True), BOB)
    # the URLs that carried the number are gone, and their 404 does not echo it
    for path in (f"/people/{BOB}/cards", f"/people/{BOB}/enrollments"):
        gone = api("GET", path, "board")
        assert gone.status_code == 404 and gone.get_json()["code"] == "not_found"
        no_full_number(gone.get_data(as_text=True), BOB)
    assert (
        "/people/{id_number}/cards" not in api("GET", "/openapi.json", "board").get_json()["paths"]
    )


@pytest.mark.parametrize(
    ("method", "path", "who", "body"),
    [
        ("GET", f"/cards/{ALICE}", "board", None),
        ("GET", f"/registrations/{ALICE}", "board", None),
        ("GET", f"/processes/{ALICE}/counts", "board", None),
        ("POST", "/people/cards", "board", {"id_number": WRONG_CHECK}),
        ("POST", "/people/cards", "board", {"id_number": ALICE, ALICE: 1}),
        ("POST", "/people/enrollments", "app", {"id_number": ALICE + "1"}),
        ("POST", "/payments", "app", {"id_number": ALICE, "amount": "360"}),
        ("POST", "/payments", "tax", {"id_number": ALICE, "amount": ALICE}),
        ("POST", "/payments", "app", {"id_number": ALICE, "amount": "360", "paid_at": ALICE}),
        (
            "POST",
            "/payments",
            "app",
            {"id_number": ALICE, "amount": "360", "payer_kind": "family", "payer_id_number": BOB},
        ),
        ("POST", "/enrollments", "app", {"id_number": ALICE, "policy": "huian-2023"}),
        ("POST", "/enrollments", "app", {"id_number": ALICE, "policy": ALICE}),
        ("POST", "/cards", "app", {"id_number": ALICE, "channel": ALICE, "bank": "icbc"}),
        ("POST", "/cards/1/events", "factory", {"event": "produce", "data": {ALICE: ALICE}}),
        ("POST", "/registrations", "app", {"id_number": ALICE, "name": ALICE, "region": ALICE}),
        (
            "POST",
            "/imports/people",
            "importer",
            {"rows": [{"id_number": ALICE, "name": "张三", "region": "atlantis"}]},
        ),
    ],
)
def test_no_error_body_echoes_a_full_id_number(
    app: Flask, api: Any, method: str, path: str, who: str, body: Any
) -> None:
    answer = api(method, path, who, body)
    assert 400 <= answer.status_code < 500 or path == "/imports/people", answer.get_json()
    no_full_number(answer.get_data(as_text=True), ALICE, BOB, WRONG_CHECK)


def test_a_known_card_answers_events_without_echoing_the_data(app: Flask, api: Any) -> None:
    card = apply_for_card(
        engine_of(app),
        domain_of(app).regions,
        id_number=ALICE,
        channel="online",
        bank="icbc",
        region_code="440604",
        actor="t",
    )
    for data in ({ALICE: 1}, {"batch": ALICE}, {"presented_id_number": ALICE}):
        refused = api(
            "POST",
            f"/cards/{card.instance_id}/events",
            "factory",
            {"event": "produce", "data": data},
        )
        assert refused.status_code == 422, refused.get_json()
        no_full_number(refused.get_data(as_text=True), ALICE)


# -- logs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            f"GET /api/v1/people/{ALICE}/cards HTTP/1.1",
            f"GET /api/v1/people/{mask_id_number(ALICE)}/cards HTTP/1.1",
        ),
        (f"身份证{ALICE}的卡", f"身份证{mask_id_number(ALICE)}的卡"),
        (f"key=44:{ALICE}", f"key=44:{mask_id_number(ALICE)}"),
        (f"id_{ALICE}_x", f"id_{mask_id_number(ALICE)}_x"),
        (f"ID{ALICE}abc", f"ID{mask_id_number(ALICE)}abc"),
        ("11010519491231002x", "110105********002X"),  # a lower-case check character
        (WRONG_CHECK, mask_id_number(WRONG_CHECK)),  # a typo'd number is personal data too
        ("1234567890123456789", "1234567890123456789"),  # 19 digits: not an ID number
        ("12345678901234567", "12345678901234567"),  # 17 digits
        (
            "amount 360.00 at 2022-10-10T10:00:00+08:00",
            "amount 360.00 at 2022-10-10T10:00:00+08:00",
        ),
    ],
)
def test_what_looks_like_an_id_number_is_masked(text: str, masked: str) -> None:
    assert log_masking.mask_text(text) == masked


def make_record(msg: str, *args: Any, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("werkzeug", logging.INFO, __file__, 1, msg, args, exc_info)


def test_a_record_is_masked_in_its_message_its_args_its_exception_and_its_stack() -> None:
    access = make_record('%s - - "%s" %s', "127.0.0.1", f"GET /people/{ALICE}/cards HTTP/1.1", 404)
    log_masking.mask_record(access)
    assert access.getMessage() == (
        f'127.0.0.1 - - "GET /people/{mask_id_number(ALICE)}/cards HTTP/1.1" 404'
    )
    plain = make_record("%s ok", "200")
    log_masking.mask_record(plain)
    assert (plain.msg, plain.args) == ("%s ok", ("200",))  # nothing to mask: kept as it was
    try:
        raise ValueError(f"bad {ALICE}")
    except ValueError as exc:
        failed = make_record("failed for %r", {"id_number": ALICE}, exc=exc)
    failed.stack_info = f"Stack (most recent call last):\n  lookup({ALICE!r})"
    log_masking.mask_record(failed)
    text = logging.Formatter().format(failed)
    assert mask_id_number(ALICE) in text
    no_full_number(text, ALICE)


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """Logging without the masking, as a process starts; put back as it was afterwards."""
    factory = logging.getLogRecordFactory()
    loggers = [logging.getLogger(n) for n in log_masking.LOGGERS]
    handlers = list(logging.getLogger().handlers)
    logging.setLogRecordFactory(logging.LogRecord)
    for target in [*loggers, *handlers]:
        target.removeFilter(log_masking.FILTER)
    yield
    logging.setLogRecordFactory(factory)
    for target in [*loggers, *handlers]:
        if log_masking.FILTER not in target.filters:
            target.addFilter(log_masking.FILTER)


def test_the_app_factory_masks_every_log_record(fresh_logging: None, sqlite_url: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("shebao.test_personal_data")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("before: %s", "nothing to hide")
        application = create_app({"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True})
        engine_of(application).db.dispose()
        assert getattr(logging.getLogRecordFactory(), "shebao_masking", False)
        for name in log_masking.LOGGERS:
            assert log_masking.FILTER in logging.getLogger(name).filters
        logger.warning("applied for %s", ALICE)
        logger.error(f"refused {ALICE} at the counter")
        werkzeug = make_record("%s", f"POST /people/{ALICE}")
        assert log_masking.FILTER.filter(werkzeug)
        log_masking.install()  # again: nothing doubles
        assert sum(f is log_masking.FILTER for f in logging.getLogger().filters) == 1
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    written = stream.getvalue()
    assert mask_id_number(ALICE) in written and "nothing to hide" in written
    no_full_number(written, ALICE)
    assert mask_id_number(ALICE) in werkzeug.getMessage()


# -- pages -------------------------------------------------------------------------------------


def test_a_refused_task_form_gives_the_typed_id_number_back_in_its_field_only(app: Flask) -> None:
    engine = engine_of(app)
    card = counter_card(app, ALICE, events=("produce", "notify_holder"))
    [task] = queries.tasks_of(engine.db, card.instance_id, "open")
    create_user(engine.db, "wang", PASSWORD, "bank_teller", "icbc")
    client: FlaskClient = app.test_client()
    logged_in = client.post("/login", data={"username": "wang", "password": PASSWORD})
    assert logged_in.status_code == 302, logged_in.get_data(as_text=True)[:300]
    for typed in (BOB, WRONG_CHECK):
        page = client.post(f"/inbox/{task['id']}/complete", data={"presented_id_number": typed})
        assert page.status_code == 422
        document = lxml_html.document_fromstring(page.get_data(as_text=True))
        [field] = document.xpath("//input[@name='presented_id_number']")
        assert field.get("value") == typed  # the teller's own typing, to be corrected
        field.drop_tree()
        no_full_number(lxml_html.tostring(document, encoding="unicode"), typed, ALICE)
    row = queries.instance(engine.db, card.instance_id)
    assert row is not None and row["state"] == "awaiting_activation"


# -- the scan itself ---------------------------------------------------------------------------


def test_the_session_scan_finds_a_full_id_number_in_a_response_or_a_log_line(
    personal_data_scan: Any,
) -> None:
    leaky = Flask("leaky")
    leaky.add_url_rule("/echo", "echo", lambda: {"id_number": ALICE})
    leaky.add_url_rule("/masked", "masked", lambda: {"id_number": mask_id_number(ALICE)})
    with personal_data_scan.expecting_a_leak() as caught:
        leaky.test_client().get("/masked")
        personal_data_scan.check(f"typo {WRONG_CHECK} is not a valid number", "a log line")
        personal_data_scan.check(f"seconds_sum 0.{BOB} and 1.{ALICE}e+09", "a metrics scrape")
    assert caught == []
    with personal_data_scan.expecting_a_leak() as caught:
        leaky.test_client().get("/echo")
        personal_data_scan.check(f"someone logged {BOB}", "a log line")
    assert len(caught) == 2
    assert "response to GET /echo (200)" in caught[0] and "test_the_session_scan" in caught[0]
    assert "a log line" in caught[1]
    no_full_number("\n".join(caught), ALICE, BOB)  # the report masks what it found

    # a refused form may give the number a POST sent back in the field it was sent in, only there
    refilling = Flask("refilling")
    refilling.add_url_rule(
        "/form",
        "form",
        lambda: f'<input name="n" value="{request.form["n"]}"><p>{request.form["say"]}</p>',
        methods=["POST"],
    )
    with personal_data_scan.expecting_a_leak() as caught:
        refilling.test_client().post("/form", data={"n": ALICE, "say": "ok"})
    assert caught == []
    with personal_data_scan.expecting_a_leak() as caught:
        refilling.test_client().post("/form", data={"n": ALICE, "say": ALICE})
        refilling.test_client().post("/form", data={"n": BOB, "say": "ok", "m": ALICE})
    assert len(caught) == 1 and "POST /form" in caught[0]


def test_the_login_redirect_never_carries_an_id_number(app: Flask) -> None:
    """A page asked for without a session sends the browser to the login page with the page to
    come back to; an ID number in that page's address (a search typed into a URL, a pasted
    link) is left out, so it reaches no second URL, access log or browser history."""
    person = make_id_number("440604", date(1990, 5, 17), 21)
    client = app.test_client()
    for path in (f"/inbox/?q={person}", f"/inbox/{person}", f"/processes/?x=1&id={person}"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert person not in answer.location, path
    plain = client.get("/inbox/?kind=activate_card")
    assert "kind%3Dactivate_card" in plain.location or "kind=activate_card" in plain.location
