"""Requests about one person, all at once, with no idempotency key to tie them together: card
replacements, people imports, registrations and card applications. Each path takes its business
key's lock (the person's before the card's) before the reads that decide, so they run one after
another as they would in sequence: one usable card, one record, one extra-cards review, the others
refused or unchanged. Only PostgreSQL runs them concurrently (SQLite has a single writer), but both
must answer the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main
from workflows.identity import make_id_number

NOW = datetime(2022, 1, 10, 2, tzinfo=UTC)  # Foshan's 2022 payment period is open
PERSON = make_id_number("440604", date(1980, 1, 1), 901)
REGION_CODE = "440604"
CARD_KEY = f"{REGION_CODE[:2]}:{PERSON}"

Call = Callable[[FlaskClient], Any]


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW))


def all_at_once(app: Flask, calls: Sequence[Call]) -> list[tuple[int, dict[str, Any]]]:
    """Each call from its own thread and test client (its own connection and transaction),
    released together."""
    start = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def caller(i: int) -> None:
        client = app.test_client()
        try:
            start.wait()
            answer = calls[i](client)
            answers[i] = (answer.status_code, answer.get_json())
        except BaseException as exc:  # reported below
            answers[i] = exc

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [a for a in answers if not isinstance(a, tuple)]
    assert not errors, errors
    return answers


def in_states_tagged(app: Flask, process: str, key: str, tag: str) -> list[int]:
    tagged = engine_of(app).definition(process).tagged(tag)
    return [
        i
        for i, state in queries.by_business_key(engine_of(app).db, process, key)
        if state in tagged
    ]


def bearer(app: Flask, name: str, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(engine_of(app).db, name, [scope])}"}


def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> Call:
    return lambda client: client.post(path, json=body, headers=headers)


def import_row(**card: str) -> dict[str, Any]:
    return {"rows": [{"id_number": PERSON, "name": "李四", "region": "foshan", **card}]}


ROUNDS = 4
"""People raced for in one test: one race may happen to run in sequence, four rarely all do."""


def replacements(
    app: Flask, channel: str, person: str
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """``person``'s active card (fast issuance), then six replacements (换领) of it at once by
    ``channel``: the first card's id and the six answers."""
    counter = bearer(app, f"counter-{person}", "channel")
    body = {"id_number": person, "channel": "fast_issuance", "bank": "icbc"}
    body["region_code"] = REGION_CODE
    first = app.test_client().post("/api/v1/cards", json=body, headers=counter)
    assert first.status_code == 201, first.get_json()
    replacing = {**body, "channel": channel, "bank": "boc", "replacement_reason": "damaged"}
    answers = all_at_once(app, [post("/api/v1/cards", replacing, counter)] * 6)
    assert all(s in (201, 422) for s, _ in answers), answers
    assert all(b["code"] == "card_application_refused" for s, b in answers if s == 422), answers
    return int(first.get_json()["card"]["id"]), answers


def test_concurrent_replacements_at_the_counter_accept_one(app: Flask) -> None:
    """D1: six counter replacements of one active card at once: one is accepted (the old card
    works until the new one is activated); the five others are refused, as in sequence."""
    for n in range(ROUNDS):
        person = make_id_number("440604", date(1970, 1, 1 + n), 701)
        old, answers = replacements(app, "counter", person)
        assert sorted(s for s, _ in answers) == [201] + [422] * 5, (n, answers)
        [new] = [b["card"]["id"] for s, b in answers if s == 201]
        key = f"{REGION_CODE[:2]}:{person}"
        assert sorted(in_states_tagged(app, "card", key, "usable")) == [old, new]


def test_concurrent_fast_replacements_leave_one_usable_card(app: Flask) -> None:
    """D1: six on-the-spot replacements at once: each accepted one replaced the card active
    when it ran and retired it, as in sequence; never two active cards."""
    for n in range(ROUNDS):
        person = make_id_number("440604", date(1971, 1, 1 + n), 701)
        _, answers = replacements(app, "fast_issuance", person)
        made = [b["card"]["id"] for s, b in answers if s == 201]
        assert made, answers
        key = f"{REGION_CODE[:2]}:{person}"
        [usable] = in_states_tagged(app, "card", key, "usable")
        assert usable == max(made)
        cards = queries.by_business_key(engine_of(app).db, "card", key)
        assert len(cards) == 1 + len(made)  # a refused replacement leaves nothing


def test_concurrent_imports_of_one_person_make_one_record(app: Flask) -> None:
    """D2: the same person imported three times at once: one record, the other rows unchanged."""
    importer = bearer(app, "importer", "import")

    def bring_in(c: FlaskClient) -> Any:
        return c.post("/api/v1/imports/people", json=import_row(), headers=importer)

    answers = all_at_once(app, [bring_in] * 3)
    assert [s for s, _ in answers] == [200] * 3, answers
    assert sorted((b["applied"], b["unchanged"], b["rejected"]) for _, b in answers) == [
        (0, 1, []),
        (0, 1, []),
        (1, 0, []),
    ]
    assert len(in_states_tagged(app, "person", PERSON, "live")) == 1


def test_imports_racing_registrations_make_one_record(app: Flask) -> None:
    """D2: imports of a person and their registrations at once: one live record, whichever came
    first; the others are refused (a record exists) or report the person as they are."""
    importer = bearer(app, "importer", "import")
    counter = bearer(app, "counter", "channel")
    registration = {"id_number": PERSON, "name": "李四", "region": "foshan"}

    def bring_in(c: FlaskClient) -> Any:
        return c.post("/api/v1/imports/people", json=import_row(), headers=importer)

    def register(c: FlaskClient) -> Any:
        return c.post("/api/v1/registrations", json=registration, headers=counter)

    answers = all_at_once(app, [bring_in, register, bring_in, register])
    assert all(s in (200, 201, 409, 422) for s, _ in answers), answers
    assert len(in_states_tagged(app, "person", PERSON, "live")) == 1
    made = [s for s, b in answers if s == 201 or (s == 200 and b["applied"] == 1)]
    assert len(made) == 1, answers


def test_imported_cards_racing_applications_open_one_review(app: Flask) -> None:
    """D2: three imports of the person's (different) active cards and two applications at once:
    one extra-cards review, at most one application accepted, one record."""
    importer = bearer(app, "importer", "import")
    counter = bearer(app, "counter", "channel")
    application = {"id_number": PERSON, "channel": "counter", "bank": "icbc"}
    application["region_code"] = REGION_CODE

    def bring_in(number: str) -> Call:
        row = import_row(card_number=number, card_bank="boc", card_state="active")
        return lambda c: c.post("/api/v1/imports/people", json=row, headers=importer)

    def apply(c: FlaskClient) -> Any:
        return c.post("/api/v1/cards", json=application, headers=counter)

    calls = [bring_in("6217001"), apply, bring_in("6217002"), apply, bring_in("6217003")]
    answers = all_at_once(app, calls)
    imports = [b for s, b in (answers[0], answers[2], answers[4])]
    assert all(b["rejected"] == [] for b in imports), imports
    applied = [s for s, _ in (answers[1], answers[3])]
    assert sorted(applied) in ([201, 422], [422, 422]), answers
    assert len(in_states_tagged(app, "card_review", CARD_KEY, "live")) == 1
    assert sum(b["reviews_opened"] for b in imports) == 1
    assert len(in_states_tagged(app, "person", PERSON, "live")) == 1
    usable = in_states_tagged(app, "card", CARD_KEY, "usable")
    assert len(usable) == 3 + applied.count(201)


def test_an_imported_card_racing_an_application_is_one_card_or_reviewed(app: Flask) -> None:
    """Import vs ``POST /cards``: a card imported while the person applies for one ends as in
    sequence: the application refused (the imported card is usable), or the imported card beside
    the application's under an extra-cards review; never two usable cards unreviewed."""
    importer = bearer(app, "importer", "import")
    counter = bearer(app, "counter", "channel")
    for n in range(10):
        person = make_id_number("440604", date(1990, 1, 1 + n), 801)
        key = f"{REGION_CODE[:2]}:{person}"
        row = {"id_number": person, "name": "王五", "region": "foshan", "card_number": f"62{n}"}
        row.update(card_bank="boc", card_state="active")
        application = {"id_number": person, "channel": "counter", "bank": "icbc"}
        application["region_code"] = REGION_CODE
        on_books = {k: v for k, v in row.items() if not k.startswith("card_")}
        made = app.test_client().post(
            "/api/v1/imports/people", json={"rows": [on_books]}, headers=importer
        )
        assert made.get_json()["applied"] == 1, made.get_json()  # the card row alone then races
        imported, applied = all_at_once(
            app,
            [post("/api/v1/imports/people", {"rows": [row]}, importer)]
            + [post("/api/v1/cards", application, counter)],
        )
        assert imported[0] == 200 and imported[1]["rejected"] == [], imported
        assert applied[0] in (201, 422), applied
        usable = in_states_tagged(app, "card", key, "usable")
        reviews = in_states_tagged(app, "card_review", key, "live")
        if applied[0] == 201:
            assert (len(usable), len(reviews)) == (2, 1), (n, usable, reviews)
        else:
            assert (len(usable), len(reviews)) == (1, 0), (n, usable, reviews)


def test_one_card_number_imported_for_two_people_at_once_is_theirs_once(app: Flask) -> None:
    """A card number is one card: imported for two people at once, it goes to one of them; the
    other row is rejected as in sequence (the number belongs to another person), not a failure
    of the whole import."""
    importer = bearer(app, "importer", "import")
    for n in range(ROUNDS):
        rows = [
            {"id_number": make_id_number("440604", date(1960, 1, 1 + n), seq), "name": "赵六"}
            | {"region": "foshan", "card_number": f"6299{n}", "card_bank": "boc"}
            | {"card_state": "active"}
            for seq in (601, 602)
        ]
        answers = all_at_once(
            app, [post("/api/v1/imports/people", {"rows": [row]}, importer) for row in rows]
        )
        assert [s for s, _ in answers] == [200, 200], answers
        rejected = [r for _, b in answers for r in b["rejected"]]
        assert len(rejected) == 1, answers
        keys = [f"{REGION_CODE[:2]}:{row['id_number']}" for row in rows]
        cards = [c for key in keys for c in in_states_tagged(app, "card", key, "usable")]
        assert len(cards) == 1, cards


def test_a_review_resolved_while_a_card_is_imported_leaves_one_card_or_a_review(
    app: Flask,
) -> None:
    """A clerk resolves a person's extra-cards review (keeping one card) while another card of
    theirs is imported: as in sequence, the imported card is either cancelled with the other
    extra ones (the import ran first) or opens a new review beside the kept card (the
    resolution ran first); never two usable cards with no review open."""
    importer = bearer(app, "importer", "import")
    clerk = bearer(app, "clerk", "clerk:foshan")
    for n in range(ROUNDS):
        person = make_id_number("440604", date(1985, 1, 1 + n), 501)
        key = f"{REGION_CODE[:2]}:{person}"

        def card_row(number: str, person: str = person) -> dict[str, Any]:
            return {"rows": [{"id_number": person, "name": "周七", "region": "foshan"}
                             | {"card_number": number, "card_bank": "boc"}
                             | {"card_state": "active"}]}  # fmt: skip

        client = app.test_client()
        for number in (f"6301{n}", f"6302{n}"):
            made = client.post("/api/v1/imports/people", json=card_row(number), headers=importer)
            assert made.get_json()["rejected"] == [], made.get_json()
        [review] = in_states_tagged(app, "card_review", key, "live")
        [task] = [
            t["id"]
            for t in client.get("/api/v1/tasks", headers=clerk).get_json()["tasks"]
            if t["instance_id"] == review
        ]
        keep = min(in_states_tagged(app, "card", key, "usable"))
        resolve = {"data": {"keep_card_id": keep}}
        resolved, imported = all_at_once(
            app,
            [
                post(f"/api/v1/tasks/{task}/complete", resolve, clerk),
                post("/api/v1/imports/people", card_row(f"6303{n}"), importer),
            ],
        )
        assert resolved[0] == 200, resolved
        assert imported[0] == 200 and imported[1]["rejected"] == [], imported
        usable = in_states_tagged(app, "card", key, "usable")
        reviews = in_states_tagged(app, "card_review", key, "live")
        assert keep in usable, (n, usable)
        assert (len(usable), len(reviews)) in ((1, 0), (2, 1)), (n, usable, reviews)


class OutsideWriter:
    """A transaction of PostgreSQL's own that writes a card number's import key without the
    service's locks (a worker of an older release during a rolling upgrade): uncommitted, it
    holds the key's unique index entry, and a row importing the same number waits on it."""

    def __init__(self, app: Flask, number: str, owner: str) -> None:
        url = engine_of(app).db.url.set(drivername="postgresql").render_as_string(False)
        self.conn = psycopg.connect(url)
        self.conn.execute(
            "INSERT INTO wf_idempotency_key (scope, key, request_hash, response, created_at) "
            "VALUES ('import:card', %s, '', %s, now())",
            (number, Jsonb({"instance_id": 0, "id_number": owner})),
        )

    def commit_once_waited_on(self) -> None:
        """Commit as soon as another session waits on this transaction."""
        pid = self.conn.info.backend_pid
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
        waiting += " AND transactionid = (SELECT backend_xid FROM pg_stat_activity WHERE pid = %s)"
        deadline = time.monotonic() + 30
        while self.conn.execute(waiting, (pid,)).fetchone() == (0,):
            assert time.monotonic() < deadline, "the import never reached the key's write"
            time.sleep(0.01)
        self.conn.commit()
        self.conn.close()


@pytest.mark.parametrize("door", ["api", "cli"])
def test_a_card_number_written_outside_the_locks_is_a_rejected_row(
    app: Flask, door: str, tmp_path: Path
) -> None:
    """A card number whose import key another writer stores while a row imports it (the unique
    index, not the read, finds the clash): the row is rejected, as in sequence, with the number
    masked, and nothing of it is written; not a unique-violation failure of the whole import
    (the API's 500, the CLI's traceback)."""
    if engine_of(app).dialect != "postgresql":
        pytest.skip("SQLite has a single writer: no one writes between the read and the insert")
    number, other = "6217009", make_id_number("440604", date(1979, 2, 2), 411)
    row = {"id_number": PERSON, "name": "李四", "region": "foshan", "card_number": number}
    row.update(card_bank="boc", card_state="active")
    outside = OutsideWriter(app, number, other)
    answer: list[Any] = []

    def bring_in() -> None:
        try:
            if door == "api":
                importer = bearer(app, "importer", "import")
                got = app.test_client().post(
                    "/api/v1/imports/people", json={"rows": [row]}, headers=importer
                )
                answer.append((got.status_code, got.get_json()))
            else:
                path = tmp_path / "people.csv"
                path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
                runner = app.test_cli_runner()
                got = runner.invoke(main, ["import", "people", str(path)], catch_exceptions=False)
                answer.append((got.exit_code, got.output))
        except BaseException as exc:  # reported below
            answer.append(exc)

    thread = threading.Thread(target=bring_in)
    thread.start()
    outside.commit_once_waited_on()
    thread.join(timeout=60)
    [got] = answer
    assert isinstance(got, tuple), got  # an answer, not the unique violation raised
    status, said = got
    text = str(said)
    if door == "api":
        assert status == 200 and said["applied"] == 0, said
        [rejected] = said["rejected"]
        assert rejected["line"] == 1
        assert "62***09 已属于另一居民" in rejected["reason_zh"]
        assert "card 62***09 belongs to another person" in rejected["reason"]
    else:
        assert status == 1, said  # a row was rejected
        assert "applied: 0  unchanged: 0  rejected: 1" in said
        assert "line 2: 社保卡号 62***09 已属于另一居民 / card 62***09 belongs to another" in said
    assert number not in text and PERSON not in text and other not in text
    # nothing of the row: no record, no card
    assert in_states_tagged(app, "person", PERSON, "live") == []
    assert queries.by_business_key(engine_of(app).db, "card", CARD_KEY) == []
