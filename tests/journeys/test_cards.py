"""Cards: existing cards brought in, one person with several reviewed and resolved, a new card
applied for, produced, activated only with the applying ID at its own bank, lost and closed at its
own bank only, and fast issuance on the spot: through the doors alone.

Sources: foshan-card-one-card-and-2022-medical-insurance.txt ("foshan.txt": fast issuance in one
visit, lines 18-19; activation in person with the same ID as the application, lines 27-31) and
quanzhou-huian-cards-and-2023-medical-insurance.txt ("huian.txt", lines 5-9: one person one card
per province; unusable cards have their bank account closed at the partner bank's counter, usable
extra cards are cancelled with their bank account).
"""

from __future__ import annotations

import re
from typing import Any

from tests.journeys.conftest import Journey

HOLDER = "440604198003030050"
OTHER = "44060419750707006X"
NEWCOMER = "440604198808080071"
KIOSK = "44060419950909008X"

CARDS = f"""id_number,name,region,card_number,card_bank,card_state,card_region_code
{HOLDER},陈明,foshan,C-1001,icbc,active,440604
{HOLDER},陈明,foshan,C-1002,boc,awaiting_activation,440605
{HOLDER},陈明,foshan,C-1003,ccb,active,440606
{HOLDER},陈明,foshan,C-1004,abc,lost,440604
{OTHER},黄丽,foshan,C-2001,icbc,active,440604
{OTHER},黄丽,foshan,C-2002,nowhere_bank,active,440604
"""


def _card_ids(j: Journey, person: str) -> dict[str, int]:
    found = j.api("POST", "/people/cards", "counter", {"id_number": person}, expect=200)["cards"]
    return {c["bank"]: c["id"] for c in found}


def test_several_cards_are_reviewed_and_resolved_at_each_bank(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("ss", "clerk:foshan")
    clerk = j.staff("ss_foshan", "social_security_clerk", "foshan")
    tellers = {b: j.staff(f"teller_{b}", "bank_teller", b) for b in ("icbc", "boc", "ccb", "abc")}

    result = j.cli("import", "people", j.file("cards.csv", CARDS), exit_code=1)
    assert "applied: 5  unchanged: 0  rejected: 1  reviews opened: 1" in result.output
    assert "/ nowhere_bank is not a partner bank of Foshan" in result.output  # 中文 / English
    again = j.cli("import", "people", j.file("cards.csv", CARDS), exit_code=1)
    assert "applied: 0  unchanged: 5  rejected: 1  reviews opened: 0" in again.output

    cards = _card_ids(j, HOLDER)
    # the lost card already waits for its account to be closed at its own bank
    assert len(tellers["abc"].task_ids()) == 1
    [review] = clerk.task_ids()
    page = clerk.page(f"/inbox/{review}")
    offered = {int(i) for i in re.findall(r'<option value="(\d+)"', page)}
    assert offered == {cards["icbc"], cards["boc"], cards["ccb"]}  # usable cards only
    # a card of another person is not one of the choices, through any door
    other_card = _card_ids(j, OTHER)["icbc"]
    bad = j.api(
        "POST",
        f"/tasks/{review}/complete",
        "ss",
        {"data": {"keep_card_id": other_card}},
        expect=422,
    )
    assert bad["details"][0]["field"] == "keep_card_id"
    assert clerk.complete(review, "resolve", keep_card_id=str(cards["icbc"])).status_code == 302

    states = {
        c["bank"]: c["state"]
        for c in j.api("POST", "/people/cards", "counter", {"id_number": HOLDER}, expect=200)[
            "cards"
        ]
    }
    assert states == {"icbc": "active", "boc": "cancelled", "ccb": "cancelled", "abc": "lost"}
    # each cancelled card's account is closed at its own bank's counter, nowhere else
    assert tellers["icbc"].task_ids() == []
    for bank in ("boc", "ccb", "abc"):
        [task] = tellers[bank].task_ids()
        assert tellers[bank].complete(task, "close_bank_account").status_code == 302
    assert {
        c["state"]
        for c in j.api("POST", "/people/cards", "counter", {"id_number": HOLDER}, expect=200)[
            "cards"
        ]
        if c["bank"] != "icbc"
    } == {"bank_account_closed"}


def test_a_new_card_is_activated_with_its_id_at_its_bank_and_closed_there(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    j.token("icbc", "bank:icbc")
    cmb = j.staff("teller_cmb", "bank_teller", "cmb")
    icbc = j.staff("teller_icbc", "bank_teller", "icbc")

    applied = j.api(
        "POST",
        "/cards",
        "counter",
        {"id_number": NEWCOMER, "channel": "counter", "bank": "cmb", "region_code": "440604"},
        expect=201,
    )
    card = applied["card"]["id"]
    second = j.api(
        "POST",
        "/cards",
        "counter",
        {"id_number": NEWCOMER, "channel": "online", "bank": "icbc", "region_code": "440605"},
        expect=422,
    )
    assert "one person one card per province" in second["message_en"]
    j.api("POST", f"/cards/{card}/events", "factory", {"event": "produce"}, expect=200)
    # another bank's card: as if there were none
    j.api("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"}, expect=404)
    j.api("POST", f"/cards/{card}/events", "cmb", {"event": "notify_holder"}, expect=200)

    # another bank cannot activate it, by the API or in its inbox
    j.api(
        "POST",
        f"/cards/{card}/events",
        "icbc",
        {"event": "activate", "data": {"presented_id_number": NEWCOMER}},
        expect=404,
    )
    [task] = cmb.task_ids()
    assert icbc.task_ids() == []
    assert icbc.client.get(f"/inbox/{task}").status_code == 404
    # the holder presents another ID: refused, nothing changes (foshan.txt:29-30)
    wrong = cmb.complete(task, "activate", presented_id_number=OTHER)
    assert wrong.status_code == 422 and "与申领时使用的证件不一致" in wrong.get_data(as_text=True)
    assert j.card(card)["state"] == "awaiting_activation"
    assert cmb.complete(task, "activate", presented_id_number=NEWCOMER).status_code == 302
    shown = j.card(card)
    assert shown["state"] == "active" and shown["electronic_card"] == "usable"
    assert [s["done_at"] is not None for s in shown["progress"]] == [True] * 4

    # lost: reported (temporary), made formal in person at its own bank (with the holder's ID),
    # then the account is closed at its own bank only
    j.api("POST", f"/cards/{card}/events", "counter", {"event": "report_loss"}, expect=200)
    assert j.card(card)["electronic_card"] == "unusable"
    assert icbc.task_ids() == []
    [formal] = cmb.task_ids()
    wrong = cmb.complete(formal, "report_loss_formally", presented_id_number=OTHER)
    assert wrong.status_code == 422 and "不是持卡人本人的证件" in wrong.get_data(as_text=True)
    assert j.card(card)["state"] == "loss_reported"
    done = cmb.complete(formal, "report_loss_formally", presented_id_number=NEWCOMER)
    assert done.status_code == 302 and j.card(card)["state"] == "lost"
    [close] = cmb.task_ids()
    j.api("POST", f"/tasks/{close}/complete", "icbc", {}, expect=404)
    assert cmb.complete(close, "close_bank_account").status_code == 302
    assert j.card(card)["state"] == "bank_account_closed"

    # fast issuance (foshan.txt:18-19): applied, produced and activated in one visit
    fast = j.api(
        "POST",
        "/cards",
        "counter",
        {"id_number": KIOSK, "channel": "fast_issuance", "bank": "icbc", "region_code": "440604"},
        expect=201,
    )
    assert fast["card"]["state"] == "active"


def test_a_temporary_loss_report_lapses_unless_made_formal(journey_factory: Any) -> None:
    """A loss reported by 12333, the bank or online is temporary: it lapses back to normal after
    the region's term (policy card.loss_report_lapses_after, P5D in Foshan) with a notice to the
    holder, unless the holder makes it formal at the bank; a formal report is never revoked, and
    only after it may the person apply again (reissue, 补领). NOTES.md, "Loss (practice)"."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("icbc", "bank:icbc")
    body = {"id_number": KIOSK, "channel": "fast_issuance", "bank": "icbc", "region_code": "440604"}
    card = j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"]

    j.api("POST", f"/cards/{card}/events", "counter", {"event": "report_loss"}, expect=200)
    shown = j.card(card)
    assert (shown["state"], shown["electronic_card"]) == ("loss_reported", "unusable")
    assert "revoke_loss" in shown["allowed_events"]
    # still the person's one card: no second application while the report is temporary
    refused = j.api("POST", "/cards", "counter", body, expect=422)
    assert "one person one card per province" in refused["message_en"]
    j.at("2021-06-06T09:59:00+08:00")
    j.sweep()
    assert j.card(card)["state"] == "loss_reported"  # not yet five days
    j.at("2021-06-06T10:01:00+08:00")
    j.sweep()
    shown = j.card(card)
    assert (shown["state"], shown["electronic_card"]) == ("active", "usable")
    notices = j.api("GET", f"/cards/{card}/notices", "icbc", expect=200)["notices"]
    by_kind = {n["kind"]: n for n in notices}
    assert len(notices) == len(by_kind) == 2
    reported, notice = by_kind["loss_reported"], by_kind["loss_report_lapsed"]
    # the holder was told of the report and when it lapses (Foshan: five days, local time)
    assert reported["kind"] == "loss_reported" and KIOSK not in str(reported)
    assert (
        "请于2021年6月6日 10:00前" in reported["text"]["zh"]
        and "工商银行" in reported["text"]["zh"]
    )
    assert "before 10:00 on 6 June 2021" in reported["text"]["en"]
    assert notice["kind"] == "loss_report_lapsed"
    assert "已自动恢复正常" in notice["text"]["zh"] and "has lapsed" in notice["text"]["en"]

    # reported again, and made formal at the bank within the term: it never lapses
    j.api("POST", f"/cards/{card}/events", "counter", {"event": "report_loss"}, expect=200)
    j.at("2021-06-08T10:00:00+08:00")
    formal = {"event": "report_loss_formally", "data": {"presented_id_number": OTHER}}
    wrong = j.api("POST", f"/cards/{card}/events", "icbc", formal, expect=409)
    assert "not the card holder's" in wrong["message_en"] and OTHER not in str(wrong)
    formal["data"]["presented_id_number"] = KIOSK
    j.api("POST", f"/cards/{card}/events", "counter", formal, expect=403)  # in person: the bank
    j.api("POST", f"/cards/{card}/events", "icbc", formal, expect=200)
    j.at("2021-06-30T10:00:00+08:00")
    j.sweep()
    shown = j.card(card)
    assert (shown["state"], shown["electronic_card"]) == ("lost", "unusable")
    assert "revoke_loss" not in shown["allowed_events"]
    j.api("POST", f"/cards/{card}/events", "counter", {"event": "revoke_loss"}, expect=409)
    assert j.card(card)["state"] == "lost"
    notices = j.api("GET", f"/cards/{card}/notices", "icbc", expect=200)["notices"]
    kinds = sorted(n["kind"] for n in notices)
    assert kinds == ["loss_report_lapsed", "loss_reported", "loss_reported"]  # no second lapse
    # reissue (补领): a new application, now accepted
    second = j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"]
    assert j.card(second)["state"] == "active"


def test_a_new_application_during_a_temporary_loss_report_says_to_make_it_formal(
    journey_factory: Any,
) -> None:
    """A card only temporarily reported lost is still the person's one card (NOTES.md, "Loss"):
    a new application is refused saying, in both languages, that the report is temporary and
    must be made formal in person at the card's bank before a reissue (补领); the refusal names
    states by their labels, never their keys, and never the ID number."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    body = {"id_number": KIOSK, "channel": "fast_issuance", "bank": "icbc", "region_code": "440604"}
    card = j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"]
    again = {**body, "channel": "counter", "bank": "boc"}
    held = j.api("POST", "/cards", "counter", again, expect=422)
    assert "状态：正常" in held["message_zh"] and "ICBC, Active)" in held["message_en"]

    j.api("POST", f"/cards/{card}/events", "counter", {"event": "report_loss"}, expect=200)
    refused = j.api("POST", "/cards", "counter", again, expect=422)
    zh, en = refused["message_zh"], refused["message_en"]
    assert "临时挂失" in zh and "本人" in zh and "工商银行网点办理正式挂失" in zh and "补领" in zh
    assert "only temporarily reported lost" in en and "formal in person at a branch of ICBC" in en
    assert "reissue" in en and f"card {card}" in en
    assert "loss_reported" not in zh + en  # the state in words, its key in the facts only
    assert KIOSK not in str(refused)
    [detail] = refused["details"]
    assert (detail["rule"], detail["facts"]["state"]) == ("one_card_per_province", "loss_reported")
    assert [c["id"] for c in _cards(j, KIOSK)] == [card]  # nothing started
    assert j.card(card)["state"] == "loss_reported"


def test_a_loss_is_not_revoked_while_another_card_is_usable(journey_factory: Any) -> None:
    """One person one card per province (huian.txt:5-9) holds when a card reported lost would
    come back while another card of the person (brought in from another system) is usable."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    body = {"id_number": KIOSK, "channel": "fast_issuance", "bank": "icbc", "region_code": "440604"}
    first = j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"]
    j.api("POST", f"/cards/{first}/events", "counter", {"event": "report_loss"}, expect=200)
    j.api("POST", f"/cards/{first}/events", "counter", {"event": "revoke_loss"}, expect=200)
    assert j.card(first)["state"] == "active"  # found again: back in use

    j.api("POST", f"/cards/{first}/events", "counter", {"event": "report_loss"}, expect=200)
    rows = f"id_number,name,region,card_number,card_bank,card_state\n{KIOSK},林芳,foshan,K-2,boc,active\n"
    j.cli("import", "people", j.file("more.csv", rows))
    [second] = [c["id"] for c in _cards(j, KIOSK) if c["id"] != first]
    refused = j.api(
        "POST", f"/cards/{first}/events", "counter", {"event": "revoke_loss"}, expect=409
    )
    assert "一人一卡" in refused["message_zh"] and str(second) in refused["message_en"]
    # the other card named by its state's words, not its key
    assert "状态：正常" in refused["message_zh"] and "Active" in refused["message_en"]
    assert "active" not in refused["message_zh"]
    assert j.card(first)["state"] == "loss_reported" and j.card(second)["state"] == "active"
    usable = [c["id"] for c in _cards(j, KIOSK) if j.card(c["id"])["electronic_card"] == "usable"]
    assert usable == [second]
    # nor does the temporary report lapse it back into use: the timer is refused (and retried)
    j.at("2021-06-08T10:00:00+08:00")
    j.sweep()
    assert j.card(first)["state"] == "loss_reported" and j.card(second)["state"] == "active"
    notices = j.api("GET", f"/cards/{first}/notices", "counter", expect=200)["notices"]
    assert "loss_report_lapsed" not in [n["kind"] for n in notices]


def _cards(j: Journey, person: str) -> list[dict[str, Any]]:
    return list(
        j.api("POST", "/people/cards", "counter", {"id_number": person}, expect=200)["cards"]
    )


def test_a_card_sealed_for_not_being_collected_tells_its_holder(journey_factory: Any) -> None:
    """(practice) Guangdong seals a card not collected or activated within a year (逾期封存卡):
    the holder is told, as they were reminded, and may apply again."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    body = {"id_number": NEWCOMER, "channel": "counter", "bank": "cmb", "region_code": "440604"}
    card = j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"]
    j.api("POST", f"/cards/{card}/events", "factory", {"event": "produce"}, expect=200)
    j.api("POST", f"/cards/{card}/events", "cmb", {"event": "notify_holder"}, expect=200)
    j.at("2022-06-02T10:00:00+08:00")
    j.sweep()
    assert j.card(card)["state"] == "cancelled"
    notices = j.api("GET", f"/cards/{card}/notices", "cmb", expect=200)["notices"]
    [sealed] = [n for n in notices if n["kind"] == "card_sealed"]
    assert "已被封存注销" in sealed["text"]["zh"] and "招商银行" in sealed["text"]["zh"]
    assert "has been sealed" in sealed["text"]["en"] and NEWCOMER not in str(sealed)
    assert "如需用卡，请重新申领" in sealed["text"]["zh"] and "apply again" in sealed["text"]["en"]
    assert j.api("POST", "/cards", "counter", body, expect=201)["card"]["state"] == "applied"

    # a replacement (换领) sealed uncollected leaves the card the person had alone, and says so
    kiosk = {"id_number": KIOSK, "channel": "fast_issuance", "bank": "cmb", "region_code": "440604"}
    old = j.api("POST", "/cards", "counter", kiosk, expect=201)["card"]["id"]
    replacing = {**kiosk, "channel": "counter", "replacement_reason": "expired"}
    new = j.api("POST", "/cards", "counter", replacing, expect=201)["card"]["id"]
    j.api("POST", f"/cards/{new}/events", "factory", {"event": "produce"}, expect=200)
    j.api("POST", f"/cards/{new}/events", "cmb", {"event": "notify_holder"}, expect=200)
    j.at("2023-06-03T10:00:00+08:00")
    j.sweep()
    assert (j.card(new)["state"], j.card(old)["state"]) == ("cancelled", "active")
    notices = j.api("GET", f"/cards/{new}/notices", "cmb", expect=200)["notices"]
    [sealed] = [n for n in notices if n["kind"] == "card_sealed"]
    assert (
        "原有的社会保障卡不受影响" in sealed["text"]["zh"]
        and "如需用卡" not in sealed["text"]["zh"]
    )
    assert "the card you had before is not affected" in sealed["text"]["en"]


def test_a_card_uncollected_for_six_months_is_taken_back_and_its_holder_told(
    journey_factory: Any,
) -> None:
    """(practice, NOTES.md) Guangdong takes a card back from the branch 6 months after it arrived
    uncollected (the region's card.uncollected_card_returned_after): the holder is told where to
    ask; the card still waits for activation, and is still sealed when its year is up."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    cards = []
    for person in (NEWCOMER, KIOSK):
        body = {"id_number": person, "channel": "counter", "bank": "cmb", "region_code": "440604"}
        card = j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"]
        j.api("POST", f"/cards/{card}/events", "factory", {"event": "produce"}, expect=200)
        j.api("POST", f"/cards/{card}/events", "cmb", {"event": "notify_holder"}, expect=200)
        cards.append(card)
    kept, collected = cards
    j.at("2021-11-30T10:00:00+08:00")  # not 6 months yet
    j.sweep()
    notices = j.api("GET", f"/cards/{kept}/notices", "cmb", expect=200)["notices"]
    assert "card_taken_back" not in [n["kind"] for n in notices]
    waiting = j.card(kept)
    assert waiting["collection_place"] == "bank_branch"
    assert "招商银行网点" in waiting["collection_place_label"]["zh"]
    j.at("2021-12-02T10:00:00+08:00")
    j.sweep()
    for card in cards:
        assert j.card(card)["state"] == "awaiting_activation"
        notices = j.api("GET", f"/cards/{card}/notices", "cmb", expect=200)["notices"]
        [back] = [n for n in notices if n["kind"] == "card_taken_back"]
        assert "已从网点收回" in back["text"]["zh"] and "招商银行" in back["text"]["zh"]
        assert "12333" in back["text"]["zh"] and "taken back from the branch" in back["text"]["en"]
        assert NEWCOMER not in str(back) and KIOSK not in str(back)
    # where the card now is, through the API and on the bank teller's record page
    shown = j.card(kept)
    assert shown["collection_place"] == "card_centre"
    assert "社保卡中心" in shown["collection_place_label"]["zh"]
    assert "card centre" in shown["collection_place_label"]["en"]
    teller = j.staff("teller_cmb", "bank_teller", "cmb")
    page = teller.page(f"/records/{kept}")
    assert "社保卡中心" in page[page.index('id="collection-place"') :]
    page = teller.page(f"/records/{kept}?lang=en")
    assert "the card centre" in page[page.index('id="collection-place"') :]
    activate = {"event": "activate", "data": {"presented_id_number": KIOSK}}
    j.api("POST", f"/cards/{collected}/events", "cmb", activate, expect=200)
    assert j.card(collected)["state"] == "active"
    assert j.card(collected)["collection_place"] is None  # with its holder now
    assert 'id="collection-place"' not in teller.page(f"/records/{collected}")
    j.at("2022-06-02T10:00:00+08:00")  # a year after arriving: the seal still comes
    j.sweep()
    assert (j.card(kept)["state"], j.card(collected)["state"]) == ("cancelled", "active")
    notices = j.api("GET", f"/cards/{kept}/notices", "cmb", expect=200)["notices"]
    assert [n["kind"] for n in notices].count("card_taken_back") == 1
    assert "card_sealed" in [n["kind"] for n in notices]


def test_a_damaged_or_expired_card_is_replaced_and_stops_when_the_new_one_works(
    journey_factory: Any,
) -> None:
    """Replacement (换领, NOTES.md): a new application while the old card is active; one person
    one card: at most one replacement in progress; the old card works until the new one is
    activated (either way), then the service cancels it in the same transaction and its account
    waits to be closed at its own bank."""
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    icbc = j.staff("teller_icbc", "bank_teller", "icbc")
    cmb = j.staff("teller_cmb", "bank_teller", "cmb")
    kiosk = {
        "id_number": KIOSK,
        "channel": "fast_issuance",
        "bank": "icbc",
        "region_code": "440604",
    }
    old = j.api("POST", "/cards", "counter", kiosk, expect=201)["card"]["id"]
    counter = {"id_number": KIOSK, "channel": "counter", "bank": "cmb", "region_code": "440605"}

    bad = j.api("POST", "/cards", "counter", {**counter, "replacement_reason": "bored"}, expect=422)
    assert bad["details"][0]["loc"] == ["replacement_reason"] and KIOSK not in str(bad)
    assert len(_cards(j, KIOSK)) == 1
    refused = j.api("POST", "/cards", "counter", counter, expect=422)  # not a replacement
    assert "one person one card per province" in refused["message_en"]

    replacing = {**counter, "replacement_reason": "damaged"}
    new = j.api("POST", "/cards", "counter", replacing, expect=201)["card"]
    assert (new["state"], new["replaces_card_id"]) == ("applied", old)
    shown = j.card(old)
    assert (shown["state"], shown["electronic_card"]) == ("active", "usable")  # still works
    again = j.api("POST", "/cards", "counter", {**replacing, "bank": "icbc"}, expect=422)
    assert "replacement" in again["message_en"] and str(new["id"]) in again["message_en"]
    # the card in progress named by its state's label, not its key
    assert (
        "状态：已申领" in again["message_zh"]
        and f"card {new['id']}, Applied)" in again["message_en"]
    )
    j.api("POST", "/cards", "counter", counter, expect=422)

    j.api("POST", f"/cards/{new['id']}/events", "factory", {"event": "produce"}, expect=200)
    j.api("POST", f"/cards/{new['id']}/events", "cmb", {"event": "notify_holder"}, expect=200)
    assert j.card(old)["state"] == "active" and icbc.task_ids() == []
    [activation] = cmb.task_ids()
    assert cmb.complete(activation, "activate", presented_id_number=KIOSK).status_code == 302
    assert j.card(new["id"])["state"] == "active"
    shown = j.card(old)
    assert (shown["state"], shown["electronic_card"]) == ("cancelled", "unusable")
    [close] = icbc.task_ids()  # the old card's account, at its own bank
    assert icbc.complete(close, "close_bank_account").status_code == 302

    # expired, replaced at a fast-issuance outlet: activated on the spot, the old one stops
    expired = {**kiosk, "replacement_reason": "expired"}
    newest = j.api("POST", "/cards", "counter", expired, expect=201)
    assert newest["card"]["state"] == "active"
    assert j.card(new["id"])["state"] == "cancelled"
    assert [c["state"] for c in _cards(j, KIOSK)].count("active") == 1

    # nothing to replace: no card, or a card that is not active (a loss report first)
    j.api("POST", "/cards", "counter", {**expired, "id_number": NEWCOMER}, expect=422)
    card = newest["card"]["id"]
    j.api("POST", f"/cards/{card}/events", "counter", {"event": "report_loss"}, expect=200)
    lost = j.api("POST", "/cards", "counter", expired, expect=422)
    assert "only an active card can be replaced" in lost["message_en"]
