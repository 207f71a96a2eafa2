"""Region policy files: loading, validation, amounts, deadlines, benefit start dates, refunds and
the predecessor years that default renewal (默认续保) carries people from.

Cited sources (under /work/shared/domain/): "huian.txt" is
quanzhou-huian-cards-and-2023-medical-insurance.txt, "foshan.txt" is
foshan-card-one-card-and-2022-medical-insurance.txt; "(practice)" values come from NOTES.md;
"(assumed)" values are stated in the policy files with what they stand in for (fees: the national
minimum announced the year before, e.g. 医保发〔2021〕32号 320 / 580 for 2022).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from workflows.policy import (
    REFUND_REASONS,
    LatePaymentRefused,
    Policy,
    PolicyError,
    RefundDecision,
)
from workflows.policy_loader import load_policies, load_policy

POLICIES = Path(__file__).resolve().parents[2] / "definitions" / "policies"
CST = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment in China Standard Time."""
    return datetime(y, m, d, hour, minute, tzinfo=CST)


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return load_policies(POLICIES)


@pytest.fixture(scope="module")
def huian(policies) -> Policy:
    return policies["huian-2023"]


@pytest.fixture(scope="module")
def foshan(policies) -> Policy:
    return policies["foshan-2022"]


def test_every_shipped_policy_loads(policies):
    assert sorted(policies) == ["foshan-2021", "foshan-2022", "huian-2022", "huian-2023"]
    assert all(Path(p.source).stem == key for key, p in policies.items())
    assert all(key == f"{p.region.key}-{p.year}" for key, p in policies.items())


@pytest.mark.parametrize(
    ("policy", "renews_from"),
    [
        ("foshan-2022", "foshan-2021"),
        ("huian-2023", "huian-2022"),  # huian.txt:29 默认续保登记
        ("foshan-2021", None),
        ("huian-2022", None),
    ],
)
def test_each_year_renews_from_the_one_before(policies, policy, renews_from):
    assert policies[policy].renews_from == renews_from


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("contribution.individual", Decimal(360)),  # huian.txt:17
        ("contribution.subsidy_min", Decimal(610)),  # huian.txt:17
        ("payment_period.start", date(2022, 9, 1)),  # huian.txt:23
        ("payment_period.end", date(2022, 12, 31)),  # huian.txt:23
        ("late_payment.until", date(2023, 12, 31)),  # (practice) NOTES.md Quanzhou 2023
        ("year", 2023),  # huian.txt:13
        ("region.code", "350521"),
        ("region.key", "huian"),
        (
            "payers",
            ("self", "family", "on_behalf"),
        ),  # (practice) huian.txt:51 asks the insured's ID
        ("refund.duplicate_with_employee_insurance", None),  # no refund in huian.txt
    ],
)
def test_huian_values(huian, attribute, expected):
    value = huian
    for name in attribute.split("."):
        value = getattr(value, name)
    assert value == expected


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("payment_period.end", date(2022, 2, 28)),  # foshan.txt:46
        ("late_payment.accepted", False),  # foshan.txt:67
        ("refund.duplicate_with_employee_insurance.accepted_until", date(2022, 2, 28)),  # :52
        ("payers", ("self", "family", "on_behalf")),  # foshan.txt:63
        # foshan.txt:54-55: the table is missing; (assumed) the 2021 national minimum
        ("contribution.individual", Decimal(320)),
        ("contribution.subsidy_min", Decimal(580)),  # (assumed) as above
        ("reductions", ()),
        ("region.key", "foshan"),
        ("region.code", "440600"),
    ],
)
def test_foshan_values(foshan, attribute, expected):
    value = foshan
    for name in attribute.split("."):
        value = getattr(value, name)
    assert value == expected


def test_huian_lists_every_reduction_category_of_the_document(huian):
    by_share = {(r.share, r.funded_by): set() for r in huian.reductions}
    for r in huian.reductions:
        by_share[(r.share, r.funded_by)].add(r.label.zh)
    assert len(by_share[(Decimal(1), "medical_assistance_fund")]) == 6  # huian.txt:55
    assert len(by_share[(Decimal(1), "county")]) == 4  # huian.txt:57
    assert by_share[(Decimal("0.7"), "county")] == {"低收入家庭成员"}  # huian.txt:59


@pytest.mark.parametrize(
    ("categories", "age", "flags", "amount"),
    [
        pytest.param([], 30, set(), "360", id="no category huian.txt:17"),
        pytest.param(["dibao"], 30, set(), "0", id="dibao huian.txt:55"),
        pytest.param(["tekun"], 80, set(), "0", id="tekun huian.txt:55"),
        pytest.param(["orphan"], 8, set(), "0", id="orphan huian.txt:55"),
        pytest.param(["severe_disability"], 40, set(), "0", id="severe disability huian.txt:55"),
        pytest.param(["streamlined_1960s"], 85, set(), "0", id="1960s retiree huian.txt:57"),
        pytest.param(["rural_family_planning"], 50, set(), "0", id="rural fp huian.txt:57"),
        pytest.param(["registered_poor"], 30, set(), "0", id="registered poor huian.txt:57"),
        pytest.param(["low_income"], 65, set(), "108", id="low income 65 huian.txt:59"),
        pytest.param(["low_income"], 60, set(), "108", id="low income 60 huian.txt:59"),
        pytest.param(["low_income"], 17, set(), "108", id="low income 17 huian.txt:59"),
        pytest.param(["low_income"], 18, set(), "360", id="low income 18 huian.txt:59"),
        pytest.param(["low_income"], 30, set(), "360", id="low income 30 huian.txt:59"),
        pytest.param(["low_income"], 30, {"disabled"}, "108", id="low income disabled :59"),
        pytest.param(["low_income", "dibao"], 65, set(), "0", id="best reduction wins :55,59"),
        pytest.param(["unknown_category"], 30, set(), "360", id="unknown category reduces nothing"),
        pytest.param([], 30, {"disabled"}, "360", id="a flag alone is no category"),
    ],
)
def test_huian_amount_due(huian, categories, age, flags, amount):
    assert huian.amount_due(categories, age, flags) == Decimal(amount)


@pytest.mark.parametrize(
    ("paid_at", "categories", "age", "flags", "amount"),
    [
        pytest.param(at(2022, 10, 1), [], 30, set(), "360", id="in period huian.txt:17,23"),
        pytest.param(at(2023, 3, 10), [], 30, set(), "360", id="late before July (practice)"),
        pytest.param(at(2023, 6, 30, 23, 59), [], 30, set(), "360", id="30 June (practice)"),
        pytest.param(at(2023, 7, 1, 0, 0), [], 30, set(), "970", id="from July 360+610 (practice)"),
        pytest.param(at(2023, 7, 5), [], 0, {"newborn"}, "360", id="newborn exempt (practice)"),
        pytest.param(at(2023, 9, 1), [], 18, {"new_student"}, "360", id="new student (practice)"),
        pytest.param(at(2023, 9, 1), ["dibao"], 30, set(), "0", id="hardship group (practice)"),
        pytest.param(at(2023, 9, 1), ["low_income"], 65, set(), "108", id="low income (practice)"),
        pytest.param(
            at(2023, 9, 1),
            ["low_income"],
            30,
            set(),
            "970",
            id="category held without its condition: no 减免对象, not exempt (huian.txt:59)",
        ),
    ],
)
def test_huian_late_payers_owe_the_subsidy_from_july(
    huian, paid_at, categories, age, flags, amount
):
    assert huian.amount_due(categories, age, flags, paid_at=paid_at) == Decimal(amount)


def test_amount_due_refuses_a_payment_after_late_payment_closes(huian):
    with pytest.raises(LatePaymentRefused):
        huian.amount_due([], 30, paid_at=at(2024, 1, 1, 0, 0))  # (practice) until 2023-12-31


def test_foshan_amount_is_the_assumed_national_minimum(foshan):
    # foshan.txt:54-55 lacks the table; (assumed) 医保发〔2021〕32号 individual minimum 320
    assert foshan.amount_due([], 30) == Decimal(320)
    assert foshan.amount_due(["dibao"], 30) == Decimal(320)  # foshan.txt lists no reductions


def test_foshan_bank_codes_follow_the_document_order(foshan):
    # foshan.txt:26 可申领社保卡的银行: 17 banks, in this order
    assert [b.code for b in foshan.region.banks] == [
        "icbc", "abc", "boc", "ccb", "ceb", "foshan_rcb", "nanhai_rcb", "shunde_rcb", "cgb",
        "crbank", "bocom", "psbc", "gzcb", "citic", "pingan", "cib", "cmb",
    ]  # fmt: skip
    zh = "".join(b.label.zh for b in foshan.region.banks)
    assert zh == (
        "工商银行农业银行中国银行建设银行光大银行佛山农商南海农商顺德农商广发银行华润银行"
        "交通银行邮储银行广州银行中信银行平安银行兴业银行招商银行"
    )
    assert foshan.region.banks[5].label.en == "Foshan Rural Commercial Bank"


def test_huian_banks_are_an_assumed_list(huian):
    # huian.txt:9 names partner banks (合作银行) but none by name: (assumed, practice) list
    assert [b.code for b in huian.region.banks] == [
        "icbc", "abc", "boc", "ccb", "bocom", "psbc", "cib", "fjnx", "qzccb",
    ]  # fmt: skip
    assert huian.region.banks[-1].label.zh == "泉州银行"


@pytest.mark.parametrize(
    ("paid_at", "kind", "start"),
    [
        pytest.param(at(2022, 1, 10), "general_outpatient", date(2022, 2, 1), id="foshan.txt:49"),
        pytest.param(at(2022, 1, 10), "inpatient", date(2022, 1, 1), id="foshan.txt:50"),
        pytest.param(at(2022, 1, 10), "special_outpatient", date(2022, 1, 1), id="foshan.txt:50b"),
        pytest.param(
            at(2022, 2, 15), "general_outpatient", date(2022, 3, 1), id="foshan.txt:49 Feb"
        ),
        pytest.param(at(2022, 2, 15), "inpatient", date(2022, 1, 1), id="foshan.txt:50 Feb"),
        pytest.param(
            at(2022, 2, 28), "general_outpatient", date(2022, 3, 1), id="foshan.txt:46,49"
        ),
        pytest.param(at(2022, 2, 28, 23, 59), "inpatient", date(2022, 1, 1), id="foshan.txt:46,50"),
        pytest.param(
            at(2022, 2, 28), "special_outpatient", date(2022, 1, 1), id="foshan.txt:46,50b"
        ),
        pytest.param(
            at(2021, 10, 15), "general_outpatient", date(2022, 1, 1), id="never before 1 Jan"
        ),
        pytest.param(at(2021, 12, 20), "general_outpatient", date(2022, 1, 1), id="December 2021"),
    ],
)
def test_foshan_benefit_start(foshan, paid_at, kind, start):
    assert foshan.benefit_start(paid_at, kind) == start


@pytest.mark.parametrize(
    "paid_at",
    [
        pytest.param(at(2022, 3, 1, 0, 0), id="foshan.txt:46,67 first minute of March"),
        pytest.param(at(2022, 3, 1), id="foshan.txt:67"),
        pytest.param(datetime(2022, 2, 28, 16, 0, tzinfo=ZoneInfo("UTC")), id="00:00 CST in UTC"),
        pytest.param(at(2022, 12, 1), id="foshan.txt:67 December"),
    ],
)
def test_foshan_refuses_late_payment(foshan, paid_at):
    assert not foshan.late_payment_accepted(paid_at)
    with pytest.raises(LatePaymentRefused) as caught:
        foshan.benefit_start(paid_at, "inpatient")
    assert caught.value.policy == "foshan-2022" and caught.value.code == "late_payment_refused"


@pytest.mark.parametrize(
    ("paid_at", "start"),
    [
        pytest.param(
            at(2022, 9, 1, 0, 0), date(2023, 1, 1), id="in period huian.txt:23 (practice)"
        ),
        pytest.param(at(2022, 12, 31, 23, 59), date(2023, 1, 1), id="last minute huian.txt:23,25"),
        pytest.param(
            at(2023, 1, 1, 0, 0), date(2023, 1, 1), id="late Jan: payment date (practice)"
        ),
        pytest.param(at(2023, 1, 15), date(2023, 1, 15), id="late Jan: payment date (practice) b"),
        pytest.param(at(2023, 2, 28), date(2023, 2, 28), id="late Feb: payment date (practice)"),
        pytest.param(at(2023, 3, 1), date(2023, 4, 30), id="March: 60 days (practice)"),
        pytest.param(at(2023, 3, 10), date(2023, 5, 9), id="March: 60 days (practice) b"),
        pytest.param(
            at(2023, 11, 1, 23, 59), date(2023, 12, 31), id="last day: 60 days to 31 December"
        ),
    ],
)
@pytest.mark.parametrize("kind", ["general_outpatient", "inpatient", "special_outpatient"])
def test_huian_benefit_start(huian, paid_at, start, kind):
    assert huian.benefit_start(paid_at, kind) == start


@pytest.mark.parametrize("paid_at", [at(2023, 11, 2, 0, 0), at(2023, 12, 31, 23, 59)])
def test_huian_refuses_a_late_payment_whose_benefits_would_start_after_the_year(huian, paid_at):
    assert not huian.late_payment_accepted(paid_at)
    refusal = huian.late_payment_refusal(paid_at)
    assert refusal is not None and "after the 2023 insurance year ends" in refusal.en
    with pytest.raises(LatePaymentRefused, match="2023-12-31"):
        huian.benefit_start(paid_at, "inpatient")
    with pytest.raises(LatePaymentRefused):
        huian.amount_due([], 30, paid_at=paid_at)


def test_huian_2023_01_15_is_late_but_accepted(huian):
    paid_at = at(2023, 1, 15)  # huian.txt:25; (practice) NOTES.md Quanzhou 2023
    assert not huian.is_within_period(paid_at)
    assert huian.late_payment_accepted(paid_at)
    assert huian.benefit_start(paid_at, "inpatient") == date(2023, 1, 15)


def test_huian_refuses_payment_after_late_payment_closes(huian):
    with pytest.raises(LatePaymentRefused):
        huian.benefit_start(at(2024, 1, 1, 0, 0), "inpatient")  # (practice) until 2023-12-31


def test_benefit_start_rejects_unknown_kinds_and_naive_datetimes(huian):
    with pytest.raises(ValueError, match="dental"):
        huian.benefit_start(at(2022, 10, 1), "dental")
    with pytest.raises(ValueError, match="aware"):
        huian.benefit_start(datetime(2022, 10, 1), "inpatient")


@pytest.mark.parametrize(
    ("policy", "path", "instant"),
    [
        ("huian-2023", "payment_period.start", at(2022, 9, 1, 0)),  # huian.txt:23
        ("huian-2023", "payment_period.end", at(2023, 1, 1, 0)),  # huian.txt:23
        ("huian-2023", "late_payment.until", at(2024, 1, 1, 0)),  # (practice) NOTES.md
        ("foshan-2022", "payment_period.end", at(2022, 3, 1, 0)),  # foshan.txt:46
        (
            "foshan-2022",
            "refund.duplicate_with_employee_insurance.accepted_until",
            at(2022, 3, 1, 0),
        ),
    ],
)
def test_date_values(policies, policy, path, instant):
    value = policies[policy].date_value(path)
    assert value == instant and value.utcoffset() == instant.utcoffset()


@pytest.mark.parametrize(
    ("policy", "deadline"),
    [("huian-2023", at(2023, 1, 1, 0)), ("foshan-2022", at(2022, 3, 1, 0))],  # huian:23 foshan:46
)
def test_deadline_instant_is_midnight_after_the_last_day(policies, policy, deadline):
    assert policies[policy].deadline_instant() == deadline
    assert policies[policy].date_value("payment_period.end") == deadline


@pytest.mark.parametrize(
    ("policy", "path"),
    [
        ("foshan-2022", "late_payment.until"),  # not accepted: no date (foshan.txt:67)
        ("huian-2023", "refund.duplicate_with_employee_insurance.accepted_until"),
        ("huian-2023", "payment_period.finish"),
        ("huian-2023", "year"),
        ("huian-2023", "source"),
    ],
)
def test_unknown_date_paths(policies, policy, path):
    with pytest.raises(PolicyError, match=path.replace(".", r"\.")):
        policies[policy].date_value(path)


@pytest.mark.parametrize(
    ("paid_at", "within", "late"),
    [
        (at(2022, 8, 31, 23, 59), False, False),  # before huian.txt:23
        (at(2022, 9, 1, 0, 0), True, False),  # huian.txt:23
        (at(2022, 12, 31, 23, 59), True, False),  # huian.txt:23
        (at(2023, 1, 1, 0, 0), False, True),  # huian.txt:25, (practice) accepted late
        (at(2023, 11, 1, 23, 59), False, True),  # 60 days: benefits from 2023-12-31
        (at(2023, 11, 2, 0, 0), False, False),  # benefits would start in 2024
        (at(2023, 12, 31, 23, 59), False, False),  # (practice) until 2023-12-31, but as above
        (at(2024, 1, 1, 0, 0), False, False),
    ],
)
def test_huian_period_and_late_payment(huian, paid_at, within, late):
    assert huian.is_within_period(paid_at) is within
    assert huian.late_payment_accepted(paid_at) is late


@pytest.mark.parametrize(
    ("policy", "at_", "accepted"),
    [
        ("foshan-2022", at(2022, 2, 28, 23, 59), True),  # foshan.txt:52
        ("foshan-2022", at(2022, 3, 1, 0, 0), False),  # foshan.txt:52
        ("huian-2023", at(2022, 10, 1), False),  # no refund rule in huian.txt
    ],
)
def test_duplicate_refund_window(policies, policy, at_, accepted):
    assert policies[policy].duplicate_refund_accepted(at_) is accepted


@pytest.mark.parametrize(
    ("policy", "at_", "employee", "used", "reason"),
    [
        # foshan.txt:52: employee insured (职工医保参保人), no benefits used (未享受待遇), by end Feb
        pytest.param("foshan-2022", at(2022, 1, 10), True, False, None, id="accepted :52"),
        pytest.param("foshan-2022", at(2022, 2, 28, 23, 59), True, False, None, id="last minute"),
        pytest.param("foshan-2022", at(2022, 3, 1, 0, 0), True, False, "window_closed", id=":52"),
        pytest.param("foshan-2022", at(2022, 1, 10), False, False, "not_employee_insured", id="e"),
        pytest.param("foshan-2022", at(2022, 1, 10), True, True, "benefits_used", id=":52 used"),
        # the order: window before the person's conditions, employee before benefits
        pytest.param("foshan-2022", at(2022, 3, 1, 0, 0), False, True, "window_closed", id="o1"),
        pytest.param("foshan-2022", at(2022, 1, 10), False, True, "not_employee_insured", id="o2"),
        # no refund block: huian.txt says nothing on refunds; foshan.txt:51-52 cover 2022 only
        pytest.param("huian-2023", at(2022, 10, 1), True, False, "no_refund_in_policy", id="h"),
        pytest.param("huian-2022", at(2021, 10, 1), True, False, "no_refund_in_policy", id="h22"),
        pytest.param("foshan-2021", at(2020, 10, 1), True, False, "no_refund_in_policy", id="f21"),
    ],
)
def test_refund_decision(policies, policy, at_, employee, used, reason):
    decision = policies[policy].refund_decision(
        at_, employee_insurance_elsewhere=employee, benefits_used=used
    )
    assert isinstance(decision, RefundDecision)
    assert decision.reason == reason and decision.accepted is (reason is None)
    assert reason is None or reason in REFUND_REASONS
    assert decision.message_zh and decision.message_en
    title = policies[policy].title  # the region and year in words, never the policy's id
    assert title.zh in decision.message_zh and title.en in decision.message_en
    assert policy not in decision.message_zh + decision.message_en


def test_a_closed_refund_window_names_its_last_day(foshan):
    decision = foshan.refund_decision(
        at(2022, 3, 2), employee_insurance_elsewhere=True, benefits_used=False
    )
    assert "2022-02-28" in decision.message_zh and "2022-02-28" in decision.message_en  # :52


def test_refund_decision_is_frozen_and_needs_an_aware_time(foshan):
    decision = foshan.refund_decision(
        at(2022, 1, 10), employee_insurance_elsewhere=True, benefits_used=False
    )
    with pytest.raises(AttributeError):
        decision.accepted = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="aware"):
        foshan.refund_decision(
            datetime(2022, 1, 10), employee_insurance_elsewhere=True, benefits_used=False
        )


def _set(path: str, value: object):
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        for name in parents:
            data = data[int(name)] if isinstance(data, list) else data[name]
        if value is _DELETE:
            del data[last]
        elif isinstance(data, list):
            data[int(last)] = value
        else:
            data[last] = value

    return change


_DELETE = object()


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (_set("contribution.individual", _DELETE), "contribution.individual", "missing"),
        (_set("contribution.subsidy_min", _DELETE), "contribution.subsidy_min", "missing"),
        (_set("contribution.individual", None), "contribution.individual", "null"),  # fees required
        (_set("contribution.subsidy_min", None), "contribution.subsidy_min", "null"),
        (_set("contribution.fee", 1), "contribution.fee", "unknown key"),
        (_set("contribution.individual", "360 yuan"), "contribution.individual", "a number"),
        (_set("contribution.individual", -1), "contribution.individual", "at least 0"),
        (_set("payment_period.end", "2022-12-32"), "payment_period.end", "YYYY-MM-DD"),
        (_set("payment_period.end", "2022-08-01"), "payment_period.end", "before"),
        (_set("reductions.10.share", 1.5), "reductions[10].share", "at most 1"),
        (_set("reductions.10.requires_any", ["Disabled"]), "reductions[10].requires_any[0]", ""),
        (_set("reductions.10.requires_any", [{"age_over": 1}]), "requires_any[0].age_over", ""),
        (_set("reductions.1.category", "tekun"), "reductions", "listed twice"),
        (_set("reductions.0.label", {"zh": "特困人员"}), "reductions[0].label.en", "missing"),
        (_set("late_payment.rules.0.from", "2023-01-02"), "late_payment.rules[0].from", ""),
        (_set("late_payment.rules.2.from", "2023-02-01"), "late_payment.rules[2].from", ""),
        (_set("late_payment.rules.1.waiting_days", True), "rules[1].waiting_days", "whole number"),
        (_set("late_payment.until", "2022-12-01"), "late_payment.until", ""),
        (_set("late_payment.accepted", "yes"), "late_payment.accepted", "true or false"),
        (_set("benefit_start.inpatient", "whenever"), "benefit_start.inpatient", "one of"),
        (
            _set("card.loss_report_lapses_after", "5 days"),
            "card.loss_report_lapses_after",
            "5 days",
        ),
        (_set("timezone", "Asia/Quanzhou"), "timezone", "unknown time zone"),
        (_set("region.code", "440600"), "region.code", "province"),
        (_set("policy", "huian-2024"), "policy", "file name"),
        (_set("year", "2023"), "year", "whole number"),
        (_set("payers", "self"), "payers", "list"),
        (_set("year", 2024), "year", "year in the policy id"),
        (_set("region.key", "foshan"), "region.key", "before the year"),
        (_set("region.key", "Hui'an"), "region.key", "matching"),
        (_set("region.key", _DELETE), "region.key", "missing"),
        (_set("region.banks", []), "region.banks", "at least one"),
        (_set("region.banks", None), "region.banks", "null"),
        (_set("region.banks.1.code", "icbc"), "region.banks", "listed twice"),
        (_set("region.banks.0.code", "ICBC"), "region.banks[0].code", "matching"),
        (_set("region.banks.0.label", {"zh": "工商银行"}), "region.banks[0].label.en", "missing"),
        (_set("region.banks.0.branch", "x"), "region.banks[0].branch", "unknown key"),
        (_set("renews_from", "Huian 2022"), "renews_from", "matching"),
    ],
)
def test_a_broken_policy_file_names_the_file_and_the_key(tmp_path, change, key, problem):
    data = yaml.safe_load((POLICIES / "huian-2023.yaml").read_text(encoding="utf-8"))
    change(data)
    broken = tmp_path / "huian-2023.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(broken)
    message = str(caught.value)
    assert message.startswith(f"{broken}: ") and key in caught.value.key and problem in message


@pytest.mark.parametrize(
    "text", ["policy: [unclosed\n", "- just a list\n", "", "policy: huian-2023\n"]
)
def test_unreadable_or_incomplete_files(tmp_path, text):
    broken = tmp_path / "huian-2023.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=str(broken)):
        load_policy(broken)


def test_load_policies_fails_on_a_file_named_differently(tmp_path):
    text = (POLICIES / "foshan-2022.yaml").read_text(encoding="utf-8")
    (tmp_path / "foshan-2023.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"foshan-2023\.yaml: policy: must match"):
        load_policies(tmp_path)


def _policies_dir(tmp_path: Path, change_to: str, data_from: str, **changes: object) -> Path:
    """The shipped policies, plus (or replacing) ``change_to`` made from ``data_from`` changed."""
    folder = tmp_path / "policies"
    folder.mkdir()
    for path in POLICIES.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load((POLICIES / f"{data_from}.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    text = yaml.safe_dump(data, allow_unicode=True)
    (folder / f"{change_to}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("change_to", "data_from", "changes", "problem"),
    [
        pytest.param(
            "huian-2024",
            "huian-2023",
            {"policy": "huian-2024", "year": 2024, "renews_from": "huian-2022"},
            "huian-2022 is for 2022; expected 2023",
            id="a year that is not the one before",
        ),
        pytest.param(
            "huian-2023",
            "huian-2023",
            {"renews_from": "foshan-2022"},
            "foshan-2022 is of region 'foshan', not 'huian'",
            id="another region",
        ),
        pytest.param(
            "huian-2023",
            "huian-2023",
            {"renews_from": "huian-2021"},
            "names no policy",
            id="no such policy",
        ),
        pytest.param(
            "foshan-2022",
            "foshan-2022",
            {"renews_from": "foshan-2022"},
            "foshan-2022 is for 2022; expected 2021",
            id="itself",
        ),
    ],
)
def test_renews_from_must_name_the_same_regions_previous_year(
    tmp_path, change_to, data_from, changes, problem
):
    folder = _policies_dir(tmp_path, change_to, data_from, **changes)
    with pytest.raises(PolicyError) as caught:
        load_policies(folder)
    assert caught.value.source == str(folder / f"{change_to}.yaml")
    assert caught.value.key == "renews_from" and problem in caught.value.problem


def test_a_next_year_renewing_from_the_latest_loads(tmp_path):
    changes = {"policy": "huian-2024", "year": 2024, "renews_from": "huian-2023"}
    policies = load_policies(_policies_dir(tmp_path, "huian-2024", "huian-2023", **changes))
    assert policies["huian-2024"].renews_from == "huian-2023"


def test_renews_from_is_refused_when_the_previous_file_is_missing(tmp_path):
    folder = _policies_dir(tmp_path, "huian-2023", "huian-2023")
    (folder / "huian-2022.yaml").unlink()
    with pytest.raises(PolicyError, match=r"huian-2023\.yaml: renews_from: names no policy"):
        load_policies(folder)


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("year", 2021),
        ("region.key", "foshan"),
        ("payment_period.start", date(2020, 9, 1)),  # (assumed) Guangdong's usual period
        ("payment_period.end", date(2020, 12, 31)),  # (assumed) no extension known
        ("late_payment.accepted", False),  # (assumed) as foshan.txt:67 for 2022
        ("contribution.individual", Decimal(280)),  # (assumed) 医保发〔2020〕24号
        ("contribution.subsidy_min", Decimal(550)),  # (assumed) 医保发〔2020〕24号
        ("refund.duplicate_with_employee_insurance", None),  # foshan.txt:51-52 cover 2022 only
        ("reductions", ()),
        ("payers", ("self", "family", "on_behalf")),  # (assumed) as foshan.txt:63
    ],
)
def test_foshan_2021_values(policies, attribute, expected):
    value = policies["foshan-2021"]
    for name in attribute.split("."):
        value = getattr(value, name)
    assert value == expected


def test_foshan_2021_benefits_and_deadline(policies):
    foshan_2021 = policies["foshan-2021"]
    assert foshan_2021.deadline_instant() == at(2021, 1, 1, 0)  # (assumed) period to 2020-12-31
    # (assumed) benefit rules as foshan.txt:49-50, never before 1 January 2021
    assert foshan_2021.benefit_start(at(2020, 10, 15), "general_outpatient") == date(2021, 1, 1)
    assert foshan_2021.benefit_start(at(2020, 12, 31, 23, 59), "inpatient") == date(2021, 1, 1)
    with pytest.raises(LatePaymentRefused):  # (assumed) as foshan.txt:67
        foshan_2021.benefit_start(at(2021, 1, 1, 0, 0), "inpatient")
    assert foshan_2021.card == policies["foshan-2022"].card
    assert foshan_2021.benefit_rules == policies["foshan-2022"].benefit_rules


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("year", 2022),
        ("region.key", "huian"),
        ("payment_period.start", date(2021, 9, 1)),  # (practice) as huian.txt:23, a year earlier
        ("payment_period.end", date(2021, 12, 31)),  # (practice) as huian.txt:23
        ("late_payment.until", date(2022, 12, 31)),  # (practice) NOTES.md Quanzhou 2022
        ("contribution.individual", Decimal(320)),  # (assumed) 医保发〔2021〕32号
        ("contribution.subsidy_min", Decimal(580)),  # (assumed) 医保发〔2021〕32号
        ("refund.duplicate_with_employee_insurance", None),
    ],
)
def test_huian_2022_values(policies, attribute, expected):
    value = policies["huian-2022"]
    for name in attribute.split("."):
        value = getattr(value, name)
    assert value == expected


def test_huian_2022_keeps_2023s_categories_exemptions_and_card_rules(policies, huian):
    huian_2022 = policies["huian-2022"]
    assert huian_2022.reductions == huian.reductions  # (practice) huian.txt:55-59 assumed unchanged
    assert huian_2022.late_payment.subsidy_exempt == huian.late_payment.subsidy_exempt
    assert huian_2022.card == huian.card and huian_2022.region == huian.region


@pytest.mark.parametrize(
    ("paid_at", "start", "amount"),
    [
        # (practice) NOTES.md: Quanzhou 2022 follows 2023's pattern, a year earlier
        pytest.param(at(2021, 10, 1), date(2022, 1, 1), "320", id="in period (assumed fee)"),
        pytest.param(at(2022, 1, 15), date(2022, 1, 15), "320", id="Jan: payment date"),
        pytest.param(at(2022, 3, 10), date(2022, 5, 9), "320", id="March: 60 days"),
        pytest.param(at(2022, 7, 1, 0, 0), date(2022, 8, 30), "900", id="July: 320 + 580"),
        pytest.param(at(2022, 11, 1, 23, 59), date(2022, 12, 31), "900", id="last day"),
    ],
)
def test_huian_2022_late_payment_is_2023s_pattern_a_year_earlier(policies, paid_at, start, amount):
    huian_2022 = policies["huian-2022"]
    assert huian_2022.benefit_start(paid_at, "inpatient") == start
    assert huian_2022.amount_due([], 30, paid_at=paid_at) == Decimal(amount)


def test_huian_2022_refuses_payment_after_late_payment_closes(policies):
    with pytest.raises(LatePaymentRefused):
        policies["huian-2022"].amount_due([], 30, paid_at=at(2023, 1, 1, 0, 0))
