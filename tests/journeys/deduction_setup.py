"""What the deduction journeys set up alike, through the doors: a Foshan journey with its tokens,
a person registered and approved in Foshan, a refund asked for, people brought onto the books in
Hui'an, and a deduction file (the tax authority's columns) imported at the command line."""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey

HEADER = "id_number,policy_year,amount,result,reason,paid_at\n"
"""A deduction file's header: the tax authority's columns."""


def foshan_journey(journey_factory: Any) -> Journey:
    """A journey on 2022-01-10 (Foshan's 2022 period open) with the tokens ``counter`` (a
    channel), ``tax`` (the tax authority) and ``clerks`` (Foshan's clerks)."""
    j: Journey = journey_factory("2022-01-10T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("tax", "tax")
    j.token("clerks", "clerk:foshan")
    return j


def register_in_foshan(j: Journey, person: str) -> tuple[int, dict[str, Any]]:
    """Register ``person`` in Foshan and approve them through ``/tasks/{id}/complete``: their
    record's id and the approval's answer."""
    body = {"id_number": person, "name": "张三", "region": "foshan"}
    made = j.api("POST", "/registrations", "counter", body, expect=201)
    [task] = j.api("GET", "/tasks", "clerks", expect=200)["tasks"]
    approve = {"outcome": "approve_registration", "data": {"document_kind": "household_register"}}
    approved = j.api("POST", f"/tasks/{task['id']}/complete", "clerks", approve, expect=200)
    return int(made["person"]["id"]), approved


def refund_requested(j: Journey, year: int) -> int:
    """A refund of enrollment ``year`` asked for at the counter (the person is insured as an
    employee elsewhere, no benefits used): the clerks' review task."""
    request = {"employee_insurance_elsewhere": True, "benefits_used": False}
    body = {"event": "request_refund", "data": request}
    j.api("POST", f"/enrollments/{year}/events", "counter", body, expect=200)
    [task] = j.api("GET", "/tasks", "clerks", expect=200)["tasks"]
    return int(task["id"])


def import_deductions(j: Journey, name: str, rows: str, exit_code: int) -> str:
    """``shebao import deductions`` of a file ``name`` (``HEADER`` and ``rows``) for foshan-2022:
    what it printed."""
    path = j.file(name, HEADER + rows)
    return str(
        j.cli("import", "deductions", path, "--policy", "foshan-2022", exit_code=exit_code).output
    )


def insured_in_huian(j: Journey, *numbers: str) -> None:
    """People on the books in Hui'an, each with the 2023 year open to pay (360.00); the tokens
    ``counter`` (a channel) and ``importer`` made."""
    j.token("counter", "channel")
    j.token("importer", "import")
    rows = [{"id_number": n, "name": "扣", "region": "huian"} for n in numbers]
    j.api("POST", "/imports/people", "importer", {"rows": rows}, expect=200)


def huian_state(j: Journey, number: str) -> str:
    """The state of the person's huian-2023 year."""
    return str(j.years(number)["huian-2023"]["state"])
