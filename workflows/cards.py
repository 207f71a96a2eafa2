"""Card rules and operations: channels, same-ID activation, one person one card per province.

Sources: foshan-card-one-card-and-2022-medical-insurance.txt (lines 18-34: fast issuance on the
spot, online and counter applications produced then activated in person with the ID used to apply,
production progress; lines 36-40: the electronic card issued alongside a third-generation card;
line 26: partner banks) and quanzhou-huian-cards-and-2023-medical-insurance.txt (lines 7-9: one
person one card per province; unusable cards have their bank account closed at the bank's counter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine import queries
from engine.errors import DuplicateInstance, TransitionRefused, WorkflowError
from engine.registry import Registry, TransitionContext
from engine.runtime import Engine, Idempotency, Transition, request_hash
from engine.sqlexec import Tx
from engine.statements import instances
from workflows.identity import InvalidIdNumber, mask_id_number, validate_id_number

FAST_ISSUANCE = "fast_issuance"
CHANNELS = (FAST_ISSUANCE, "online", "counter")

# Foshan's 17 partner banks (Foshan document, line 26).
BANKS: dict[str, str] = {
    "icbc": "工商银行",
    "abc": "农业银行",
    "boc": "中国银行",
    "ccb": "建设银行",
    "ceb": "光大银行",
    "foshan_rcb": "佛山农商",
    "nanhai_rcb": "南海农商",
    "shunde_rcb": "顺德农商",
    "cgb": "广发银行",
    "crbank": "华润银行",
    "bocom": "交通银行",
    "psbc": "邮储银行",
    "gzcb": "广州银行",
    "citic": "中信银行",
    "pingan": "平安银行",
    "cib": "兴业银行",
    "cmb": "招商银行",
}

# States in which a card is usable (or on its way to being usable): a second card is refused then.
USABLE_STATES = ("applied", "produced", "awaiting_activation", "active")

# The events that lead a new card to each state (imports, demo data).
EVENTS_TO: dict[str, tuple[str, ...]] = {
    "applied": (),
    "produced": ("produce",),
    "awaiting_activation": ("produce", "notify_holder"),
    "active": ("produce", "notify_holder", "activate"),
    "lost": ("produce", "notify_holder", "activate", "report_loss"),
    "cancelled": ("produce", "notify_holder", "activate", "cancel"),
    "bank_account_closed": (
        "produce",
        "notify_holder",
        "activate",
        "report_loss",
        "close_bank_account",
    ),
}

# Production progress (制卡进度) as the holder sees it: each step and the events that complete it.
PROGRESS_STEPS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("applied", "已申领", "Applied", ("start",)),
    ("produced", "已制卡", "Produced", ("produce", "issue_on_the_spot")),
    (
        "notified",
        "银行已通知领卡",
        "Bank notified the holder",
        ("notify_holder", "issue_on_the_spot"),
    ),
    ("activated", "已激活", "Activated", ("activate", "issue_on_the_spot")),
)


class CardApplicationRefused(WorkflowError):
    """An application the rules refuse (bad ID, unknown channel or bank, a card already held)."""

    code = "card_application_refused"


@dataclass(frozen=True)
class ProgressStep:
    step: str
    label_zh: str
    label_en: str
    done_at: datetime | None


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


def presented_id_matches_application(ctx: TransitionContext) -> bool:
    """Activation in person only with the same ID document used to apply (Foshan doc, line 29)."""
    presented = str(ctx.data.get("presented_id_number", ""))
    try:
        presented = validate_id_number(presented)
    except InvalidIdNumber as exc:
        raise TransitionRefused(exc.message_zh, exc.message_en) from None
    if presented != ctx.variables.get("id_number"):
        raise TransitionRefused(
            f"出示的证件 {mask_id_number(presented)} 与申领时使用的证件不一致，不能激活",
            f"the presented ID {mask_id_number(presented)} is not the one used to apply; "
            "activation refused",
        )
    return True


def register(registry: Registry) -> None:
    registry.add_guard("fast_issuance_channel", fast_issuance_channel)
    registry.add_guard("presented_id_matches_application", presented_id_matches_application)


def apply_for_card(
    engine: Engine,
    *,
    id_number: str,
    channel: str,
    bank: str,
    region_code: str,
    actor: str,
    outlet: str | None = None,
    idempotency: Idempotency | None = None,
) -> Transition:
    """Accept an application; a fast-issuance one is produced and activated in the same visit.

    Raises:
        CardApplicationRefused: invalid ID number, unknown channel or bank, or the person already
            has a usable card in this province (one person one card per province).
    """
    try:
        person = validate_id_number(id_number)
    except InvalidIdNumber as exc:
        raise CardApplicationRefused(exc.message_zh, exc.message_en) from None
    if channel not in CHANNELS:
        raise CardApplicationRefused(f"未知的申领渠道：{channel}", f"unknown channel: {channel}")
    if bank not in BANKS:
        raise CardApplicationRefused(f"未知的合作银行：{bank}", f"unknown partner bank: {bank}")
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise CardApplicationRefused(
            f"地区代码无效：{region_code}", f"bad region code: {region_code}"
        )
    key = card_key(person, region_code)
    variables: dict[str, Any] = {
        "id_number": person,
        "channel": channel,
        "bank": bank,
        "region_code": region_code,
        "province": region_code[:2],
        "outlet": outlet,
        # Third-generation cards made from 2021-01-01 come with an electronic card (lines 36-37).
        "electronic_card": True,
    }
    definition = engine.definition("card")

    def work(tx: Tx) -> Transition:
        _refuse_second_card(engine, tx, key)
        started = engine.start_in(tx, definition, "applied", key, variables, actor)
        if channel != FAST_ISSUANCE:
            return started
        return engine.fire_in(
            tx, engine.load(tx, started.instance_id), "issue_on_the_spot", actor, {}
        )

    if idempotency is None:
        return engine.transaction(work)
    return engine.run_idempotent(idempotency, request_hash("apply_for_card", variables), work)


def _refuse_second_card(engine: Engine, tx: Tx, key: str) -> None:
    try:
        engine.check_exclusive(tx, "card", key, USABLE_STATES)
    except DuplicateInstance as found:
        raise CardApplicationRefused(
            f"省内一人一卡：该居民已有可用社保卡（卡 {found.instance_id}，状态 {found.state}），"
            "不能再次申领",
            f"one person one card per province: this person already has a usable card "
            f"(card {found.instance_id}, {found.state}); a second application is refused",
        ) from None


def report_loss(engine: Engine, card_id: int, actor: str) -> Transition:
    """Report a card lost; a bank-teller task to close its account opens at the card's bank."""
    return engine.fire(card_id, "report_loss", actor=actor)


def cancel_card(engine: Engine, card_id: int, actor: str, reason: str) -> Transition:
    """Cancel a card at a service outlet; its bank account must then be closed at the bank."""
    return engine.fire(card_id, "cancel", actor=actor, data={"reason": reason})


def production_progress(engine: Engine, card_id: int) -> list[ProgressStep]:
    """The card's production progress (制卡进度) from its history (Foshan document, line 34)."""
    done: dict[str, datetime] = {}
    for entry in queries.history(engine.db, card_id):
        done.setdefault(entry["event"], entry["occurred_at"])
    steps = []
    for step, zh, en, events in PROGRESS_STEPS:
        when = next((done[e] for e in events if e in done), None)
        steps.append(ProgressStep(step, zh, en, when))
    return steps


def electronic_card_status(card_state: str) -> str:
    """The electronic card follows the physical one: usable only while that card is active."""
    return "usable" if card_state == "active" else "unusable"


def cards_of(engine: Engine, id_number: str) -> Sequence[dict[str, Any]]:
    """Every card of a person, in any province, oldest first."""
    person = validate_id_number(id_number)
    query = (
        select(
            instances.c.id,
            instances.c.business_key,
            instances.c.state,
            instances.c.variables,
            instances.c.created_at,
        )
        .where(instances.c.process == "card", instances.c.business_key.like(f"%:{person}"))
        .order_by(instances.c.id)
    )
    with engine.db.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
