"""A supervisor's move of a card (web.pages.instance_actions) and the one-person-one-card rule,
and where an uncollected card is, on the supervisors' instance page.

A move runs no event and so no guard: moving a cancelled card back into use while its holder has
another usable card is warned about on the confirmation page (naming the other card and the
masked ID number) and refused unless the supervisor ticks the confirmation; a confirmed move
keeps the confirmation beside the reason in the history.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from staff_login import logged_in, token_of
from support import MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
HOLDER = make_id_number("440604", datetime(1980, 1, 1).date(), 11)
ALONE = make_id_number("440604", datetime(1981, 2, 2).date(), 12)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=[("boss", "supervisor", None)])


def _move_form(app: Flask, card: int, page: str, reason: str) -> dict[str, str]:
    """The move page's form for moving ``card`` to active, as the supervisor fills it in."""
    version = queries.instance(engine_of(app).db, card)["version"]  # type: ignore[index]
    return {"csrf_token": token_of(page), "version": str(version), "to": "active", "reason": reason}


def test_moving_a_cancelled_card_back_beside_another_usable_one_needs_a_knowing_confirmation(
    app: Flask,
) -> None:
    engine = engine_of(app)
    old = counter_card(app, HOLDER).instance_id
    engine.fire(old, "cancel")
    new = counter_card(app, HOLDER).instance_id  # the person's usable card now
    boss = logged_in(app, "boss")
    page = boss.get(f"/processes/instances/{old}/move?to=active").get_data(as_text=True)
    warning = page[page.index('id="action-warnings"') :]
    assert f"卡 {new}" in warning and "已申领" in warning and mask_id_number(HOLDER) in warning
    assert HOLDER not in page
    assert 'name="confirm" value="other_usable_card"' in page
    en = boss.get(f"/processes/instances/{old}/move?to=active&lang=en").get_data(as_text=True)
    assert f"another usable card (card {new}, Applied)" in en
    assert "I know the person has another usable card" in en
    form = _move_form(app, old, page, "误注销，恢复旧卡")
    refused = boss.post(f"/processes/instances/{old}/move", data=form)
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "tick the confirmation" in text and "误注销，恢复旧卡" in text  # the reason is kept
    assert queries.instance(engine.db, old)["state"] == "cancelled"  # type: ignore[index]
    assert queries.history(engine.db, old)[-1]["event"] == "cancel"
    done = boss.post(
        f"/processes/instances/{old}/move", data={**form, "confirm": "other_usable_card"}
    )
    assert done.status_code == 303
    assert queries.instance(engine.db, old)["state"] == "active"  # type: ignore[index]
    last = queries.history(engine.db, old)[-1]
    assert (last["event"], last["actor"]) == ("supervisor_move", "staff:boss")
    assert last["data"] == {"reason": "误注销，恢复旧卡", "confirmed": ["other_usable_card"]}
    audit = boss.get(f"/processes/instances/{old}?lang=zh").get_data(as_text=True)
    audit = audit[audit.index('id="instance-interventions"') :]
    assert "已确认知悉：该居民另有可用社保卡" in audit


def test_moving_a_cancelled_card_back_when_it_is_the_persons_only_card_asks_nothing(
    app: Flask,
) -> None:
    engine = engine_of(app)
    card = counter_card(app, ALONE).instance_id
    engine.fire(card, "cancel")
    boss = logged_in(app, "boss")
    page = boss.get(f"/processes/instances/{card}/move?to=active").get_data(as_text=True)
    assert 'id="action-warnings"' not in page and 'name="confirm"' not in page
    form = _move_form(app, card, page, "误注销")
    assert boss.post(f"/processes/instances/{card}/move", data=form).status_code == 303
    assert queries.instance(engine.db, card)["state"] == "active"  # type: ignore[index]
    assert queries.history(engine.db, card)[-1]["data"] == {"reason": "误注销"}


def test_the_instance_page_says_where_an_uncollected_card_is(app: Flask) -> None:
    engine = engine_of(app)
    card = counter_card(app, ALONE, bank="cmb", events=("produce", "notify_holder")).instance_id
    boss = logged_in(app, "boss")
    page = boss.get(f"/processes/instances/{card}").get_data(as_text=True)
    assert "招商银行网点" in page[page.index('id="collection-place"') :]
    engine.fire(card, "take_back_uncollected")
    page = boss.get(f"/processes/instances/{card}").get_data(as_text=True)
    shown = page[page.index('id="collection-place"') :]
    assert "社保卡中心" in shown and "招商银行" in shown
    page = boss.get(f"/processes/instances/{card}?lang=en").get_data(as_text=True)
    assert "the card centre" in page[page.index('id="collection-place"') :]
