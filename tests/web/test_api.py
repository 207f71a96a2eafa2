"""The JSON API as outside systems use it: tokens and scopes, idempotency, errors, the queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for
from support import MakeApp

from engine import queries
from engine.clock import SimulatedClock
from engine.timers import TimerSweep
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.auth import create_user
from web.extensions import domain_of
from workflows.identity import make_id_number, mask_id_number
from workflows.imports import import_people
from workflows.payments import open_renewals

ALICE = make_id_number("440604", date(1990, 5, 17), 21)
BOB = make_id_number("350521", date(1957, 6, 1), 31)  # 65 in 2022: low-income reduction applies
CAROL = make_id_number("350521", date(1992, 2, 2), 41)
DAVE = make_id_number("350521", date(1988, 8, 8), 51)
ERIN = make_id_number("350521", date(1975, 7, 7), 61)
# 2022-10-10 10:00 in Shanghai: huian-2023's payment period (2022-09-01 to 2022-12-31) is open
NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def app(make_app: MakeApp, clock: SimulatedClock) -> Flask:
    return make_app(clock)


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
            "foshan-clerks": ["clerk:foshan"],
            "board": ["read"],
            "importer": ["import"],
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


def insured(app: Flask, id_number: str, region: str = "huian", categories: str = "") -> None:
    """Bring a person onto the books as insured (as a province's existing records arrive)."""
    row = {"id_number": id_number, "name": "张三", "region": region}
    if categories:
        row["reduction_categories"] = categories
    report = import_people(engine_of(app), domain_of(app), [(1, row)], actor="t")
    assert report.rejected == [], report.as_dict()


def renewed(app: Flask, id_number: str, policy_id: str = "huian-2023", **facts: Any) -> int:
    """An insured person's year of ``policy_id``: its id. Imported while that year's payment
    period is open, the import opened it (``registered``, as an approved registration's year);
    otherwise it is renewed by default (默认续保, ``renewal_pending``)."""
    policy = domain_of(app).regions.policy(policy_id)
    assert policy is not None
    region = policy.region.key
    insured(app, id_number, region, "|".join(facts.get("reduction_categories", ())))
    engine = engine_of(app)
    key = f"{id_number}:{policy_id}"
    if not queries.by_business_key(engine.db, "enrollment", key):
        person = {"id_number": id_number, "region": region, **facts}
        assert open_renewals(engine, policy, [person]) == 1
    [(enrollment, _)] = queries.by_business_key(engine.db, "enrollment", key)
    return enrollment


def years(api: Api, id_number: str, who: str = "app") -> dict[str, Any]:
    found = api.call("POST", "/people/enrollments", who, {"id_number": id_number})
    assert found.status_code == 200, found.json
    return dict(found.json)


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
    assert api.call("POST", "/people/cards", "factory", {"id_number": ALICE}).status_code == 403
    assert api.call("GET", "/tasks", "app").status_code == 403


def test_card_lifecycle_through_the_api_with_bank_scopes(api: Api) -> None:
    card = applied_card(api)
    assert (
        api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"}).json["to_state"]
        == "produced"
    )
    assert (
        api.call("POST", f"/cards/{card}/events", "cmb", {"event": "notify_holder"}).status_code
        == 404
    )  # another bank's card: as if there were none
    assert api.call("GET", f"/cards/{card}", "cmb").status_code == 404
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
    assert ok.json["to_state"] == "active" and ok.json["followups"] == []
    view = api.call("GET", f"/cards/{card}", "app").json
    assert view["state"] == "active" and view["state_label"]["zh"] == "正常"
    assert view["id_number_masked"] == ALICE[:6] + "********" + ALICE[-4:]
    assert (view["bank"], view["region_code"], view["channel"]) == ("icbc", "440604", "online")
    assert [s["done_at"] is not None for s in view["progress"]] == [True, True, True, True]


def test_production_progress_query(api: Api) -> None:
    # foshan...txt:34 制卡进度查询: the states tagged ``progress`` in card.yaml, in order
    card = applied_card(api)
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    progress = api.call("GET", f"/cards/{card}", "app").json["progress"]
    assert [(p["step"], p["done_at"] is not None) for p in progress] == [
        ("applied", True),
        ("produced", True),
        ("awaiting_activation", False),
        ("active", False),
    ]
    assert progress[1]["label"] == {"zh": "已制卡", "en": "Produced"}


@pytest.mark.parametrize(
    ("bank", "region_code", "says"),
    [
        ("icbc", "110105", "no region served here has the code 110105"),  # Beijing
        ("icbc", "350522", "no region served here has the code 350522"),  # next to Hui'an
        ("fjnx", "440604", "fjnx is not a partner bank of Foshan"),  # a Fujian bank in Foshan
        ("cmb", "350521", "cmb is not a partner bank of Hui'an"),
        ("nowhere", "440604", "nowhere is not a partner bank of Foshan"),
    ],
)
def test_a_card_is_applied_for_only_in_a_served_region_at_its_partner_banks(
    api: Api, bank: str, region_code: str, says: str
) -> None:
    body = {"id_number": ALICE, "channel": "online", "bank": bank, "region_code": region_code}
    refused = api.call("POST", "/cards", "app", body)
    assert refused.status_code == 422, refused.json
    assert refused.json["code"] == "card_application_refused"
    assert says in refused.json["message_en"]
    assert api.call("POST", "/people/cards", "app", {"id_number": ALICE}).json["cards"] == []


def test_each_region_has_its_own_partner_banks(app: Flask, api: Api) -> None:
    """foshan.txt:26 lists Foshan's 17 banks; Hui'an's come from its policy file."""
    at_foshan = api.call(
        "POST",
        "/cards",
        "app",
        {"id_number": ALICE, "channel": "counter", "bank": "shunde_rcb", "region_code": "440606"},
    )
    assert at_foshan.status_code == 201, at_foshan.json
    at_huian = api.call(
        "POST",
        "/cards",
        "app",
        {"id_number": BOB, "channel": "counter", "bank": "qzccb", "region_code": "350521"},
    )
    assert at_huian.status_code == 201, at_huian.json
    engine = engine_of(app)
    regions = {
        c: queries.instance(engine.db, c)["variables"]["region"]  # type: ignore[index]
        for c in (at_foshan.json["card"]["id"], at_huian.json["card"]["id"])
    }
    assert sorted(regions.values()) == ["foshan", "huian"]


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
    # only what this token may send now: a bank can do nothing to an applied card yet
    assert refused.json["allowed"] == []
    assert "produce" not in refused.json["message_en"]
    again = api.call("POST", f"/cards/{card}/events", "app", {"event": "seal_uncollected"})
    assert again.status_code == 409 and again.json["allowed"] == ["cancel"]
    card_seen = api.call("GET", f"/cards/{card}", "app")
    # issue_on_the_spot is the application's own step, not an event anyone sends
    assert card_seen.json["allowed_events"] == ["produce", "cancel"]
    # a timer's event is nobody's to send through the API
    sealed = api.call("POST", f"/cards/{card}/events", "icbc", {"event": "seal_uncollected"})
    assert sealed.status_code == 409 and sealed.json["code"] == "event_not_allowed"


def test_event_data_is_checked_against_the_events_fields(app: Flask, api: Api) -> None:
    """Unknown keys and values of the wrong type are refused, naming each field; nothing moves."""
    card = applied_card(api)
    for data, field in [
        ({"batch": 2}, "batch"),  # produce declares no fields
        ({"presented_id_number": ALICE}, "presented_id_number"),
    ]:
        refused = api.call(
            "POST", f"/cards/{card}/events", "factory", {"event": "produce", "data": data}
        )
        assert refused.status_code == 422, refused.json
        assert refused.json["code"] == "invalid_data"
        [detail] = refused.json["details"]
        assert detail["field"] == field and detail["message_zh"] and detail["message_en"]
    enrollment = renewed(app, CAROL)
    for data, field in [
        ({"amount": True}, "amount"),
        ({"amount": "360.001"}, "amount"),
        ({}, "amount"),  # required
        ({"amount": "360", "paid_at": "2022-10-01 10:00"}, "paid_at"),  # no time zone
        ({"amount": "360", "payer": CAROL}, "payer"),  # the old name of payer_id_number
    ]:
        refused = api.call(
            "POST", f"/enrollments/{enrollment}/events", "tax", {"event": "deduct", "data": data}
        )
        assert refused.status_code == 422, (data, refused.json)
        assert refused.json["code"] == "invalid_data"
        assert [d["field"] for d in refused.json["details"]] == [field], data
    engine = engine_of(app)
    assert queries.instance(engine.db, card)["state"] == "applied"  # type: ignore[index]
    # the year the import opened (its period is open) is where it was
    assert queries.instance(engine.db, enrollment)["state"] == "registered"  # type: ignore[index]


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
        ("POST", "/people/cards", {"id_number": "12345"}, None, 422),
        ("POST", "/people/enrollments", {"id_number": "12345"}, None, 422),
        ("POST", "/people/cards", {}, None, 422),
        ("GET", f"/people/{ALICE}/cards", None, None, 404),  # gone: no ID number in a URL
        ("GET", f"/people/{ALICE}/enrollments", None, None, 404),
        ("GET", "/processes/atlantis/counts", None, None, 404),
        ("GET", "/cards/99999", None, None, 404),
        ("GET", "/cards/-1", None, None, 404),
        ("GET", "/registrations/99999", None, None, 404),
        (
            "POST",
            "/registrations",
            {"id_number": "123", "name": "张三", "region": "huian"},
            None,
            422,
        ),
        ("POST", "/enrollments", {"id_number": ALICE}, None, 422),
        ("POST", "/payments", {"id_number": ALICE, "amount": "-1"}, None, 422),
        ("POST", "/payments", {"id_number": ALICE, "amount": "360", "payer": ALICE}, None, 422),
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
    enrollment = renewed(app, BOB, reduction_categories=["low_income"])
    unpaid = years(api, BOB)
    # imported while huian-2023's period is open: the import opened the year, unpaid
    assert unpaid["paid"] == [] and unpaid["unpaid"][0]["state"] == "registered"
    # huian.txt:59: 70% of the 360 yuan paid by the county for a low-income person of 60 or more
    assert unpaid["unpaid"][0]["amount_due"] == "108.00"
    assert unpaid["unpaid"][0]["payer_kind"] is None
    # the tax authority's hall reports a family member's payment, and when it happened
    paid = api.call(
        "POST",
        f"/enrollments/{enrollment}/payments",
        "tax",
        {
            "amount": "108",
            "payer_kind": "family",
            "payer_id_number": CAROL,
            "channel": "tax_hall",
            "paid_at": "2022-10-09T10:00:00+08:00",
        },
    )
    assert paid.status_code == 200, paid.json
    assert paid.json["transition"]["to_state"] == "deducted"
    assert paid.json["benefit_start"]["inpatient"] == "2023-01-01"
    after = years(api, BOB, "tax")
    assert after["unpaid"] == []
    [year] = after["paid"]
    assert (year["amount_paid"], year["year"], year["amount_due"]) == ("108.00", 2023, None)
    assert year["paid_at"] == "2022-10-09T10:00:00+08:00"  # the tax authority's word
    assert (year["payer_kind"], year["channel"]) == ("family", "tax_hall")
    assert year["payer_id_number_masked"] == mask_id_number(CAROL)
    assert year["state_label"] == {"zh": "已扣费", "en": "Deducted"}


def test_tax_deduction_events_and_scopes(app: Flask, api: Api) -> None:
    enrollment = renewed(app, BOB)
    assert (
        api.call(
            "POST", f"/enrollments/{enrollment}/events", "app", {"event": "deduct"}
        ).status_code
        == 403
    )
    lapse = api.call("POST", f"/enrollments/{enrollment}/events", "tax", {"event": "lapse"})
    assert lapse.status_code == 409 and lapse.json["code"] == "event_not_allowed"
    # what the tax authority may send now, not the timers' or another system's events
    assert lapse.json["allowed"] == ["deduct", "fail_deduction"]
    # payments come through the payments endpoints, where the time and the payer are checked
    paying = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "pay", "data": {"amount": "360"}},
    )
    assert paying.status_code == 409 and paying.json["code"] == "event_not_allowed"
    done = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "fail_deduction", "data": {"reason": "余额不足"}},
    )
    assert done.status_code == 200, done.json
    assert done.json["to_state"] == "deduction_failed"
    wrong = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "320"}},
    )
    assert wrong.status_code == 409 and "the amount due is 360.00 yuan" in wrong.json["message_en"]
    deducted = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "360"}},
    )
    assert deducted.status_code == 200 and deducted.json["to_state"] == "deducted"
    [year] = years(api, BOB)["paid"]
    assert (year["amount_paid"], year["channel"], year["payer_kind"]) == (
        "360.00",
        "tax_batch",
        "self",
    )
    assert year["paid_at"] is not None


def test_a_deduction_outside_the_payment_period_is_refused(
    app: Flask, api: Api, clock: SimulatedClock
) -> None:
    """The service clock decides, and a tax ``paid_at`` cannot move a deduction into the period
    from the future."""
    enrollment = renewed(app, BOB)
    ahead = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "360", "paid_at": "2022-10-11T10:00:00+08:00"}},
    )
    assert ahead.status_code == 409 and "later than the service's clock" in ahead.json["message_en"]
    clock.set(datetime(2023, 1, 1, 0, 30, tzinfo=UTC))  # 08:30 on 2023-01-01 in Shanghai
    late = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "360"}},
    )
    assert late.status_code == 409 and "outside the payment period" in late.json["message_en"]
    # the tax authority says the deduction happened within the period: taken
    within = api.call(
        "POST",
        f"/enrollments/{enrollment}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "360", "paid_at": "2022-12-30T16:00:00+08:00"}},
    )
    assert within.status_code == 200, within.json


def test_the_newborn_flag_is_for_a_baby_registered_within_a_year_of_birth(
    app: Flask, api: Api
) -> None:
    """A fact that spares the subsidy (huian-2023: newborns) is checked against the ID's birth
    date, at every door: an adult's registration declaring it is refused and changes nothing."""
    adult = {"id_number": DAVE, "name": "张伟", "region": "huian", "flags": ["newborn"]}
    refused = api.call("POST", "/registrations", "app", adult)
    assert refused.status_code == 422 and "within a year of birth" in refused.json["message_en"]
    assert DAVE not in str(refused.json)
    assert api.call("POST", "/registrations", "app", {**adult, "flags": []}).status_code == 201
    baby = make_id_number("350521", date(2022, 6, 1), 12)  # four months old at NOW
    born = {"id_number": baby, "name": "张小", "region": "huian", "flags": ["newborn"]}
    assert api.call("POST", "/registrations", "app", born).status_code == 201


def test_a_registration_is_checked_by_a_clerk_of_its_region(app: Flask, api: Api) -> None:
    """huian.txt:31-35: a person with no record registers; a medical-insurance clerk of the region
    checks the household register or residence permit; approval opens the current year."""
    body = {"id_number": DAVE, "name": "张伟", "region": "huian", "household": "H-0301"}
    made = api.call("POST", "/registrations", "app", body)
    assert made.status_code == 201, made.json
    person = made.json["person"]
    assert (person["state"], person["region"], person["open_tasks"]) == (
        "registration_review",
        "huian",
        ["verify_residence"],
    )
    assert person["id_number_masked"] == mask_id_number(DAVE)
    assert made.json["transition"]["process"] == "person"
    again = api.call("POST", "/registrations", "app", body)
    assert again.status_code == 422 and again.json["code"] == "registration_refused"
    # the record's state in words, never its key (参保登记审核, not registration_review)
    assert again.json["message_zh"] == f"该居民已有参保档案（{person['id']}，参保登记审核）"
    assert again.json["message_en"].endswith(f"({person['id']}, Registration review)")
    nowhere = api.call(
        "POST", "/registrations", "app", {**body, "id_number": ERIN, "region": "atlantis"}
    )
    assert nowhere.status_code == 422 and "unknown region" in nowhere.json["message_en"]
    assert api.call("GET", f"/registrations/{person['id']}", "board").json == person
    card = applied_card(api)
    assert api.call("GET", f"/registrations/{card}", "board").status_code == 404

    assert api.call("GET", "/tasks", "foshan-clerks").json["tasks"] == []
    [task] = api.call("GET", "/tasks", "huian-clerks").json["tasks"]
    assert (task["name"], task["candidate_group"], task["scope"]) == (
        "verify_residence",
        "medical_insurance_clerk",
        "huian",
    )
    complete = f"/tasks/{task['id']}/complete"
    assert api.call("POST", complete, "foshan-clerks", {"data": {}}).status_code == 404
    bad = api.call(
        "POST",
        complete,
        "huian-clerks",
        {"outcome": "approve_registration", "data": {"document_kind": "passport", "stamp": "x"}},
    )
    assert bad.status_code == 422 and bad.json["code"] == "task_form_invalid"
    assert {d["field"] for d in bad.json["details"]} == {"document_kind", "stamp"}
    approved = api.call(
        "POST",
        complete,
        "huian-clerks",
        {"outcome": "approve_registration", "data": {"document_kind": "household_register"}},
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["to_state"] == "insured"
    [opened] = approved.json["followups"]
    assert (opened["process"], opened["event"], opened["to_state"]) == (
        "enrollment",
        "start",
        "registered",
    )
    assert api.call("GET", f"/registrations/{person['id']}", "app").json["open_tasks"] == []
    [year] = years(api, DAVE)["unpaid"]
    assert (year["enrollment_id"], year["policy"], year["amount_due"]) == (
        opened["instance_id"],
        "huian-2023",
        "360.00",
    )


def test_opening_a_year_needs_an_insured_record_in_the_policys_region(app: Flask, api: Api) -> None:
    body = {"id_number": CAROL, "policy": "huian-2023"}
    missing = api.call("POST", "/enrollments", "app", body)
    assert missing.status_code == 422 and missing.json["code"] == "not_registered"
    assert "参保登记" in missing.json["message_zh"]
    insured(app, CAROL)
    # imported while huian-2023's period is open, as if a clerk had approved her registration:
    # that year opened with the import, and a second one is refused
    [opened] = years(api, CAROL)["unpaid"]
    assert (opened["policy"], opened["state"]) == ("huian-2023", "registered")
    twice = api.call("POST", "/enrollments", "app", body)
    assert twice.status_code == 422 and twice.json["code"] == "registration_refused"
    assert "open already" in twice.json["message_en"]
    assert twice.json["message_zh"].endswith("，已登记）")  # the year's state in words
    elsewhere = api.call("POST", "/enrollments", "app", {**body, "policy": "foshan-2022"})
    assert elsewhere.status_code == 422 and elsewhere.json["code"] == "registration_refused"
    unknown = api.call("POST", "/enrollments", "app", {**body, "policy": "atlantis-2023"})
    assert unknown.status_code == 422
    # foshan-2021 ended on 2020-12-31 and takes no late payments: it can no longer be opened
    insured(app, ALICE, "foshan")
    over = api.call("POST", "/enrollments", "app", {"id_number": ALICE, "policy": "foshan-2021"})
    assert over.status_code == 422 and "can no longer be paid" in over.json["message_en"]
    assert [y["policy"] for y in years(api, CAROL)["unpaid"]] == ["huian-2023"]


def test_payments_by_id_number_check_the_amount_the_payer_and_the_time(
    app: Flask, api: Api
) -> None:
    """The tax app pays from an ID number (huian.txt:51); the fee is the policy's (huian.txt:17),
    only the tax authority says when a payment happened, and someone else's payment names them."""
    stranger = api.call("POST", "/payments", "app", {"id_number": CAROL, "amount": "360"})
    assert stranger.status_code == 422 and stranger.json["code"] == "not_registered"
    insured(app, CAROL)
    wrong = api.call("POST", "/payments", "app", {"id_number": CAROL, "amount": "300"})
    assert wrong.status_code == 409 and "360.00" in wrong.json["message_en"]
    assert "360.00" in wrong.json["message_zh"]
    # the import opened huian-2023 (its period is open); the refused payment left it unpaid
    found = years(api, CAROL)
    assert found["paid"] == [] and found["id_number_masked"] == mask_id_number(CAROL)
    assert [(y["policy"], y["state"], y["amount_due"]) for y in found["unpaid"]] == [
        ("huian-2023", "registered", "360.00")
    ]
    backdated = api.call(
        "POST",
        "/payments",
        "app",
        {"id_number": CAROL, "amount": "360", "paid_at": "2022-09-02T10:00:00+08:00"},
    )
    assert backdated.status_code == 422 and backdated.json["code"] == "paid_at_not_allowed"
    for written_by_us in ("tax_batch", "medical_assistance"):  # nor says where it came from
        posed = {"id_number": CAROL, "amount": "360", "channel": written_by_us}
        refused = api.call("POST", "/payments", "app", posed)
        assert refused.status_code == 422 and refused.json["code"] == "invalid_data"
        assert refused.json["details"][0]["field"] == "channel", refused.json
    nameless = api.call(
        "POST", "/payments", "app", {"id_number": CAROL, "amount": "360", "payer_kind": "family"}
    )
    # the payer's number missing is the data's fault, named as such (422), before any rule
    assert nameless.status_code == 422 and nameless.json["code"] == "invalid_data"
    assert [d["field"] for d in nameless.json["details"]] == ["payer_id_number"], nameless.json
    oneself = api.call(
        "POST",
        "/payments",
        "app",
        {"id_number": CAROL, "amount": "360", "payer_kind": "family", "payer_id_number": CAROL},
    )
    assert oneself.status_code == 409
    paid = api.call(
        "POST",
        "/payments",
        "app",
        {
            "id_number": CAROL,
            "amount": "360.00",
            "payer_kind": "on_behalf",
            "payer_id_number": DAVE,
            "channel": "wechat",
        },
    )
    assert paid.status_code == 200, paid.json
    assert paid.json["transition"]["to_state"] == "deducted"
    assert paid.json["benefit_start"] == {
        "general_outpatient": "2023-01-01",
        "inpatient": "2023-01-01",
        "special_outpatient": "2023-01-01",
    }
    [year] = years(api, CAROL, "board")["paid"]
    assert (year["policy"], year["amount_paid"], year["payer_kind"], year["channel"]) == (
        "huian-2023",
        "360.00",
        "on_behalf",
        "wechat",
    )
    assert year["payer_id_number_masked"] == mask_id_number(DAVE)
    assert datetime.fromisoformat(year["paid_at"].replace("Z", "+00:00")) == NOW
    twice = api.call("POST", "/payments", "app", {"id_number": CAROL, "amount": "360"})
    assert twice.status_code == 409 and twice.json["code"] == "event_not_allowed"

    # the tax authority reports a hall payment with its time, but not one in the future
    insured(app, ERIN)
    ahead = api.call(
        "POST",
        "/payments",
        "tax",
        {"id_number": ERIN, "amount": "360", "paid_at": "2022-10-11T09:00:00+08:00"},
    )
    assert ahead.status_code == 409 and "later than the service's clock" in ahead.json["message_en"]
    hall = api.call(
        "POST",
        "/payments",
        "tax",
        {
            "id_number": ERIN,
            "policy": "huian-2023",
            "amount": "360",
            "channel": "tax_hall",
            "paid_at": "2022-09-15T09:00:00+08:00",
        },
    )
    assert hall.status_code == 200, hall.json
    [year] = years(api, ERIN, "tax")["paid"]
    assert year["paid_at"] == "2022-09-15T09:00:00+08:00" and year["payer_kind"] == "self"
    assert year["payer_id_number_masked"] == mask_id_number(ERIN)


def test_the_same_payment_has_the_same_effects_through_either_payments_door(
    app: Flask, api: Api
) -> None:
    """Paying a year by its id and paying a person by ID number write the same payment."""
    by_year = renewed(app, CAROL)
    first = api.call(
        "POST", f"/enrollments/{by_year}/payments", "app", {"amount": "360", "channel": "app"}
    )
    renewed(app, DAVE)
    second = api.call(
        "POST", "/payments", "app", {"id_number": DAVE, "amount": "360", "channel": "app"}
    )
    assert first.status_code == second.status_code == 200, (first.json, second.json)
    answers = [dict(a.json) for a in (first, second)]
    for answer in answers:
        answer["transition"] = {k: v for k, v in answer["transition"].items() if k != "instance_id"}
    assert answers[0] == answers[1]
    engine = engine_of(app)
    written = []
    for person in (CAROL, DAVE):
        [(enrollment, state)] = queries.by_business_key(
            engine.db, "enrollment", f"{person}:huian-2023"
        )
        row = queries.instance(engine.db, enrollment)
        assert row is not None
        payment = dict(row["variables"]["payment"])
        assert payment.pop("payer_id_number") == person
        last = queries.history(engine.db, enrollment)[-1]
        written.append((state, payment, last["event"], last["data"]))
    assert written[0] == written[1]
    state, payment, event, data = written[0]
    assert (state, event, payment["amount"], payment["channel"]) == (
        "deducted",
        "pay",
        "360.00",
        "app",
    )
    assert data == {"amount": "360.00", "payer_kind": "self", "channel": "app"}


def test_people_are_imported_idempotently_with_rejected_rows_listed(app: Flask, api: Api) -> None:
    rows = [
        {"id_number": CAROL, "name": "陈明", "region": "huian"},
        {"id_number": DAVE, "name": "黄丽", "region": "huian", "reduction_categories": "dibao"},
        {"id_number": ERIN, "name": "梁军", "region": "atlantis"},
        {
            "id_number": ALICE,
            "name": "何静",
            "region": "foshan",
            "card_number": "C-1",
            "card_bank": "icbc",
            "card_state": "active",
        },
    ]
    first = api.call("POST", "/imports/people", "importer", {"rows": rows})
    assert first.status_code == 200, first.json
    assert (first.json["applied"], first.json["unchanged"], first.json["reviews_opened"]) == (
        3,
        0,
        0,
    )
    [rejected] = first.json["rejected"]
    assert rejected["line"] == 3 and "atlantis" in rejected["reason"]
    again = api.call("POST", "/imports/people", "importer", {"rows": rows})
    assert (again.json["applied"], again.json["unchanged"], len(again.json["rejected"])) == (
        0,
        3,
        1,
    )
    # the imported are insured: the year whose period is open opened with the import (as with
    # a clerk's approval), with what the import said of them; the import again opened no other
    opened = api.call("POST", "/enrollments", "app", {"id_number": DAVE, "policy": "huian-2023"})
    assert opened.status_code == 422 and "open already" in opened.json["message_en"]
    # huian.txt:55 dibao: the assistance fund pays in full, so the year is paid as it opens
    [paid] = years(api, DAVE)["paid"]
    assert (paid["state"], paid["amount_paid"], paid["payer_kind"]) == (
        "deducted",
        "0.00",
        "medical_assistance",
    )
    [card] = api.call("POST", "/people/cards", "app", {"id_number": ALICE}).json["cards"]
    assert (card["state"], card["bank"], card["region_code"]) == ("active", "icbc", "440600")
    unknown = api.call(
        "POST", "/imports/people", "importer", {"rows": [{**rows[0], "colour": "blue"}]}
    )
    assert unknown.status_code == 422 and unknown.json["code"] == "invalid_request"


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
        == 404
    )  # another bank's task: as if there were none
    for data, fields in [
        ({"presented_id_number": "123"}, ["presented_id_number"]),
        ({"presented_id_number": ALICE, "note": "x"}, ["note"]),
        ({}, ["presented_id_number"]),
    ]:
        bad = api.call("POST", f"/tasks/{task}/complete", "icbc", {"data": data})
        assert bad.status_code == 422 and bad.json["code"] == "task_form_invalid", bad.json
        assert [d["field"] for d in bad.json["details"]] == fields
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


def test_a_banks_event_is_refused_on_a_task_a_teller_holds_but_not_a_timer(
    app: Flask, api: Api, clock: SimulatedClock
) -> None:
    """A completion has the same effect whichever door it comes by: the bank's activation event
    is refused as ``/tasks/{id}/complete`` refuses it while a teller holds the task (409
    ``task_claimed``, nothing written, no refused attempt counted); a timer is not held up."""
    engine = engine_of(app)
    create_user(engine.db, "ticbc", "pw", "bank_teller", "icbc")
    card = applied_card(api, bank="icbc")
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api.call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    [task] = queries.tasks_of(engine.db, card, "open")
    assert client_for(app, "ticbc").post(f"/inbox/{task['id']}/claim").status_code == 302
    history = queries.history(engine.db, card)

    by_task = api.call(
        "POST", f"/tasks/{task['id']}/complete", "icbc", {"data": {"presented_id_number": ALICE}}
    )
    assert by_task.status_code == 409 and by_task.json["code"] == "task_claimed"
    wrong = make_id_number("440604", date(1990, 5, 17), 33)
    for presented in (wrong, ALICE):
        event = {"event": "activate", "data": {"presented_id_number": presented}}
        by_event = api.call("POST", f"/cards/{card}/events", "icbc", event)
        assert by_event.status_code == 409, by_event.json
        assert {k: by_event.json[k] for k in ("code", "message_zh", "message_en")} == {
            k: by_task.json[k] for k in ("code", "message_zh", "message_en")
        }
        assert ALICE not in by_event.get_data(as_text=True)
    assert queries.instance(engine.db, card)["state"] == "awaiting_activation"  # type: ignore[index]
    assert queries.history(engine.db, card) == history  # nothing written, no refusal recorded
    [still] = queries.tasks_of(engine.db, card, "open")
    assert (still["assignee"], still["attempts"]) == ("ticbc", task["attempts"])

    # the engine's own firings are not held up by a claim: the card is sealed uncollected
    clock.advance(timedelta(days=800))
    TimerSweep(engine).sweep()
    assert queries.instance(engine.db, card)["state"] == "cancelled"  # type: ignore[index]


def test_a_refused_completion_retried_with_its_key_is_one_attempt(app: Flask, api: Api) -> None:
    """A client that retries a refused ``/tasks/{id}/complete`` with the same Idempotency-Key
    (it lost the answer) makes one attempt, as a retried success replays one result; another key,
    or another body under the same key, is another attempt."""
    engine = engine_of(app)
    card = applied_card(api, bank="icbc")
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api.call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    [task] = queries.tasks_of(engine.db, card, "open")
    wrong = {"data": {"presented_id_number": make_id_number("440604", date(1990, 5, 17), 33)}}

    def attempts() -> tuple[int, int]:
        [row] = queries.tasks_of(engine.db, card, "open")
        refusals = [h for h in queries.history(engine.db, card) if h["event"] == "task_refused"]
        return row["attempts"], len(refusals)

    path = f"/tasks/{task['id']}/complete"
    for _ in range(3):
        refused = api.call("POST", path, "icbc", wrong, key="retry-1")
        assert refused.status_code == 409, refused.json
    assert attempts() == (1, 1)
    assert "retry-1" not in str(queries.history(engine.db, card))  # the key is not kept
    assert api.call("POST", path, "icbc", wrong, key="retry-2").status_code == 409
    assert attempts() == (2, 2)
    assert api.call("POST", path, "icbc", wrong).status_code == 409  # no key: each counts
    assert api.call("POST", path, "icbc", wrong).status_code == 409
    assert attempts() == (4, 4)
    right = {"data": {"presented_id_number": ALICE}}
    done = api.call("POST", path, "icbc", right, key="retry-1")  # corrected under the same key
    assert done.status_code == 200, done.json
    assert queries.instance(engine.db, card)["state"] == "active"  # type: ignore[index]


def test_counts_and_the_openapi_description(api: Api) -> None:
    applied_card(api)
    counts = api.call("GET", "/processes/card/counts", "board").json
    assert counts["states"]["applied"] == 1 and counts["total"] == 1
    people = api.call("GET", "/processes/person/counts", "board").json
    assert people["total"] == 0 and set(people["states"]) >= {"registration_review", "insured"}
    spec = api.call("GET", "/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    assert {
        "/cards",
        "/cards/{card_id}/events",
        "/people/enrollments",
        "/people/cards",
        "/enrollments",
        "/enrollments/{enrollment_id}/payments",
        "/payments",
        "/registrations",
        "/registrations/{person_id}",
        "/imports/people",
        "/tasks",
    } <= set(spec["paths"])
    body = spec["paths"]["/cards"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CardApplication"}
    schemas = spec["components"]["schemas"]
    assert "fast_issuance" in str(schemas["CardApplication"])
    assert "payer_id_number" in schemas["PaymentRequest"]["properties"]
    assert "followups" in schemas["TransitionOut"]["properties"]
    assert {"payer_kind", "payer_id_number_masked", "channel"} <= set(
        schemas["YearOut"]["properties"]
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "status"),
    [
        (
            "POST",
            "/cards",
            {"id_number": ALICE, "channel": "online", "bank": "icbc", "region_code": "440604"},
            "tax",
            403,
        ),
        ("GET", "/cards/{card}", None, "tax", 403),
        ("GET", "/cards/{card}", None, "cmb", 404),  # another bank's card: as if there were none
        ("POST", "/cards/{card}/events", {"event": "produce"}, "app", 403),
        ("POST", "/cards/{card}/events", {"event": "notify_holder"}, "factory", 403),
        ("POST", "/cards/{card}/events", {"event": "cancel"}, "icbc", 403),
        ("POST", "/cards/{card}/events", {"event": "notify_holder"}, "cmb", 404),
        ("POST", "/cards/{card}/events", {"event": "report_loss"}, "factory", 403),
        ("POST", "/people/cards", {"id_number": ALICE}, "tax", 403),
        ("POST", "/people/enrollments", {"id_number": BOB}, "factory", 403),
        ("POST", "/enrollments/{enrollment}/payments", {"amount": "360"}, "factory", 403),
        ("POST", "/enrollments/{enrollment}/events", {"event": "deduct"}, "app", 403),
        ("POST", "/enrollments/{enrollment}/events", {"event": "fail_deduction"}, "icbc", 403),
        ("POST", "/enrollments/{enrollment}/events", {"event": "request_refund"}, "tax", 403),
        ("POST", "/enrollments", {"id_number": BOB, "policy": "huian-2023"}, "tax", 403),
        ("POST", "/payments", {"id_number": BOB, "amount": "360"}, "factory", 403),
        (
            "POST",
            "/registrations",
            {"id_number": BOB, "name": "张三", "region": "huian"},
            "tax",
            403,
        ),
        ("GET", "/registrations/{person}", None, "factory", 403),
        (
            "POST",
            "/imports/people",
            {"rows": [{"id_number": BOB, "name": "张三", "region": "huian"}]},
            "app",
            403,
        ),
        ("GET", "/tasks", None, "tax", 403),
        ("POST", "/tasks/{task}/complete", {"data": {}}, "app", 403),
        ("POST", "/tasks/{task}/complete", {"data": {}}, "cmb", 404),  # another bank's task
        ("POST", "/tasks/{task}/complete", {"data": {}}, "huian-clerks", 404),
        ("GET", "/admin/tokens", None, "board", 403),
        ("POST", "/admin/tokens/icbc/revoke", None, "icbc", 403),
    ],
)
def test_every_endpoint_refuses_a_token_outside_its_scope(
    app: Flask, api: Api, method: str, path: str, body: Any, who: str, status: int
) -> None:
    """403 for a token without the endpoint's scope; 404 for what its bank or region may not see
    (the same answer as for nothing at all). Nothing changes either way."""
    card = applied_card(api)
    api.call("POST", f"/cards/{card}/events", "factory", {"event": "produce"})
    api.call("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"})
    engine = engine_of(app)
    [task] = queries.tasks_of(engine.db, card, "open")
    enrollment = renewed(app, BOB)
    [(person, _)] = queries.by_business_key(engine.db, "person", BOB)
    url = path.format(card=card, enrollment=enrollment, task=task["id"], person=person)
    before = {
        i: [(h["event"], h["to_state"]) for h in queries.history(engine.db, i)]
        for i in (card, enrollment, person)
    }
    total = queries.total_instances(engine.db)
    response = api.call(method, url, who, body)
    assert response.status_code == status, response.json
    assert response.json["code"] == {403: "forbidden", 404: "not_found"}[status]
    after = {
        i: [(h["event"], h["to_state"]) for h in queries.history(engine.db, i)]
        for i in (card, enrollment, person)
    }
    assert after == before and queries.total_instances(engine.db) == total


@pytest.mark.parametrize("every", [0, 3600])
def test_a_changed_policy_file_is_read_before_the_next_request_after_the_check_interval(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    """Foshan extended 2022's period: web workers answer from the new file without a restart,
    from the first request at least ``SHEBAO_POLICY_CHECK_SECONDS`` after their last look at
    the files (0: every request)."""
    import shutil

    import web.app
    from web.config import PROJECT_ROOT

    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "definitions" / "policies", folder)
    clock = SimulatedClock(datetime(2022, 3, 5, 2, tzinfo=UTC))
    app = create_app(
        {
            "SHEBAO_DATABASE_URL": sqlite_url,
            "SHEBAO_POLICIES": str(folder),
            "TESTING": True,
            "SHEBAO_POLICY_CHECK_SECONDS": str(every),
        },
        clock=clock,
    )
    engine = engine_of(app)
    token = create_token(engine.db, "tax", ["tax"])
    person = make_id_number("440604", date(1980, 2, 2), 7)
    enrollment = renewed(app, person, "foshan-2022")
    client = app.test_client()

    def pay() -> Any:
        return client.post(
            f"/api/v1/enrollments/{enrollment}/payments",
            json={"amount": "320", "paid_at": "2022-03-05T10:00:00+08:00"},
            headers={"Authorization": f"Bearer {token}"},
        )

    refused = pay()  # after 2022-02-28, and Foshan takes no late payments (foshan.txt:67)
    assert refused.status_code == 409, refused.json
    assert "does not accept a late payment" in refused.json["message_en"]
    path = folder / "foshan-2022.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("end: 2022-02-28", "end: 2022-03-31"),
        encoding="utf-8",
    )
    if every:  # not looked at again within the interval: still the old period
        assert pay().status_code == 409
        later = web.app.monotonic() + every
        monkeypatch.setattr(web.app, "monotonic", lambda: later)
    paid = pay()
    assert paid.status_code == 200, paid.json
    assert paid.json["transition"]["to_state"] == "deducted"
    engine.db.dispose()
