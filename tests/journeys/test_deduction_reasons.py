"""A deduction file's report in Chinese and in English: every row a file can hold that is rejected
says why in both languages, Chinese first as the province's staff read it, through
``shebao import deductions``, on SQLite and on PostgreSQL; no reason echoes a full ID number.

Issue: most rejection reasons were English only (the bad ID number, the other year, the unknown
result, the unknown person, malformed data, the amount due, the duplicate payment).
"""

from __future__ import annotations

import re
from typing import Any

from tests.journeys.conftest import Journey

OPEN = "350521198003030017"  # on the books, her 2023 year waits for its payment
PAID = "35052119810404002X"  # has paid her 2023 year online
NOBODY = "350521198205050032"  # never registered: no enrollment at all
LEFT = "350521199010100057"  # registers for 2023, then leaves the scheme before paying
STRAY = "350521197003030127"  # only ever appears in the wrong column

HEADER = "id_number,policy_year,amount,result,reason,paid_at\n"
AT = "2022-10-01T07:00:00+08:00"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _reasons(out: str) -> dict[int, tuple[str, str]]:
    """The report's rejected rows: line -> (Chinese, English)."""
    found = {}
    for line, text in re.findall(r"line (\d+): (.*)", out):
        zh, _, en = text.partition(" / ")
        found[int(line)] = (zh.strip(), en.strip())
    return found


def test_every_rejected_row_says_why_in_chinese_and_in_english(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    rows = [{"id_number": n, "name": "扣", "region": "huian"} for n in (OPEN, PAID)]
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)
    j.api("POST", "/payments", "counter", {"id_number": PAID, "amount": "360.00"}, expect=200)
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {"id_number": LEFT, "name": "离", "region": "huian"}
    record = j.api("POST", "/registrations", "counter", body, expect=201)["person"]["id"]
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    leave = {"event": "leave_scheme", "data": {"reason": "参加职工医保"}}
    j.api("POST", f"/registrations/{record}/events", "counter", leave, expect=200)
    kinds = {
        2: ("control characters", f"{OPEN},2023,360.00,failed,bad\x00reason,"),
        3: ("a bad ID number", f"12345,2023,360.00,success,,{AT}"),
        4: ("another year", f"{OPEN},{STRAY},360.00,success,,{AT}"),
        5: ("an unknown result", f"{OPEN},2023,360.00,{STRAY},,{AT}"),
        6: ("nobody's year", f"{NOBODY},2023,360.00,success,,{AT}"),
        7: ("a malformed amount", f"{OPEN},2023,abc,success,,{AT}"),
        8: ("not the amount due", f"{OPEN},2023,300.00,success,,{AT}"),
        9: ("a duplicate payment", f"{PAID},2023,360.00,success,,{AT}"),
        10: ("a malformed time", f"{OPEN},2023,360.00,failed,余额不足,yesterday"),
        11: ("a year closed on leaving", f"{LEFT},2023,360.00,success,,{AT}"),
    }
    text = HEADER + "".join(row + "\n" for _, row in kinds.values())
    text += f"{PAID},2023,360.00,failed,余额不足,{AT}\n"  # line 12: unchanged, already paid
    path = j.file("kinds.csv", text)

    out = j.cli("import", "deductions", path, "--policy", "huian-2023", exit_code=1).output

    assert f"applied: 0  unchanged: 1  rejected: {len(kinds)}" in out
    assert "unchanged (已缴费 the year is already paid): 1" in out
    reasons = _reasons(out)
    assert sorted(reasons) == sorted(kinds)
    for line, (zh, en) in reasons.items():
        kind = kinds[line][0]
        assert zh and en and zh != en, (kind, zh, en)
        assert HAN.search(zh), (kind, zh)  # Chinese first...
        assert not HAN.search(en), (kind, en)  # ...then English alone
    for number in (OPEN, PAID, NOBODY, LEFT, STRAY):
        assert number not in out  # echoed masked, if at all
    assert "不是 2023 年" in reasons[4][0] and "is not 2023" in reasons[4][1]
    assert "没有惠安县 2023 年度的参保记录" in reasons[6][0]
    assert "no Hui'an County 2023 enrollment for 350521********0032" == reasons[6][1]
    assert "应缴金额为 360.00 元" in reasons[8][0] and "the amount due is 360.00" in reasons[8][1]
    assert "重复缴费，需要退费" in reasons[9][0]
    assert "duplicate payment, refund needed" in reasons[9][1]
    # a year closed on leaving: why it takes no deduction, as its payment doors say it
    assert "该居民已终止参保" in reasons[11][0] and "请先重新办理参保登记" in reasons[11][0]
    assert "the person left the scheme" in reasons[11][1]
    assert "can no longer be paid or deducted" in reasons[11][1]
    assert j.years(OPEN)["huian-2023"]["state"] == "registered"  # nothing was applied
    assert j.years(PAID)["huian-2023"]["state"] == "deducted"
