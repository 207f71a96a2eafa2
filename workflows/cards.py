"""Card rules the card definition names: fast issuance on the spot, activation with the same ID."""

from __future__ import annotations

from engine.errors import TransitionRefused
from engine.registry import Registry, TransitionContext
from workflows.identity import InvalidIdNumber, mask_id_number, validate_id_number

FAST_ISSUANCE = "fast_issuance"
CHANNELS = (FAST_ISSUANCE, "online", "counter")


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
