"""The JSON API as outside systems use it: tokens and scopes, idempotency, errors, the queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import queries
from engine.clock import SimulatedClock
from web.api_tokens import create_token
from web.app import create_app, engine_of
from workflows.identity import make_id_number
from workflows.payments import Person, open_renewals
from workflows.policy import load_policies

ALICE = make_id_number("440604", date(1990, 5, 17), 21)
BOB = make_id_number("350521", date(1957, 6, 1), 31)


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    clock = SimulatedClock(datetime(2022, 1, 10, 2, tzinfo=UTC))
    application = create_app(
        {"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True, "WTF_CSRF_ENABLED": False}, clock=clock
    )
    yield application
    engine_of(application).db.dispose()


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    db = engine_of(app).db
    return {
        name: create_token(db, name, scopes)
        for name, scopes in {
            "app": ["channel"],
            "factory": ["factory"],
            "icbc": ["bank:icbc"],
            "cmb": ["bank:cmb"],
            "tax": ["tax"],
            "huian-clerks": ["clerk:huian"],
            "board": ["read"],
        }.items()
    }


class Api:
    def __init__(self, client: FlaskClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def call(
        self,
        method: str,
        path: str,
        who: str | None = None,
        json: Any = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = kwargs.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        if key:
            headers["Idempotency-Key"] = key
        return self.client.open(
            f"/api/v1{path}", method=method, json=json, headers=headers, **kwargs
        )


@pytest.fixture
def api(app: Flask, tokens: dict[str, str]) -> Api:
    return Api(app.test_client(), tokens)


def applied_card(api: Api, bank: str = "icbc") -> int:
    response = api.call(
        "POST",
        "/cards",
        "app",
        {"id_number": ALICE, "channel": "online", "bank": bank, "region_code": "440604"},
    )
    assert response.status_code == 201, response.json
    return int(response.json["card"]["id"])


def test_no_token_is_401_and_a_wrong_scope_is_403(api: Api) -> None:
    body = {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"}
    assert api.call("POST", "/cards", None, body).status_code == 401
    assert (
        api.call("POST", "/cards", None, body, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    refused = api.call("POST", "/cards", "icbc", body)
    assert refused.status_code == 403 and refused.json["code"] == "forbidden"
    assert refused.json["message_zh"] and refused.json["message_en"]
    assert api.call("GET", "/people/" + ALICE + "/cards", "factory").status_code == 403
    assert api.call("GET", "/tasks", "app").status_code == 403


def test_card_lifecycle_through_the_api_with_bank_scopes(api: Api) -> None:
    card = applied_card(api)
    assert (
        api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"}).json["to_state"]
        == "produced"
    )
    assert (
        api.call("POST", f"/cards/{card}/events", "cmb", {"event": "notify_holder"}).status_code
        == 403
    )  # another bank's card
    assert api.call("GET", f"/cards/{card}", "cmb").status_code == 403
    assert (
        api.call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"}).status_code
        == 200
    )
    wrong = api.call(
        "POST",
        f"/cards/{card}/events",
        "icbc",
        {"event": "activate", "data": {"presented_id_number": BOB}},
    )
    assert wrong.status_code == 409 and "not the one used to apply" in wrong.json["message_en"]
    ok = api.call(
        "POST",
        f"/cards/{card}/events",
        "icbc",
        {"event": "activate", "data": {"presented_id_number": ALICE}},
    )
    assert ok.json["to_state"] == "active"
    view = api.call("GET", f"/cards/{card}", "app").json
    assert view["state"] == "active" and view["state_label"]["zh"] == "正常"
    assert view["id_number_masked"] == ALICE[:6] + "********" + ALICE[-4:]
    assert [s["done_at"] is not None for s in view["progress"]] == [True, True, True, True]


def test_production_progress_query(api: Api) -> None:
    # foshan...txt:34 制卡进度查询
    card = applied_card(api)
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    progress = api.call("GET", f"/cards/{card}", "app").json["progress"]
    assert [(p["step"], p["done_at"] is not None) for p in progress] == [
        ("applied", True),
        ("produced", True),
        ("notified", False),
        ("activated", False),
    ]
    assert progress[1]["label"] == {"zh": "已制卡", "en": "Produced"}


def test_a_retried_event_with_the_same_key_writes_one_history_row(app: Flask, api: Api) -> None:
    card = applied_card(api)
    first = api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"}, key="m-1")
    again = api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"}, key="m-1")
    assert first.status_code == again.status_code == 200
    assert {k: v for k, v in first.json.items() if k != "replayed"} == {
        k: v for k, v in again.json.items() if k != "replayed"
    }
    assert again.json["replayed"] is True
    produced = [h for h in queries.history(engine_of(app).db, card) if h["event"] == "produce"]
    assert len(produced) == 1
    other = api.call(
        "POST",
        f"/cards/{card}/events",
        "factory",
        {"event": "produce", "data": {"batch": 2}},
        key="m-1",
    )
    assert other.status_code == 422 and other.json["code"] == "idempotency_conflict"


def test_a_retried_application_with_the_same_key_creates_one_card(app: Flask, api: Api) -> None:
    body = {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"}
    first = api.call("POST", "/cards", "app", body, key="apply-1")
    again = api.call("POST", "/cards", "app", body, key="apply-1")
    assert first.status_code == again.status_code == 201
    assert first.json["card"]["id"] == again.json["card"]["id"]
    assert queries.total_instances(engine_of(app).db) == 1
    # without the key, the second application is refused by one-person-one-card
    refused = api.call("POST", "/cards", "app", body)
    assert refused.status_code == 422 and "one person one card" in refused.json["message_en"]


def test_refused_event_is_409_with_the_events_allowed_now(api: Api) -> None:
    card = applied_card(api)
    refused = api.call(
        "POST",
        f"/cards/{card}/events",
        "icbc",
        {"event": "activate", "data": {"presented_id_number": ALICE}},
    )
    assert refused.status_code == 409
    assert refused.json["code"] == "event_not_allowed"
    assert refused.json["allowed"] == ["issue_on_the_spot", "produce", "cancel"]


@pytest.mark.parametrize(
    ("method", "path", "body", "raw", "status"),
    [
        (
            "POST",
            "/cards",
            {"id_number": "123", "channel": "online", "bank": "icbc", "region_code": "440604"},
            None,
            422,
        ),
        ("POST", "/cards", {"channel": "online"}, None, 422),
        ("POST", "/cards", None, b"{not json", 400),
        ("POST", "/cards", None, b"x" * 70_000, 413),
        ("GET", "/people/12345/cards", None, None, 422),
        ("GET", "/processes/atlantis/counts", None, None, 404),
        ("GET", "/cards/99999", None, None, 404),
        ("GET", "/cards/-1", None, None, 404),
        ("GET", "/no/such/route", None, None, 404),
    ],
)
def test_bad_requests_are_4xx_json(
    api: Api, method: str, path: str, body: Any, raw: bytes | None, status: int
) -> None:
    kwargs: dict[str, Any] = {}
    if raw is not None:
        kwargs = {"data": raw, "content_type": "application/json"}
    response = api.call(method, path, "app", body, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["code"] and response.json["message_en"] and response.json["message_zh"]


def test_paid_and_unpaid_years_with_amounts(app: Flask, api: Api) -> None:
    # foshan...txt:65 可查询全部、已缴清、未缴清的所属期限和金额
    engine = engine_of(app)
    policies = load_policies(app.config["SHEBAO_POLICIES"])
    open_renewals(engine, policies["huian-2023"], [Person(BOB, "huian", ("low_income",))])
    [(enrollment, _)] = queries.by_business_key(engine.db, "enrollment", f"{BOB}:huian-2023")
    unpaid = api.call("GET", f"/people/{BOB}/enrollments", "app").json
    assert unpaid["paid"] == [] and unpaid["unpaid"][0]["state"] == "renewal_pending"
    paid = api.call(
        "POST",
        f"/enrollments/{enrollment}/payments",
        "tax",
        {"amount": "108", "payer_kind": "family", "paid_at": "2022-10-09T10:00:00+08:00"},
    )
    assert paid.status_code == 200, paid.json
    assert paid.json["benefit_start"]["inpatient"] == "2023-01-01"
    after = api.call("GET", f"/people/{BOB}/enrollments", "tax").json
    assert after["unpaid"] == []
    assert (after["paid"][0]["amount_paid"], after["paid"][0]["year"]) == ("108", 2023)


def test_tax_deduction_events_and_scopes(app: Flask, api: Api) -> None:
    engine = engine_of(app)
    policies = load_policies(app.config["SHEBAO_POLICIES"])
    open_renewals(engine, policies["huian-2023"], [Person(BOB, "huian")])
    [(enrollment, _)] = queries.by_business_key(engine.db, "enrollment", f"{BOB}:huian-2023")
    assert (
        api.call(
            "POST", f"/enrollments/{enrollment}/events", "app", {"event": "deduct"}
        ).status_code
        == 403
    )
    assert (
        api.call("POST", f"/enrollments/{enrollment}/events", "tax", {"event": "lapse"}).status_code
        == 409
    )
    done = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "fail_deduction", "data": {"reason": "余额不足"}},
    )
    assert done.json["to_state"] == "deduction_failed"


def test_bank_tokens_list_and_complete_their_own_tasks(app: Flask, api: Api) -> None:
    card = applied_card(api, bank="icbc")
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api.call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    mine = api.call("GET", "/tasks", "icbc").json["tasks"]
    assert [(t["name"], t["scope"]) for t in mine] == [("activate_card", "icbc")]
    assert api.call("GET", "/tasks", "cmb").json["tasks"] == []
    task = mine[0]["id"]
    assert (
        api.call(
            "POST", f"/tasks/{task}/complete", "cmb", {"data": {"presented_id_number": ALICE}}
        ).status_code
        == 403
    )
    done = api.call(
        "POST", f"/tasks/{task}/complete", "icbc", {"data": {"presented_id_number": ALICE}}
    )
    assert done.status_code == 200 and done.json["to_state"] == "active"
    assert (
        api.call(
            "POST", f"/tasks/{task}/complete", "icbc", {"data": {"presented_id_number": ALICE}}
        ).status_code
        == 409
    )


def test_counts_and_the_openapi_description(api: Api) -> None:
    applied_card(api)
    counts = api.call("GET", "/processes/card/counts", "board").json
    assert counts["states"]["applied"] == 1 and counts["total"] == 1
    spec = api.call("GET", "/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    assert {
        "/cards",
        "/cards/{card_id}/events",
        "/people/{id_number}/enrollments",
        "/enrollments/{enrollment_id}/payments",
        "/tasks",
    } <= set(spec["paths"])
    body = spec["paths"]["/cards"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CardApplication"}
    assert "fast_issuance" in str(spec["components"]["schemas"]["CardApplication"])


@pytest.mark.parametrize(
    ("method", "path", "body", "who"),
    [
        (
            "POST",
            "/cards",
            {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"},
            "tax",
        ),
        ("GET", "/cards/{card}", None, "tax"),
        ("GET", "/cards/{card}", None, "cmb"),
        ("POST", "/cards/{card}/events", {"event": "produce"}, "app"),
        ("POST", "/cards/{card}/events", {"event": "notify_holder"}, "factory"),
        ("POST", "/cards/{card}/events", {"event": "cancel"}, "icbc"),
        ("GET", f"/people/{ALICE}/cards", None, "tax"),
        ("GET", f"/people/{BOB}/enrollments", None, "factory"),
        ("POST", "/enrollments/{enrollment}/payments", {"amount": "360"}, "factory"),
        ("POST", "/enrollments/{enrollment}/events", {"event": "deduct"}, "app"),
        ("POST", "/enrollments/{enrollment}/events", {"event": "request_refund"}, "tax"),
        ("GET", "/tasks", None, "tax"),
        ("POST", "/tasks/{task}/complete", {"data": {}}, "cmb"),
        ("POST", "/tasks/{task}/complete", {"data": {}}, "huian-clerks"),
    ],
)
def test_every_endpoint_refuses_a_token_outside_its_scope(
    app: Flask, api: Api, method: str, path: str, body: Any, who: str
) -> None:
    card = applied_card(api)
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api.call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    [task] = queries.tasks_of(engine_of(app).db, card, "open")
    engine = engine_of(app)
    policies = load_policies(app.config["SHEBAO_POLICIES"])
    open_renewals(engine, policies["huian-2023"], [Person(BOB, "huian")])
    [(enrollment, _)] = queries.by_business_key(engine.db, "enrollment", f"{BOB}:huian-2023")
    url = path.format(card=card, enrollment=enrollment, task=task["id"])
    before = [(h["event"], h["to_state"]) for h in queries.history(engine.db, card)]
    response = api.call(method, url, who, body)
    assert response.status_code == 403, response.json
    assert response.json["code"] == "forbidden"
    assert [(h["event"], h["to_state"]) for h in queries.history(engine.db, card)] == before


def test_a_changed_policy_file_is_read_before_the_next_request(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Foshan extended 2022's period: web workers answer from the new file without a restart."""
    import shutil

    from web.config import PROJECT_ROOT

    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "definitions" / "policies", folder)
    clock = SimulatedClock(datetime(2022, 3, 5, 2, tzinfo=UTC))
    app = create_app(
        {"SHEBAO_DATABASE_URL": sqlite_url, "SHEBAO_POLICIES": str(folder), "TESTING": True},
        clock=clock,
    )
    engine = engine_of(app)
    token = create_token(engine.db, "tax", ["tax"])
    person = make_id_number("440604", date(1980, 2, 2), 7)
    open_renewals(engine, load_policies(folder)["foshan-2022"], [Person(person, "foshan")])
    [(enrollment, _)] = queries.by_business_key(engine.db, "enrollment", f"{person}:foshan-2022")
    client = app.test_client()

    def pay() -> Any:
        return client.post(
            f"/api/v1/enrollments/{enrollment}/payments",
            json={"amount": "380", "paid_at": "2022-03-05T10:00:00+08:00"},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert pay().status_code == 422  # after 2022-02-28: refused
    path = folder / "foshan-2022.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("end: 2022-02-28", "end: 2022-03-31"),
        encoding="utf-8",
    )
    paid = pay()
    assert paid.status_code == 200, paid.json
    assert paid.json["transition"]["to_state"] == "deducted"
    engine.db.dispose()
