"""Who paid and by which channel, in words: the one table of the channels by which people reach
the service (a payment's ``channel``: ``tax_batch``, ``wechat``, ...; a card application's:
``fast_issuance``, ``counter``, ...; an event's sender, ``channel:<name>``) and of the payer kinds
a payment keeps as codes (``payer_kind``: ``self``, ``family``, ``on_behalf``,
``medical_assistance``). A channel has a name, as a page's column or a history's actor shows it
(``web.i18n.channel_label``: 税务批量扣款 / Tax batch deduction), and the words a sentence reads
after "via" (a duplicate deduction's refusal, ``workflows.deduction_reasons``: the tax
authority's batch deduction). Source: foshan.txt:47-51 and 63 (the channels and who pays). A
code not listed here (a channel a client named itself) reads as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.policy import Label

PAYER_WORDS = {
    "self": Label("本人", "the insured person"),
    "family": Label("家庭成员", "a family member"),
    "on_behalf": Label("他人代缴", "another person on their behalf"),
    "medical_assistance": Label("医疗救助资金", "the medical assistance fund"),
}
"""Each payer kind as the subject of "paid by ..." (enrollment.yaml's ``payer_kind`` options,
and the fund that pays a year in full)."""


@dataclass(frozen=True)
class ChannelWords:
    """A channel in Chinese (the same in a name and in a sentence) and in English twice."""

    zh: str
    en: str
    """As a page names it (``Tax batch deduction``)."""
    en_via: str
    """As a sentence reads it after "via" (``the tax authority's batch deduction``)."""

    @property
    def name(self) -> Label:
        return Label(self.zh, self.en)

    @property
    def via(self) -> Label:
        return Label(self.zh, self.en_via)


CHANNELS = {
    "tax_batch": ChannelWords(
        "税务批量扣款", "Tax batch deduction", "the tax authority's batch deduction"
    ),
    "medical_assistance": ChannelWords(
        "医疗救助资金", "Medical assistance fund", "the medical assistance fund"
    ),
    "tax_app": ChannelWords("个人所得税客户端", "Tax authority app", "the tax authority's app"),
    "tax_hall": ChannelWords("办税服务厅", "Tax service hall", "a tax service hall"),
    "wechat": ChannelWords("微信", "WeChat", "WeChat"),
    "alipay": ChannelWords("支付宝", "Alipay", "Alipay"),
    "bank_counter": ChannelWords("银行柜台", "Bank counter", "a bank counter"),
    "online": ChannelWords("网上办事大厅", "Online service hall", "the online service hall"),
    "counter": ChannelWords("柜台", "Counter", "a counter"),
    "12333": ChannelWords("12333 热线", "12333 hotline", "the 12333 hotline"),
    "fast_issuance": ChannelWords("即时制卡", "Instant card issuance", "instant card issuance"),
    "office": ChannelWords("经办机构", "Insurance office", "an insurance office"),
}
"""Each channel's words (a payment's, a card application's, an event sender's)."""


def payer_words(payer: str) -> Label:
    """``payer`` (a payer kind) in words; an unknown one as it is."""
    return PAYER_WORDS.get(payer, Label(payer, payer))


def channel_name(channel: str) -> Label:
    """``channel`` as a page names it; an unknown one (named by a client) as it is."""
    found = CHANNELS.get(channel)
    return found.name if found else Label(channel, channel)


def channel_words(channel: str) -> Label:
    """``channel`` as a sentence reads it after "via"; an unknown one as it is."""
    found = CHANNELS.get(channel)
    return found.via if found else Label(channel, channel)


__all__ = [
    "CHANNELS",
    "PAYER_WORDS",
    "ChannelWords",
    "channel_name",
    "channel_words",
    "payer_words",
]
