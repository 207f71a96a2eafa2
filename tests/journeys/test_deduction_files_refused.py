"""Deduction files a tester broke, and a reduction claim sent by the event door, through the doors
alone (``shebao import deductions``, ``shebao people claim-reduction``, the API), on SQLite and on
PostgreSQL.

Issues: a NUL in a row's reason crashed the import on PostgreSQL (nothing imported) while SQLite
rejected the row; a field over the CSV reader's limit or a quote never closed crashed it with no
line number; a row with an ID number in the wrong column echoed the number in the report; a
``paid_at`` in 1900 was refused as if it had no offset; a claim sent as
``POST /registrations/{id}/events`` skipped the evidence checks the other doors make.
"""

from __future__ import annotations

import re
from typing import Any

from tests.journeys.conftest import Journey
from tests.journeys.deduction_setup import HEADER, huian_state, insured_in_huian

FIRST = "350521198003030017"
SECOND = "35052119810404002X"
THIRD = "350521198205050032"
CLAIMING = "350521197003030127"

MASKED = re.compile(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]")


def test_a_control_character_in_a_cell_rejects_its_line_and_the_rest_are_applied(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST, SECOND, THIRD)
    path = j.file(
        "nul.csv",
        HEADER
        + f"{FIRST},2023,360.00,success,,2022-10-01T07:00:00+08:00\n"
        + f"{SECOND},2023,360.00,failed,bad\x00reason,\n"
        + f"{THIRD},2023,360.00,success,,2022-10-01T07:00:00+08:00\n",
    )
    out = j.cli("import", "deductions", path, "--policy", "huian-2023", exit_code=1).output
    assert "applied: 2  unchanged: 0  rejected: 1" in out
    assert "line 3: 含有控制字符（如空字符、引号内换行）的列：reason" in out
    assert " / control characters (a NUL, a line break) in: reason" in out
    assert huian_state(j, FIRST) == "deducted" and huian_state(j, THIRD) == "deducted"
    assert huian_state(j, SECOND) == "registered"  # the rejected row changed nothing


def test_a_file_the_csv_reader_cannot_read_is_refused_whole_naming_the_line(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST, SECOND)
    good = f"{FIRST},2023,360.00,success,,2022-10-01T07:00:00+08:00\n"
    huge = j.file("huge.csv", HEADER + good + f"{SECOND},2023,360.00,failed,{'x' * 200_000},\n")
    out = j.cli("import", "deductions", huge, "--policy", "huian-2023", exit_code=1).output
    assert "第 3 行起的记录无法读取（字段超过 131072 个字符），整个文件未导入" in out
    assert "the record starting on line 3 cannot be read" in out and "nothing was imported" in out
    unclosed = j.file("quote.csv", HEADER + good + f'{SECOND},2023,360.00,failed,"unclosed,\n')
    out = j.cli("import", "deductions", unclosed, "--policy", "huian-2023", exit_code=1).output
    assert "第 3 行起的记录无法读取（引号未闭合）" in out and "line 3" in out
    assert huian_state(j, FIRST) == "registered"  # the good line before it was not applied either


def test_a_rejected_row_never_echoes_an_id_number(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST)
    path = j.file(
        "columns.csv",
        HEADER + f"{FIRST},2023,360.00,{SECOND},,\n" + f"{FIRST},{THIRD},360.00,success,,\n",
    )
    out = j.cli("import", "deductions", path, "--policy", "huian-2023", exit_code=1).output
    assert "rejected: 2" in out
    assert SECOND not in out and THIRD not in out
    assert " / result '350521********002X' is not success/failed" in out
    assert " / policy_year '350521********0032' is not 2023" in out
    assert "line 2: 扣费结果 '350521********002X' 不是 成功/失败" in out
    assert "line 3: 参保年度 '350521********0032' 不是 2023 年" in out


def test_a_time_before_2000_is_refused_saying_the_years_allowed(journey_factory: Any) -> None:
    j: Journey = journey_factory("2022-10-02T10:00:00+08:00")
    insured_in_huian(j, FIRST)
    j.token("tax", "tax")
    year = j.years(FIRST)["huian-2023"]["enrollment_id"]
    data = {"amount": "360.00", "paid_at": "1900-01-01T00:00:00+08:00"}
    answer = j.api(
        "POST", f"/enrollments/{year}/events", "tax", {"event": "deduct", "data": data}, expect=422
    )
    said = str(answer)
    assert "the year must be from 2000 to 2099" in said and "年份应在 2000 至 2099 年之间" in said
    assert "RFC 3339" not in said
    path = j.file("old.csv", HEADER + f"{FIRST},2023,360.00,success,,1900-01-01T00:00:00+08:00\n")
    out = j.cli("import", "deductions", path, "--policy", "huian-2023", exit_code=1).output
    assert "the year must be from 2000 to 2099" in out and "RFC 3339" not in out
    assert huian_state(j, FIRST) == "registered"


def test_the_event_door_checks_a_claims_evidence_as_the_other_doors(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2022-10-10T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_huian", "medical_insurance_clerk", "huian")
    body = {"id_number": CLAIMING, "name": "减", "region": "huian"}
    person = j.api("POST", "/registrations", "counter", body, expect=201)["person"]
    [task] = clerk.task_ids()
    clerk.complete(task, "approve_registration", document_kind="household_register")
    events = f"/registrations/{person['id']}/events"
    for evidence in ("x" * 201, "x" * 500, "低保证\t1"):
        body = {"event": "claim_reduction", "data": {"category": "dibao", "evidence": evidence}}
        answer = j.api("POST", events, "counter", body, expect=422)  # as the claims endpoint
        said = str(answer)
        assert "1 to 200 characters" in said and "1 至 200 个字符" in said, said
        assert answer["details"][0]["field"] == "evidence", answer
        assert j.api("GET", f"/registrations/{person['id']}", "counter")["state"] == "insured"
    body = {"event": "claim_reduction", "data": {"category": "royalty", "evidence": "证 1"}}
    answer = j.api("POST", events, "counter", body, expect=422)
    assert answer["details"][0]["field"] == "category" and "royalty" in answer["message_en"]
    out = j.cli(
        "people", "claim-reduction", "--id-number", CLAIMING, "--category", "dibao",
        "--evidence", "y" * 300, exit_code=1,
    ).output  # fmt: skip
    assert "1 to 200 characters" in out and "1 至 200 个字符" in out
    # a good claim goes through the event door as through the others
    body = {"event": "claim_reduction", "data": {"category": "dibao", "evidence": "低保证 QZ-1"}}
    j.api("POST", events, "counter", body, expect=200)
    assert j.api("GET", f"/registrations/{person['id']}", "counter")["state"] == "reduction_review"
