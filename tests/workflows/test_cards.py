"""Card rules as a holder, a bank teller and a clerk meet them (Foshan and Quanzhou documents)."""

from __future__ import annotations

from datetime import date

import pytest

from engine import queries
from engine.errors import TransitionRefused
from engine.runtime import Engine
from web.config import PROJECT_ROOT
from workflows import cards
from workflows.card_status import cards_of, electronic_card_status, production_progress
from workflows.cards import CardApplicationRefused
from workflows.identity import make_id_number
from workflows.regions import Regions

REGIONS = Regions.load(PROJECT_ROOT / "definitions" / "policies")


def apply_for_card(engine: Engine, **application: str) -> cards.Transition:
    return cards.apply_for_card(engine, REGIONS, **application)


def report_loss(engine: Engine, card_id: int, actor: str) -> None:
    engine.fire(card_id, "report_loss", actor=actor)


FOSHAN = "440604"
QUANZHOU = "350521"
ALICE = make_id_number(FOSHAN, date(1990, 5, 17), 21)
BOB = make_id_number(FOSHAN, date(1985, 2, 3), 33)


def online_card(engine: Engine, person: str = ALICE, bank: str = "icbc") -> int:
    card = apply_for_card(
        engine, id_number=person, channel="online", bank=bank, region_code=FOSHAN, actor="wechat"
    )
    engine.fire(card.instance_id, "produce", actor="factory")
    engine.fire(card.instance_id, "notify_holder", actor=bank)
    return card.instance_id


def state_of(engine: Engine, card_id: int) -> str:
    return queries.instance(engine.db, card_id)["state"]


def version_of(engine: Engine, card_id: int) -> int:
    """The card's own definition version, which judges its status."""
    return queries.instance(engine.db, card_id)["definition_version"]


def test_fast_issuance_ends_active_in_one_visit(engine: Engine) -> None:
    # foshan...txt:19 申领、制卡、激活一站式服务; :30 快速发卡模式申领的，当场即可激活
    card = apply_for_card(
        engine,
        id_number=ALICE,
        channel="fast_issuance",
        bank="foshan_rcb",
        region_code=FOSHAN,
        actor="outlet-17",
    )
    assert card.to_state == "active"
    assert [h["event"] for h in queries.history(engine.db, card.instance_id)] == [
        "start",
        "issue_on_the_spot",
    ]
    assert (
        electronic_card_status(
            engine, state_of(engine, card.instance_id), version_of(engine, card.instance_id)
        )
        == "usable"
    )


def test_activation_needs_the_id_used_to_apply(engine: Engine) -> None:
    # foshan...txt:29 需本人凭有效身份证件(与申领所使用的的证件一致)到银行网点办理领卡激活
    card_id = online_card(engine)
    [task] = queries.tasks_of(engine.db, card_id, "open")
    with pytest.raises(TransitionRefused) as refused:
        engine.complete_task(task["id"], actor="teller-1", data={"presented_id_number": BOB})
    assert "不一致" in refused.value.message_zh and "not the one used to apply" in str(
        refused.value
    )
    assert state_of(engine, card_id) == "awaiting_activation"
    engine.complete_task(task["id"], actor="teller-1", data={"presented_id_number": ALICE})
    assert state_of(engine, card_id) == "active"


def test_only_fast_issuance_activates_on_the_spot(engine: Engine) -> None:
    card = apply_for_card(
        engine,
        id_number=ALICE,
        channel="counter",
        bank="icbc",
        region_code=FOSHAN,
        actor="counter-3",
    )
    with pytest.raises(TransitionRefused):
        engine.fire(card.instance_id, "issue_on_the_spot")
    assert state_of(engine, card.instance_id) == "applied"


def test_lost_card_opens_a_bank_teller_task_for_its_bank_only(engine: Engine) -> None:
    # quanzhou...txt:9 不可用的社保卡(如挂失、注销等)...到合作银行网点进行临柜注销操作
    card_id = online_card(engine, bank="cmb")
    [activation] = queries.tasks_of(engine.db, card_id, "open")
    engine.complete_task(activation["id"], actor="t", data={"presented_id_number": ALICE})
    report_loss(engine, card_id, actor="12333")
    # a temporary report: the holder makes it formal in person at the card's bank
    [formal] = queries.tasks_of(engine.db, card_id, "open")
    assert (formal["name"], formal["candidate_group"], formal["scope"]) == (
        "confirm_loss",
        "bank_teller",
        "cmb",
    )
    assert (
        electronic_card_status(engine, state_of(engine, card_id), version_of(engine, card_id))
        == "unusable"
    )
    with pytest.raises(TransitionRefused, match="not the card holder's"):
        engine.complete_task(formal["id"], actor="t", data={"presented_id_number": BOB})
    engine.complete_task(formal["id"], actor="t", data={"presented_id_number": ALICE})
    [task] = queries.tasks_of(engine.db, card_id, "open")
    assert (task["name"], task["candidate_group"], task["scope"]) == (
        "close_bank_account",
        "bank_teller",
        "cmb",
    )
    engine.complete_task(task["id"], actor="cmb-teller")
    assert state_of(engine, card_id) == "bank_account_closed"
    assert electronic_card_status(engine, "lost", version_of(engine, card_id)) == "unusable"


def test_second_application_in_the_same_province_is_refused(engine: Engine) -> None:
    # quanzhou...txt:7 社保卡已基本做到省内一人一卡
    online_card(engine)
    with pytest.raises(CardApplicationRefused) as refused:
        apply_for_card(
            engine,
            id_number=ALICE,
            channel="fast_issuance",
            bank="boc",
            region_code="440606",
            actor="outlet",
        )
    assert "省内一人一卡" in refused.value.message_zh
    assert "one person one card per province" in refused.value.message_en
    # another province is another card
    other = apply_for_card(
        engine, id_number=ALICE, channel="online", bank="icbc", region_code=QUANZHOU, actor="app"
    )
    assert other.to_state == "applied"
    assert len(cards_of(engine, ALICE)) == 2


def test_a_lost_card_can_be_replaced_by_a_new_application(engine: Engine) -> None:
    first = apply_for_card(
        engine,
        id_number=BOB,
        channel="fast_issuance",
        bank="icbc",
        region_code=FOSHAN,
        actor="outlet",
    )
    report_loss(engine, first.instance_id, actor="bob")
    # a temporary report still counts as the person's card: reissue only after a formal one
    with pytest.raises(CardApplicationRefused, match="one person one card"):
        apply_for_card(
            engine, id_number=BOB, channel="online", bank="icbc", region_code=FOSHAN, actor="app"
        )
    engine.fire(
        first.instance_id,
        "report_loss_formally",
        actor="icbc-teller",
        data={"presented_id_number": BOB},
    )
    second = apply_for_card(
        engine, id_number=BOB, channel="online", bank="icbc", region_code=FOSHAN, actor="app"
    )
    assert second.instance_id != first.instance_id


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"id_number": ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")}, "check"),
        ({"channel": "pigeon"}, "unknown channel"),
        ({"bank": "no_such_bank"}, "not a partner bank of Foshan"),
        ({"bank": "fjnx"}, "not a partner bank of Foshan"),  # a Hui'an bank
        ({"region_code": "110105"}, "no region served here"),
    ],
)
def test_bad_applications_are_refused_with_the_reason(
    engine: Engine, kwargs: dict, words: str
) -> None:
    application = {
        "id_number": ALICE,
        "channel": "online",
        "bank": "icbc",
        "region_code": FOSHAN,
        "actor": "app",
        **kwargs,
    }
    with pytest.raises(CardApplicationRefused) as refused:
        apply_for_card(engine, **application)
    assert words in refused.value.message_en
    assert queries.total_instances(engine.db) == 0


def test_production_progress_follows_the_history(engine: Engine) -> None:
    # foshan...txt:34 查询自己的社保卡制卡进度
    card = apply_for_card(
        engine, id_number=ALICE, channel="online", bank="icbc", region_code=FOSHAN, actor="app"
    )
    engine.fire(card.instance_id, "produce", actor="factory")
    steps = production_progress(engine, card.instance_id, version_of(engine, card.instance_id))
    assert [(s.step, s.done_at is not None) for s in steps] == [
        ("applied", True),
        ("produced", True),
        ("awaiting_activation", False),
        ("active", False),
    ]
    assert steps[1].label_zh == "已制卡"


def test_a_card_being_replaced_may_be_reported_lost_and_found_again(engine: Engine) -> None:
    """Its own replacement in progress is not another card: revoking a temporary loss report
    of the old card is allowed (the old card works until the new one is activated)."""
    old = apply_for_card(
        engine, id_number=BOB, channel="fast_issuance", bank="icbc", region_code=FOSHAN, actor="o"
    ).instance_id
    new = cards.apply_for_card(
        engine,
        REGIONS,
        id_number=BOB,
        channel="online",
        bank="icbc",
        region_code=FOSHAN,
        actor="app",
        replacement_reason="expired",
    )
    assert queries.instance(engine.db, new.instance_id)["variables"]["replaces_card_id"] == old
    report_loss(engine, old, actor="bob")
    engine.fire(old, "revoke_loss", actor="bob")
    assert state_of(engine, old) == "active"
