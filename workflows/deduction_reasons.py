"""Why a row of a deduction result file is rejected or left unchanged, in Chinese and in English:
the one place each reason's two texts are written. The file's reader (``workflows.deduction_file``)
and the row verdicts (``workflows.deduction_rows``) name a reason here; every door that shows a
file's report (``shebao import deductions``, the API's ``unchanged``) shows both texts. What a
reason echoes of the file is masked (``mask_id_numbers_in``) and cut at ``ECHOED`` characters.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import WorkflowError
from workflows.identity import InvalidIdNumber, mask_id_numbers_in
from workflows.payment_words import channel_words, payer_words
from workflows.policy import Label

ECHOED = 40
"""The most of a cell a rejection echoes (masked: ``mask_id_numbers_in``)."""

UNCHANGED = {
    "already_paid": Label("已缴费", "the year is already paid"),
    "already_lapsed": Label("已断保", "the year has already lapsed"),
    "already_refunded": Label("已退费", "the year's payment was refunded"),
    "already_closed": Label("已结束", "the year is already closed"),
    "again": Label("该结果已记录", "this result is on record already"),
}
"""Why a refused result changes nothing: the file's report counts the rows under both texts in
one line (``workflows.deduction_rows.said``), the API answers them as a label."""


def echo(value: str) -> str:
    """A cell as a rejection quotes it: any ID number in it masked, at most ``ECHOED`` long."""
    shown = mask_id_numbers_in(value)
    return repr(shown if len(shown) <= ECHOED else shown[:ECHOED] + "…")


def control_characters(columns: Sequence[str]) -> Label:
    """A cell holds a control character (a NUL, a line break in quotes): never stored."""
    names = ", ".join(columns)
    return Label(
        f"含有控制字符（如空字符、引号内换行）的列：{names}",
        f"control characters (a NUL, a line break) in: {names}",
    )


def bad_id_number(problem: InvalidIdNumber) -> Label:
    """The ``id_number`` cell is no valid resident ID number (GB 11643)."""
    return Label(f"id_number 列：{problem.message_zh}", f"id_number: {problem.message_en}")


def other_year(cell: str, year: int) -> Label:
    """The row's ``policy_year`` is not the year of the policy being imported."""
    shown = echo(cell)
    return Label(f"参保年度 {shown} 不是 {year} 年", f"policy_year {shown} is not {year}")


def unknown_result(cell: str) -> Label:
    """The row's ``result`` is none of success/failed (成功/失败)."""
    shown = echo(cell)
    return Label(
        f"扣费结果 {shown} 不是 成功/失败（success/failed）",
        f"result {shown} is not success/failed",
    )


def no_enrollment(policy: Label, masked: str) -> Label:
    """The person (``masked``: their masked ID number) has no live year of ``policy`` (its
    name in words: ``Policy.title``)."""
    return Label(f"{masked} 没有{policy.zh}的参保记录", f"no {policy.en} enrollment for {masked}")


def not_allowed_now(instance_id: int, state: Label | None, event: Label) -> Label:
    """The year's state does not take the row's event (their labels; ``state`` None: none)."""
    zh_state = state.zh if state is not None else "-"
    en_state = state.en if state is not None else "-"
    return Label(
        f"参保记录 {instance_id} 当前为「{zh_state}」，不能记录「{event.zh}」",
        f"enrollment {instance_id} is {en_state}: {event.en} not allowed now",
    )


def duplicate_payment(
    instance_id: int, when: str, paid: str, payer: str, channel: str | None, taken: str
) -> Label:
    """Money taken for a year already paid: a duplicate payment to refund. ``paid`` and
    ``taken``: amounts in yuan (digits) or what the row said; ``payer`` and ``channel``: the
    payer kind and the channel of the payment on record (codes, as the payment keeps them),
    named in words (``workflows.payment_words``)."""
    who = payer_words(payer)
    by_zh, by_en = who.zh, who.en
    if channel and channel != payer:
        via = channel_words(channel)
        by_zh, by_en = f"{who.zh}，渠道 {via.zh}", f"{who.en} via {via.en}"
    return Label(
        f"参保记录 {instance_id} 已于 {when} 缴费（{_yuan_zh(paid)}，缴费方 {by_zh}），"
        f"本次扣款 {_yuan_zh(taken)}属重复缴费，需要退费",
        f"enrollment {instance_id} was already paid on {when} ({_yuan_en(paid)}, by {by_en}): "
        f"this deduction of {_yuan_en(taken)} is a duplicate payment, refund needed",
    )


def taken_for_ended(why: Label, taken: str) -> Label:
    """Money deducted for a year that has ended (``why``: refunded, closed on leaving): the
    year's words, and the deduction of ``taken`` yuan to give back."""
    return Label(
        f"{why.zh}；本次扣款 {_yuan_zh(taken)}需要退还",
        f"{why.en}; this deduction of {_yuan_en(taken)} is to be refunded",
    )


def refused(error: WorkflowError) -> Label:
    """A row the event's checks or guards refused (malformed data, the amount due, the payment
    period): the error's own two texts."""
    return Label(error.message_zh, error.message_en)


def _yuan_zh(amount: str) -> str:
    return f"{amount} 元" if _is_amount(amount) else amount


def _yuan_en(amount: str) -> str:
    return f"{amount} yuan" if _is_amount(amount) else amount


def _is_amount(amount: str) -> bool:
    return amount.replace(".", "", 1).lstrip("-").isdigit()
