"""People with several cards in one province (imported data) are resolved by a clerk."""

from __future__ import annotations

from datetime import date

import pytest

from engine import queries
from engine.errors import TaskFormInvalid
from engine.runtime import Engine
from workflows.cards import card_key
from workflows.domain import Domain
from workflows.identity import make_id_number
from workflows.imports import import_people

CAROL = make_id_number("350521", date(1966, 6, 6), 41)
DAVE = make_id_number("350521", date(1970, 7, 7), 43)


def card(number: str, bank: str, state: str, code: str = "350521", who: str = CAROL) -> dict:
    return {
        "id_number": who,
        "name": "卡罗",
        "region": "huian",
        "card_number": number,
        "card_bank": bank,
        "card_state": state,
        "card_region_code": code,
    }


def test_a_person_with_three_cards_gets_one_clerk_task_and_keeps_one(
    engine: Engine, domain: Domain
) -> None:
    # quanzhou...txt:7-9 一人多卡：确认状态，不可用卡临柜注销银行账户，正常卡注销并关联注销银行账户
    rows = [
        card("Q-1", "icbc", "active"),
        card("Q-2", "boc", "active"),
        card("Q-3", "ccb", "awaiting_activation"),
        card("G-1", "icbc", "active", code="440604"),  # another province: another card
        card("Q-9", "icbc", "active", who=DAVE),
    ]
    report = import_people(engine, domain, list(enumerate(rows, start=2)), actor="import")
    assert (report.count("applied"), report.rejected, report.reviews_opened) == (5, [], 1)
    again = import_people(engine, domain, list(enumerate(rows, start=2)), actor="import")
    assert (again.count("unchanged"), again.reviews_opened) == (5, 0)  # no second review
    kept, extra, waiting, elsewhere, daves = (r.card_id for r in report.results)
    [(review, _)] = queries.by_business_key(engine.db, "card_review", card_key(CAROL, "350521"))
    [task] = queries.tasks_of(engine.db, review, "open")
    assert (task["name"], task["candidate_group"], task["scope"]) == (
        "resolve_extra_cards",
        "social_security_clerk",
        "huian",
    )
    # the form names one of this person's usable cards, nothing else
    for wrong in (daves, elsewhere, 10**9, "abc"):
        with pytest.raises(TaskFormInvalid):
            engine.complete_task(task["id"], actor="clerk-1", data={"keep_card_id": wrong})
    done = engine.complete_task(task["id"], actor="clerk-1", data={"keep_card_id": str(kept)})
    assert [(f["instance_id"], f["event"]) for f in done.followups] == [
        (extra, "cancel"),
        (waiting, "cancel"),
    ]
    states = {i: queries.instance(engine.db, i)["state"] for i in (kept, extra, waiting, elsewhere)}
    assert states == {kept: "active", extra: "cancelled", waiting: "cancelled", elsewhere: "active"}
    closing = [t for i in (extra, waiting) for t in queries.tasks_of(engine.db, i, "open")]
    assert sorted((t["name"], t["scope"]) for t in closing) == [
        ("close_bank_account", "boc"),
        ("close_bank_account", "ccb"),
    ]
    assert queries.instance(engine.db, review)["state"] == "resolved"
    # the cancellations are written with the person who decided, and the cause
    cancel = queries.history(engine.db, extra)[-1]
    assert cancel["actor"] == "clerk-1"
    assert cancel["data"]["cause"] == {
        "instance_id": review,
        "process": "card_review",
        "event": "resolve",
    }
