"""Card rules and operations: channels, same-ID activation, one person one card per province.

Sources: foshan-card-one-card-and-2022-medical-insurance.txt (lines 18-34: fast issuance on the
spot, online and counter applications produced then activated in person with the ID used to apply;
line 26: partner banks) and quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 7-9: one
person one card per province; unusable cards have their bank account closed at the bank's counter).
Which states are usable or replaceable are tags of ``definitions/card.yaml``, each card judged by
the tags of its own definition version (a card left on an older version whose state a newer one
renamed is still usable); regions and their partner banks come from the policies. What a holder is
told of their cards (production progress, the electronic card) is ``workflows.card_status``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.errors import DuplicateInstance, TransitionRefused
from engine.registry import Registry
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.transition_context import InstanceView, TransitionContext
from engine.tx import Tx
from workflows.identity import (
    InvalidIdNumber,
    mask_id_number,
    mask_id_numbers_in,
    validate_id_number,
)
from workflows.regions import Regions
from workflows.rule_facts import (
    CARD_NOT_REPLACEABLE,
    NO_CARD_TO_REPLACE,
    ONE_CARD_PER_PROVINCE,
    RefusedByRule,
    RuleRefusal,
)
from workflows.service_date import service_today

FAST_ISSUANCE = "fast_issuance"
CHANNELS = (FAST_ISSUANCE, "online", "counter")
PROCESS = "card"
USABLE = "usable"
REPLACEABLE = "replaceable"
# A card only temporarily reported lost (NOTES.md, "Loss"): still the person's one card.
LOSS_PENDING = "loss_pending"
# Replacement (换领, NOTES.md): a new application for a damaged or expired card.
REPLACEMENT_REASONS = {
    "damaged": ("卡片损坏", "damaged"),
    "expired": ("有效期满", "expired"),
}
REPLACES = "replaces_card_id"


class CardApplicationRefused(RefusedByRule):
    """An application the rules refuse (bad ID, unknown channel or bank, a card already held);
    ``by_rule``: refused by a rule, ``problems`` naming the field with the facts that decided it
    (``workflows.rule_facts``)."""

    code = "card_application_refused"


def _card_facts(key: str, card: InstanceView) -> dict[str, Any]:
    """What a one-card rule names of the card that decided it: never the holder's ID number."""
    return {
        "province": key.split(":", 1)[0],
        "card_id": card.id,
        "state": card.state,
        "bank": card.variables.get("bank"),
    }


def card_key(id_number: str, region_code: str) -> str:
    """The card's business key: the province (first two digits of the region code) and the ID."""
    return f"{region_code[:2]}:{id_number}"


def fast_issuance_channel(ctx: TransitionContext) -> bool:
    """Only a fast-issuance application is produced and activated in the same visit."""
    if ctx.variables.get("channel") != FAST_ISSUANCE:
        raise TransitionRefused(
            "仅快速发卡网点的申领可当场制卡激活",
            "only fast-issuance applications are activated on the spot",
        )
    return True


def _presented_id(ctx: TransitionContext) -> tuple[str, bool]:
    """The ID number presented in person (validated), and whether it is the card holder's."""
    presented = str(ctx.data.get("presented_id_number", ""))
    try:
        presented = validate_id_number(presented, today=service_today(ctx.now))
    except InvalidIdNumber as exc:
        raise TransitionRefused(exc.message_zh, exc.message_en) from None
    return presented, presented == ctx.variables.get("id_number")


def presented_id_matches_application(ctx: TransitionContext) -> bool:
    """Activation in person only with the same ID document used to apply (Foshan doc, line 29)."""
    presented, matches = _presented_id(ctx)
    if not matches:
        raise TransitionRefused(
            f"出示的证件 {mask_id_number(presented)} 与申领时使用的证件不一致，不能激活",
            f"the presented ID {mask_id_number(presented)} is not the one used to apply; "
            "activation refused",
        )
    return True


def presented_id_is_holders(ctx: TransitionContext) -> bool:
    """A formal loss report (正式挂失) is made in person by the holder, with their ID document
    (NOTES.md, "Loss (practice)"): refused when the presented ID is not the card holder's."""
    presented, matches = _presented_id(ctx)
    if not matches:
        raise TransitionRefused(
            f"出示的证件 {mask_id_number(presented)} 不是持卡人本人的证件，不能办理正式挂失",
            f"the presented ID {mask_id_number(presented)} is not the card holder's; "
            "formal loss report refused",
        )
    return True


def no_other_usable_card(ctx: TransitionContext) -> bool:
    """One person one card per province, kept when a card comes back into use (a temporary loss
    report revoked): refused while another card of the person in the province is usable (one
    brought in from another system, awaiting its review)."""
    others = [
        c
        for c in ctx.find(PROCESS, str(ctx.business_key))
        if c.id != ctx.instance_id
        and USABLE in c.tags
        and c.variables.get(REPLACES) != ctx.instance_id  # its own replacement, in progress
    ]
    if others:
        other = others[0]
        zh, en = _state_words(other)
        raise TransitionRefused(
            f"省内一人一卡：该居民已有可用社保卡（卡 {other.id}，状态：{zh}），本卡不能恢复使用",
            f"one person one card per province: this person has a usable card already "
            f"(card {other.id}, {en}); this one cannot come back into use",
        )
    return True


def retire_replaced_card(ctx: TransitionContext) -> None:
    """A replacement (换领) activated: the card it replaces stops working, cancelled by the
    service in the same transaction (its bank account then waits to be closed at its bank, as
    for any cancelled card). Nothing to do for a card that is no replacement, or when the old
    card is no longer usable (reported lost formally, cancelled meanwhile)."""
    old = ctx.variables.get(REPLACES)
    if old is None:
        return
    reason_zh, reason_en = REPLACEMENT_REASONS.get(
        str(ctx.variables.get("replacement_reason")), ("换领", "replaced")
    )
    for card in ctx.find(PROCESS, str(ctx.business_key)):
        if card.id == old and USABLE in card.tags:
            ctx.emit(
                "cancel",
                card.id,
                {
                    "reason": f"换领（{reason_zh}），新卡 {ctx.instance_id} 已激活 / "
                    f"replaced ({reason_en}): new card {ctx.instance_id} activated"
                },
            )


COLLECTION_PLACE = "collection_place"
"""Where an uncollected card waits: at its bank's branch (no value), or ``card_centre`` once
taken back from the branch (``take_back_uncollected``, the region's
``card.uncollected_card_returned_after``); shown in words by ``workflows.card_collection``."""
CARD_CENTRE = "card_centre"
TAKE_BACK = "take_back_uncollected_card"
"""The action that takes an uncollected card back: the states its events leave are those in
which a card waits for collection."""


def take_back_uncollected_card(ctx: TransitionContext) -> None:
    """A card uncollected past the region's term is taken back from the branch: it now waits
    for collection at the card centre (it can still be activated, and is still sealed when its
    year is up)."""
    ctx.variables[COLLECTION_PLACE] = CARD_CENTRE


def register(registry: Registry) -> None:
    registry.add_action("retire_replaced_card", retire_replaced_card)
    registry.add_action(TAKE_BACK, take_back_uncollected_card)
    registry.add_guard("fast_issuance_channel", fast_issuance_channel)
    registry.add_guard("presented_id_matches_application", presented_id_matches_application)
    registry.add_guard("presented_id_is_holders", presented_id_is_holders)
    registry.add_guard("no_other_usable_card", no_other_usable_card)


def card_variables(
    regions: Regions,
    *,
    id_number: str,
    bank: str,
    region_code: str,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """A card's variables, checked: a valid ID (born by ``now``'s day, the service clock's),
    a covered region, one of its partner banks.

    Raises:
        CardApplicationRefused: naming what is wrong.
    """
    try:
        person = validate_id_number(id_number, today=service_today(now))
    except InvalidIdNumber as exc:
        raise CardApplicationRefused(exc.message_zh, exc.message_en) from None
    # what a refusal quotes of the caller's values, any ID number in them masked (a column
    # shifted in an import's row puts someone's number in the bank's or the region code's place)
    if channel not in CHANNELS:
        shown = mask_id_numbers_in(channel)
        raise CardApplicationRefused(f"未知的申领渠道：{shown}", f"unknown channel: {shown}")
    region = regions.by_code(region_code) if len(region_code) == 6 else None
    if region is None:
        shown = mask_id_numbers_in(region_code)
        raise CardApplicationRefused(
            f"本系统不办理该地区的社保卡：{shown}", f"no region served here has the code {shown}"
        )
    if bank not in region.banks:
        shown = mask_id_numbers_in(bank)
        raise CardApplicationRefused(
            f"{shown} 不是{region.name.zh}的社保卡合作银行",
            f"{shown} is not a partner bank of {region.name.en}",
        )
    return {
        "id_number": person,
        "channel": channel,
        "bank": bank,
        "region_code": region_code,
        "region": region.key,
        "province": region.province,
        # Third-generation cards made from 2021-01-01 come with an electronic card (lines 36-37).
        "electronic_card": True,
    }


def apply_for_card(
    engine: Engine,
    regions: Regions,
    *,
    id_number: str,
    channel: str,
    bank: str,
    region_code: str,
    actor: str,
    outlet: str | None = None,
    replacement_reason: str | None = None,
    idempotency: Idempotency | None = None,
) -> Transition:
    """Accept an application; a fast-issuance one is produced and activated in the same visit.

    With ``replacement_reason`` (``damaged``, ``expired``) it is a replacement (换领) of the
    person's active card in the province, which works until the new card is activated (then the
    ``retire_replaced_card`` action cancels it).

    Raises:
        CardApplicationRefused: invalid ID number, unknown channel, region or bank, or the person
            already has a usable card in this province (one person one card per province); for
            a replacement: an unknown reason, no active card to replace, or a replacement in
            progress already.
    """
    variables = card_variables(
        regions,
        id_number=id_number,
        bank=bank,
        region_code=region_code,
        channel=channel,
        now=engine.clock.now(),
    )
    variables["outlet"] = outlet
    if replacement_reason is not None:
        if replacement_reason not in REPLACEMENT_REASONS:
            raise CardApplicationRefused(
                f"未知的换领原因：{replacement_reason}（可选：damaged 损坏、expired 到期）",
                f"unknown replacement reason: {replacement_reason} (damaged or expired)",
            )
        variables["replacement_reason"] = replacement_reason
    key = card_key(variables["id_number"], region_code)
    definition = engine.definition(PROCESS)

    def work(tx: Tx) -> Transition:
        if replacement_reason is None:
            refuse_second_card(engine, regions, tx, key)
        else:
            variables[REPLACES] = card_to_replace(engine, tx, key)
        started = engine.start_in(tx, definition, definition.initial[0], key, variables, actor)
        if channel != FAST_ISSUANCE:
            return started
        [on_the_spot] = [
            e.name for e in definition.events.values() if "fast_issuance_channel" in e.guards
        ]
        return engine.fire_in(tx, engine.load(tx, started.instance_id), on_the_spot, actor, {})

    if idempotency is None:
        return engine.transaction(work)
    return engine.run_idempotent(idempotency, request_hash("apply_for_card", variables), work)


def usable_in_any_version(engine: Engine) -> frozenset[str]:
    """The states tagged ``usable`` in any loaded version of the card definition: what
    ``Engine.check_exclusive`` is given, as it judges state names, not tags per version. A
    superset: a name usable in one version only is judged by each card's own version after."""
    return frozenset(
        state
        for definition in engine.all_definitions()
        if definition.key == PROCESS
        for state in definition.tagged(USABLE)
    )


def usable_cards(engine: Engine, tx: Tx, key: str) -> list[InstanceView]:
    """The cards of ``key`` usable by the tags of their own definition version, oldest first."""
    return [c for c in engine.find(tx, PROCESS, key) if USABLE in c.tags]


def _state_words(card: InstanceView) -> tuple[str, str]:
    """A card's state in Chinese and English, in its own version's words (the name if none)."""
    return (card.label.zh, card.label.en) if card.label else (card.state, card.state)


def refuse_second_card(engine: Engine, regions: Regions, tx: Tx, key: str) -> None:
    """One person one card per province: refuse when ``key`` holds a card usable by its own
    version's tags, naming it by its state's label and bank. A card only temporarily reported
    lost (a state tagged ``loss_pending``) still counts; the refusal then says that reissue (补领)
    needs the loss report made formal in person at the card's bank (NOTES.md, "Loss"). The
    cards are read only when ``check_exclusive`` finds one in a state usable in some version."""
    try:
        engine.check_exclusive(tx, PROCESS, key, usable_in_any_version(engine))
    except DuplicateInstance:
        held = usable_cards(engine, tx, key)
        if not held:
            return  # its state is usable in another version only, not in the card's own
        # the card to name: one in normal use, before one only temporarily reported lost
        held.sort(key=lambda c: LOSS_PENDING in c.tags)
        card = held[0]
        bank = _bank_words(regions, card.variables.get("bank"))
        facts = _card_facts(key, card)
        if LOSS_PENDING in card.tags:
            temporary = RuleRefusal(
                ONE_CARD_PER_PROVINCE,
                f"省内一人一卡：该居民的社保卡（卡 {card.id}，{bank[0]}）仅为临时挂失，仍是其本人"
                f"的社保卡，不能再次申领。如卡片确已遗失，请本人携带身份证件到{bank[0]}网点办理正式"
                "挂失，之后方可补领新卡",
                f"one person one card per province: this person's card {card.id} ({bank[1]}) is "
                "only temporarily reported lost and is still their card, so a new application is "
                "refused; if the card is really lost, the holder must make the loss report formal "
                f"in person at a branch of {bank[1]}, with their ID document, before a new card "
                "can be issued (reissue)",
                facts,
            )
            raise CardApplicationRefused.by_rule(temporary, "id_number") from None
        zh, en = _state_words(card)
        held_one = RuleRefusal(
            ONE_CARD_PER_PROVINCE,
            f"省内一人一卡：该居民已有可用社保卡（卡 {card.id}，{bank[0]}，状态：{zh}），"
            "不能再次申领",
            f"one person one card per province: this person already has a usable card "
            f"(card {card.id}, {bank[1]}, {en}); a second application is refused",
            facts,
        )
        raise CardApplicationRefused.by_rule(held_one, "id_number") from None


def _bank_words(regions: Regions, code: Any) -> tuple[str, str]:
    """A partner bank's name in Chinese and English (the code when no region lists it)."""
    if not code:
        return "发卡银行", "the card's bank"
    label = regions.bank_label(str(code))
    return (label.zh, label.en) if label else (str(code), str(code))


def card_to_replace(engine: Engine, tx: Tx, key: str) -> int:
    """The card a replacement (换领) for ``key`` replaces: the person's one usable card in the
    province, in a state tagged ``replaceable`` (active), each judged by its own version's tags;
    refused when there is none, when it is not active, or when a replacement is in progress
    already (two usable cards). Read under the key's lock (``refuse_second_card``'s): concurrent
    replacements and applications of one person run one after another, so a second one sees the
    first's card and is refused."""
    engine.lock_key(tx, PROCESS, key)
    usable = usable_cards(engine, tx, key)
    if not usable:
        none = RuleRefusal(
            NO_CARD_TO_REPLACE,
            "该居民在本省没有可换领的社保卡，请按新申领办理",
            "this person has no card in this province to replace; apply for a new card instead",
            {"province": key.split(":", 1)[0]},
        )
        raise CardApplicationRefused.by_rule(none, "id_number")
    if len(usable) > 1:
        newest = usable[-1]
        zh, en = _state_words(newest)
        second = RuleRefusal(
            ONE_CARD_PER_PROVINCE,
            f"省内一人一卡：该居民已有换领或其他可用社保卡在办理中（卡 {newest.id}，"
            f"状态：{zh}），不能再次换领",
            f"one person one card per province: a replacement or another usable card is in "
            f"progress already (card {newest.id}, {en}); a second replacement is refused",
            _card_facts(key, newest),
        )
        raise CardApplicationRefused.by_rule(second, "id_number")
    [card] = usable
    if REPLACEABLE not in card.tags:
        zh, en = _state_words(card)
        not_active = RuleRefusal(
            CARD_NOT_REPLACEABLE,
            f"只有正常状态的社保卡可以换领（卡 {card.id}，状态 {zh}）",
            f"only an active card can be replaced (card {card.id} is {en})",
            _card_facts(key, card),
        )
        raise CardApplicationRefused.by_rule(not_active, "id_number")
    return card.id
