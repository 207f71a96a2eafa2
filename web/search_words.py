"""The words of the staff search and of the pages it leads to (a person, a card, an insurance
year, a record's history), in Chinese and English. A data module, part of ``web.words.WORDS``,
split from it by page; keys are unique across the parts (``tests/web/test_translations.py``)."""

from __future__ import annotations

from engine.definition import Label

SEARCH_WORDS: dict[str, Label] = {
    "search": Label("查询", "Search"),
    "search_placeholder": Label(
        "身份证号、社保卡号、姓名或业务键", "ID number, card number, name or business key"
    ),
    "search_results": Label("查询结果", "Search results"),
    "search_hint": Label(
        "在页面顶部的查询框输入身份证号码、社保卡号、姓名（开头几个字）或业务键。",
        "Type an ID number, a card number, the start of a name or a business key into the"
        " search box at the top of any page.",
    ),
    "search_kind_id_number": Label("按身份证号码", "by ID number"),
    "search_kind_card_number": Label("按社保卡号", "by card number"),
    "search_kind_business_key": Label("按业务键", "by business key"),
    "search_kind_name": Label("按姓名开头", "by the start of a name"),
    "search_empty": Label("请输入要查询的内容", "Type something to search for"),
    "search_too_long": Label(
        "查询内容过长（最多 64 个字符）", "The query is too long (64 characters at most)"
    ),
    "search_bad_characters": Label(
        "查询内容含有不可打印的字符", "The query has characters that cannot be printed"
    ),
    "no_results": Label("没有找到您有权查看的记录", "Nothing found that you may see"),
    "search_expired": Label(
        "该查询结果已不可用（查询只在本次登录内保留），请重新查询。",
        "These search results are no longer available (a search is kept for this login only):"
        " please search again.",
    ),
    "more_results": Label(
        "匹配的记录较多，仅显示前 {n} 条；请输入更完整的内容",
        "More records match; the first {n} are shown: type more of it",
    ),
    "people": Label("参保人员", "People"),
    "cards": Label("社会保障卡", "Cards"),
    "enrollments": Label("年度参保", "Insurance years"),
    "tasks": Label("待办任务", "Open tasks"),
    "name": Label("姓名", "Name"),
    "card_number": Label("社保卡号", "Card number"),
    "policy_year": Label("年度", "Year"),
    "amount_due": Label("应缴金额", "Amount due"),
    "amount_paid": Label("已缴金额", "Amount paid"),
    "paid_at": Label("缴费时间", "Paid"),
    "payer": Label("缴费人", "Payer"),
    "channel": Label("渠道", "Channel"),
    "yuan": Label("元", "yuan"),
    "not_payable": Label("不可缴费", "Cannot be paid"),
    "nothing_due": Label("无需缴费", "Nothing due"),
    "refund_amount": Label("已退金额", "Refunded"),
    "refunded_at": Label("退费时间", "Refunded at"),
    "person_page": Label("参保人员档案", "Person"),
    "open_person": Label("查看人员档案", "Open the person's page"),
    "record": Label("记录", "Record"),
    "card_reviews": Label("一人多卡核查", "Extra cards reviews"),
    "history_of": Label("{what}的办理记录", "History of {what}"),
    "claim_reduction": Label("申请减免（资助参保）", "Claim a reduction"),
    "claim_note": Label(
        "参保后新符合减免条件的，凭证明材料申请，由医保经办人员审核。",
        "Someone who comes into a reduction category after registering claims it with the"
        " certificate; a medical-insurance clerk reviews it.",
    ),
    "claim_category": Label("减免类别", "Reduction category"),
    "claim_evidence": Label("证明材料（证件名称及编号）", "Evidence (certificate and number)"),
    "claim_submit": Label("提交减免申请", "File the claim"),
    "claim_filed": Label("减免申请已提交，待审核", "The claim is filed for review"),
}
