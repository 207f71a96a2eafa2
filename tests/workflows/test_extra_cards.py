"""People with several cards in one province (imported data) are resolved by a clerk."""

from __future__ import annotations

from datetime import date

from engine import queries
from engine.runtime import Engine
from workflows.cards import card_key
from workflows.extra_cards import import_card, open_reviews, resolve_extra_cards
from workflows.identity import make_id_number

CAROL = make_id_number("350521", date(1966, 6, 6), 41)


def test_a_person_with_three_cards_gets_one_clerk_task_and_keeps_one(engine: Engine) -> None:
    # quanzhou...txt:7-9 一人多卡：确认状态，不可用卡临柜注销银行账户，正常卡注销并关联注销银行账户
    kept = import_card(engine, id_number=CAROL, bank="icbc", region_code="350521", state="active")
    extra = import_card(engine, id_number=CAROL, bank="boc", region_code="350503", state="active")
    waiting = import_card(
        engine, id_number=CAROL, bank="ccb", region_code="350521", state="awaiting_activation"
    )
    elsewhere = import_card(
        engine, id_number=CAROL, bank="icbc", region_code="440604", state="active"
    )
    assert open_reviews(engine) == 1
    assert open_reviews(engine) == 0  # a second run opens no second review
    [(review, _)] = queries.by_business_key(engine.db, "card_review", card_key(CAROL, "350521"))
    [task] = queries.tasks_of(engine.db, review, "open")
    assert (task["name"], task["candidate_group"], task["scope"]) == (
        "resolve_extra_cards",
        "social_security_clerk",
        "huian",
    )
    resolve_extra_cards(engine, task["id"], kept, actor="clerk-1")
    states = {i: queries.instance(engine.db, i)["state"] for i in (kept, extra, waiting, elsewhere)}
    assert states == {kept: "active", extra: "cancelled", waiting: "cancelled", elsewhere: "active"}
    closing = [t for i in (extra, waiting) for t in queries.tasks_of(engine.db, i, "open")]
    assert sorted((t["name"], t["scope"]) for t in closing) == [
        ("close_bank_account", "boc"),
        ("close_bank_account", "ccb"),
    ]
    assert queries.instance(engine.db, review)["state"] == "resolved"
