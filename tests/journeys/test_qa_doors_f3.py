"""What the JSON API and the import doors answer in three corners a tester found: the events a
409 offers are only those possible now (no refund where the policy refuses every refund); a
malformed event is refused without a trace even when a value in it is also wrong; a birth date in
the future is measured against the service clock, not the machine's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.journeys.conftest import Journey
from workflows.identity import make_id_number

HUIAN = "350521197507090238"  # Hui'an: pays 2023 on time, then once more
FOSHAN = "440604198003030050"  # Foshan: pays 2022 in its period, then once more
REFUND_FACTS = {"employee_insurance_elsewhere": True, "benefits_used": False}


def test_a_paid_year_in_a_policy_without_refunds_offers_no_refund(journey_factory: Any) -> None:
    """Hui'an 2023 has no duplicate-payment refund: paying a paid year again is refused, and the
    refusal does not offer 申请重复参保退费, which would only be refused in turn."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    row = {"id_number": HUIAN, "name": "惠", "region": "huian"}
    j.api("POST", "/imports/people", "importer", {"rows": [row]}, expect=200)
    year = j.years(HUIAN)["huian-2023"]["enrollment_id"]
    j.api("POST", f"/enrollments/{year}/payments", "counter", {"amount": "360.00"}, expect=200)
    j.at("2022-10-15T10:00:00+08:00")
    again = {"amount": "360.00"}
    refused = j.api("POST", f"/enrollments/{year}/payments", "counter", again, expect=409)
    assert refused["allowed"] == [], refused
    assert "现在允许：无" in refused["message_zh"], refused
    refund = {"event": "request_refund", "data": REFUND_FACTS}
    refused = j.api("POST", f"/enrollments/{year}/events", "counter", refund, expect=409)
    assert "no refund of duplicate payments" in refused["message_en"], refused


def test_the_refund_is_offered_until_its_deadline_and_not_after(journey_factory: Any) -> None:
    """Foshan 2022 accepts duplicate-payment refunds until 2022-02-28: a second payment of a
    paid year is refused offering the refund before then, and without it after."""
    j: Journey = journey_factory("2022-02-10T10:00:00+08:00")
    j.token("counter", "channel")
    people = j.file("people.csv", f"id_number,name,region\n{FOSHAN},陈明,foshan\n")
    assert "applied: 1" in j.cli("import", "people", people).output
    year = j.years(FOSHAN)["foshan-2022"]["enrollment_id"]
    pay = {"amount": "320.00"}
    j.api("POST", f"/enrollments/{year}/payments", "counter", pay, expect=200)
    refused = j.api("POST", f"/enrollments/{year}/payments", "counter", pay, expect=409)
    assert refused["allowed"] == ["request_refund"], refused
    j.at("2022-03-01T10:00:00+08:00")
    refused = j.api("POST", f"/enrollments/{year}/payments", "counter", pay, expect=409)
    assert refused["allowed"] == [], refused
    refund = {"event": "request_refund", "data": REFUND_FACTS}
    refused = j.api("POST", f"/enrollments/{year}/events", "counter", refund, expect=409)
    assert "refunds were accepted until 2022-02-28" in refused["message_en"], refused


NEWCOMER = "440604198808080071"  # Foshan: a card at its bank, awaiting activation
MISTYPED = "440604198808080072"  # NEWCOMER with a wrong check digit: looks valid, is not


def test_a_malformed_event_is_refused_without_a_trace_even_with_a_wrong_id(
    journey_factory: Any,
) -> None:
    """The bank sends an activation with a field the event does not have and a mistyped ID:
    refused as malformed (422 naming the unknown field), and the task shows no refused attempt;
    the same mistyped ID in a well-formed event is a refused attempt, shown on the task."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    teller = j.staff("teller_cmb", "bank_teller", "cmb")
    card, task = j.card_at_activation(NEWCOMER, channel="counter", factory="factory", bank="cmb")
    malformed = {"presented_id_number": MISTYPED, "extra": "y"}
    refused = j.api(
        "POST", f"/cards/{card}/events", "cmb", {"event": "activate", "data": malformed}, expect=422
    )
    assert "not a field of this form" in refused["message_en"], refused
    assert 'id="task-attempts"' not in teller.page(f"/inbox/{task}")
    assert j.card(card)["state"] == "awaiting_activation"

    wrong = {"presented_id_number": MISTYPED}
    j.api("POST", f"/cards/{card}/events", "cmb", {"event": "activate", "data": wrong}, expect=422)
    page = teller.page(f"/inbox/{task}")
    assert 'id="task-attempts" class="late">1<' in page


FUTURE = make_id_number("440604", date(2030, 8, 8), 1)  # born after the machine's date too


def test_a_birth_date_in_the_future_names_the_service_clocks_date_at_every_door(
    journey_factory: Any,
) -> None:
    """On the service's 2023-11-02 (00:30 in China, still 1 November in UTC), an ID number of
    someone born in 2030 is refused at every door saying "later than today (2023-11-02)": the
    people file, a registration, a card application, a payer's and a presented ID number."""
    j: Journey = journey_factory("2022-01-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    j.token("importer", "import")
    row = {"id_number": FOSHAN, "name": "佛", "region": "foshan"}
    j.api("POST", "/imports/people", "importer", {"rows": [row]}, expect=200)
    card, _ = j.card_at_activation(FOSHAN, channel="counter", factory="factory", bank="cmb")
    year = j.years(FOSHAN)["foshan-2022"]["enrollment_id"]
    j.at("2023-11-02T00:30:00+08:00")
    said_zh, said_en = "出生日期晚于今天（2023-11-02）", "in the future (after 2023-11-02)"
    texts: list[str] = []

    people = j.file("people.csv", f"id_number,name,region\n{FUTURE},未,foshan\n")
    texts.append(j.cli("import", "people", people, exit_code=1).output)
    body = {"id_number": FUTURE, "name": "未", "region": "foshan"}
    refused = j.api("POST", "/registrations", "counter", body, expect=422)
    texts.append(refused["message_zh"] + refused["message_en"])
    apply = {"id_number": FUTURE, "channel": "counter", "bank": "cmb", "region_code": "440604"}
    refused = j.api("POST", "/cards", "counter", apply, expect=422)
    texts.append(refused["message_zh"] + refused["message_en"])
    payment = {"amount": "320.00", "payer_kind": "family", "payer_id_number": FUTURE}
    refused = j.api("POST", f"/enrollments/{year}/payments", "counter", payment, expect=422)
    texts.append(refused["message_zh"] + refused["message_en"])
    activate = {"event": "activate", "data": {"presented_id_number": FUTURE}}
    refused = j.api("POST", f"/cards/{card}/events", "cmb", activate, expect=422)
    texts.append(refused["message_zh"] + refused["message_en"])
    for text in texts:
        assert said_zh in text and said_en in text, text
