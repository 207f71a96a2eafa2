"""Failed-deduction rows that arrive late: after the year was paid, or after it lapsed.

``shebao import deductions``: the tax authority reports a batch deduction that failed (foshan.txt
lines 57-58) for a year that has since been paid, or has lapsed, or was paid after a lapse. The
failure changes nothing: the row is unchanged, the report says why (the year is already paid;
it has already lapsed), and the file exits 0, on the first import and on every re-import. A failure
for a year that does not exist is still rejected.
"""

from __future__ import annotations

import re
from typing import Any

from tests.journeys.conftest import Journey

PAID = "350521198003030017"  # pays online, then the tax authority's failure for her arrives
LAPSED = "35052119810404002X"  # unpaid when the period ends; a failure and a success then come
NOBODY = "350521198205050032"  # has no year at all

HEADER = "id_number,policy_year,amount,result,reason,paid_at\n"


def _rejected(out: str) -> dict[int, str]:
    return {int(n): text for n, text in re.findall(r"line (\d+): (.*)", out)}


def test_a_failure_for_a_year_already_paid_or_lapsed_is_unchanged(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    rows = [
        {"id_number": PAID, "name": "缴", "region": "huian"},
        {"id_number": LAPSED, "name": "断", "region": "huian"},
    ]
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)
    j.api("POST", "/payments", "counter", {"id_number": PAID, "amount": "360.00"}, expect=200)

    # the batch of 1 September failed for her; she has paid online since: nothing changes
    paid = j.file(
        "paid.csv", HEADER + f"{PAID},2023,360.00,失败,余额不足,2022-09-01T07:00:00+08:00\n"
    )
    out = j.cli("import", "deductions", paid, "--policy", "huian-2023").output
    assert "applied: 0  unchanged: 1  rejected: 0" in out
    assert "unchanged (已缴费 the year is already paid): 1" in out
    assert "fail_deduction" not in out and "deducted" not in out
    assert j.years(PAID)["huian-2023"]["state"] == "deducted"

    # the period ends unpaid; a file then reports a failure and, later, a success, both in it
    j.at("2023-01-02T10:00:00+08:00")
    j.sweep()
    assert j.years(LAPSED)["huian-2023"]["state"] == "lapsed"
    late = j.file(
        "late.csv",
        HEADER
        + f"{LAPSED},2023,360.00,失败,余额不足,2022-11-01T07:00:00+08:00\n"
        + f"{LAPSED},2023,360.00,成功,,2022-12-01T07:00:00+08:00\n",
        encoding="gbk",
    )
    out = j.cli("import", "deductions", late, "--policy", "huian-2023").output
    assert "applied: 1  unchanged: 1  rejected: 0" in out
    assert "unchanged (已断保 the year has already lapsed): 1" in out
    assert j.years(LAPSED)["huian-2023"]["state"] == "deducted"

    # the same files again: every row unchanged, exit 0
    again = j.cli("import", "deductions", late, "--policy", "huian-2023").output
    assert "applied: 0  unchanged: 2  rejected: 0" in again
    assert "unchanged (已缴费 the year is already paid): 1" in again
    again = j.cli("import", "deductions", paid, "--policy", "huian-2023").output
    assert "applied: 0  unchanged: 1  rejected: 0" in again

    # a failure for a year that does not exist, and a malformed one, are still rejected
    bad = j.file(
        "bad.csv",
        HEADER
        + f"{NOBODY},2023,360.00,失败,余额不足,2022-11-01T07:00:00+08:00\n"
        + f"{PAID},2023,360.00,失败,余额不足,yesterday\n",
    )
    out = j.cli("import", "deductions", bad, "--policy", "huian-2023", exit_code=1).output
    assert "applied: 0  unchanged: 0  rejected: 2" in out
    lines = _rejected(out)
    assert sorted(lines) == [2, 3]
    assert "no Hui'an County 2023 enrollment" in lines[2] and "Attempted at" in lines[3]
    for person in (PAID, LAPSED, NOBODY):
        assert person not in out


STILL = "350521198306060045"  # her year can still take a failure
LEAVER = "350521198407070058"  # leaves the scheme before the failure arrives


def test_a_late_failure_through_the_api_is_unchanged_as_in_a_file(journey_factory: Any) -> None:
    """The tax authority's API door (``POST /enrollments/{id}/events``, ``fail_deduction``) gives
    a failure for a year already paid, lapsed or closed the file's outcome: 200, nothing changes,
    ``unchanged`` with the file report's words; a year that can still take it does."""
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("importer", "import")
    j.token("tax", "tax")
    rows = [{"id_number": p, "name": "税", "region": "huian"} for p in (PAID, LAPSED, STILL)]
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {"id_number": LEAVER, "name": "离", "region": "huian"}
    record = j.api("POST", "/registrations", "counter", body, expect=201)["person"]["id"]
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    j.api("POST", "/payments", "counter", {"id_number": PAID, "amount": "360.00"}, expect=200)
    failure = {
        "event": "fail_deduction",
        "data": {"amount": "360.00", "reason": "余额不足", "paid_at": "2022-09-01T07:00:00+08:00"},
    }

    def send(person: str, body: dict[str, Any], expect: int) -> Any:
        year = j.years(person)["huian-2023"]["enrollment_id"]
        return j.api("POST", f"/enrollments/{year}/events", "tax", body, expect=expect)

    def file_says(person: str) -> str:
        row = f"{person},2023,360.00,失败,余额不足,2022-09-01T07:00:00+08:00\n"
        path = j.file(f"{person}.csv", HEADER + row)
        return str(j.cli("import", "deductions", path, "--policy", "huian-2023").output)

    paid = send(PAID, failure, 200)
    assert paid["unchanged"] == {"zh": "已缴费", "en": "the year is already paid"}
    assert (paid["from_state"], paid["to_state"]) == ("deducted", "deducted")
    assert f"unchanged ({paid['unchanged']['zh']} {paid['unchanged']['en']}): 1" in file_says(PAID)
    assert j.years(PAID)["huian-2023"]["state"] == "deducted"
    # a failure for a year that can still take it applies, and says nothing of unchanged
    still = send(STILL, failure, 200)
    assert still["to_state"] == "deduction_failed" and "unchanged" not in still
    # malformed data is still refused, with the words the file rejects the row with: the
    # data's 422 naming the field, whatever the year's state (QA B3)
    bad = {**failure, "data": {**failure["data"], "paid_at": "yesterday"}}
    refused = send(PAID, bad, 422)
    assert refused["code"] == "invalid_data" and "RFC 3339" in refused["message_en"]
    assert [d["field"] for d in refused["details"]] == ["paid_at"]

    # a year closed when its person left the scheme
    leave = {"event": "leave_scheme", "data": {"reason": "参加职工医保"}}
    j.api("POST", f"/registrations/{record}/events", "counter", leave, expect=200)
    closed = send(LEAVER, failure, 200)
    assert closed["unchanged"] == {"zh": "已结束", "en": "the year is already closed"}
    assert closed["to_state"] == "closed_on_leaving"
    said = f"unchanged ({closed['unchanged']['zh']} {closed['unchanged']['en']}): 1"
    assert said in file_says(LEAVER)

    j.at("2023-01-02T10:00:00+08:00")
    j.sweep()
    lapsed = send(LAPSED, failure, 200)
    assert lapsed["unchanged"] == {"zh": "已断保", "en": "the year has already lapsed"}
    assert lapsed["to_state"] == "lapsed" and j.years(LAPSED)["huian-2023"]["state"] == "lapsed"
    said = f"unchanged ({lapsed['unchanged']['zh']} {lapsed['unchanged']['en']}): 1"
    assert said in file_says(LAPSED)
    for person in (PAID, LAPSED, STILL, LEAVER):
        assert person not in str(paid) + str(lapsed) + str(still) + str(closed)
