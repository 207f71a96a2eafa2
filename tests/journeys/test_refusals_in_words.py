"""Refusals that name a payment or a policy year say them in words, not in the codes the
service keeps (``self``, ``tax_batch``, ``foshan-2022``): a duplicate deduction names who paid
and how, a late payment the region's year; the place a card waits reads as English does.
"""

from __future__ import annotations

import re
from typing import Any

from tests.journeys.conftest import Journey

TAXED = "350521197507090238"  # Hui'an: deducted once, then once more
LATE = "440604199001019012"  # Foshan: pays after the 2022 period is over
HOLDER = "440604198501019110"  # Foshan: a card waiting at an ICBC branch


def test_a_duplicate_deduction_names_the_payer_and_channel_in_words(journey_factory: Any) -> None:
    """A second deduction for a year the tax authority deducted already: the file's line and the
    API's 409 name the payment on record as 本人 via 税务批量扣款 (the insured person via the tax
    authority's batch deduction), not as ``self`` and ``tax_batch``."""
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("tax", "tax")
    j.token("importer", "import")
    row = {"id_number": TAXED, "name": "税", "region": "huian"}
    j.api("POST", "/imports/people", "importer", {"rows": [row]}, expect=200)
    year = j.years(TAXED, "tax")["huian-2023"]["enrollment_id"]
    first = {"amount": "360.00", "paid_at": "2022-10-10T09:00:00+08:00"}
    j.api("POST", f"/enrollments/{year}/events", "tax", {"event": "deduct", "data": first})
    j.at("2022-10-20T10:00:00+08:00")
    csv = (
        "id_number,policy_year,amount,result,reason,paid_at\n"
        f"{TAXED},2023,360.00,成功,,2022-10-19T10:00:00+08:00\n"
    )
    out = j.cli(
        "import", "deductions", j.file("d.csv", csv), "--policy", "huian-2023", exit_code=1
    ).output
    [line] = re.findall(r"line 2: (.*)", out)
    assert "缴费方 本人，渠道 税务批量扣款" in line, line
    assert "by the insured person via the tax authority's batch deduction" in line, line
    again = {"amount": "360.00", "paid_at": "2022-10-19T10:00:00+08:00"}
    refused = j.api(
        "POST", f"/enrollments/{year}/events", "tax", {"event": "deduct", "data": again}, expect=409
    )
    for text in (line, refused["message_zh"], refused["message_en"]):
        assert "tax_batch" not in text and "self" not in text, text
    assert "缴费方 本人，渠道 税务批量扣款" in refused["message_zh"]


def test_a_refused_late_payment_names_the_region_and_year(journey_factory: Any) -> None:
    """Foshan takes no payment for 2022 after its period (foshan.txt:67): the refusal says
    佛山市 2022 年度 / Foshan 2022, never the policy's id ``foshan-2022``."""
    j: Journey = journey_factory("2022-02-10T10:00:00+08:00")
    j.token("counter", "channel")
    people = j.file("people.csv", f"id_number,name,region\n{LATE},陈明,foshan\n")
    assert "applied: 1" in j.cli("import", "people", people).output
    j.at("2022-03-02T10:00:00+08:00")
    j.sweep()
    body = {"id_number": LATE, "amount": "320.00"}
    refused = j.api("POST", "/payments", "counter", body, expect=409)
    assert "佛山市 2022 年度不接受" in refused["message_zh"], refused
    assert "Foshan 2022 does not accept a late payment" in refused["message_en"], refused
    assert "foshan-2022" not in refused["message_zh"] + refused["message_en"]


def test_a_card_waiting_at_an_icbc_branch_reads_as_english(journey_factory: Any) -> None:
    """The card API says where a made card waits: "a branch of ICBC", not "a ICBC branch"."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("icbc", "bank:icbc")
    card, _task = j.card_at_activation(
        HOLDER, channel="counter", factory="factory", bank="icbc", bank_code="icbc"
    )
    place = j.card(card)["collection_place_label"]
    assert place["en"].startswith("a branch of ICBC"), place
    assert place["zh"].startswith("工商银行网点"), place
