"""A forged bulk form asking for a supervisor's action (QA): a teller's or clerk's ``unassign``,
``priority`` or ``assign`` on tasks they may read is refused 403 saying the action is for
supervisors (Chinese and English), written as a ``permission_denied`` security event, and
nothing changes; not "Select 1 to 1000 tasks and an action", for they did select both."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from staff_login import client_for
from support import counter_card

from engine import queries
from web.app import engine_of
from web.pages import inbox_queries as iq
from web.security_log import recent
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def open_task(app: Flask, sequence: int) -> int:
    """A card awaiting activation at ICBC (the teller ``wang``'s bank): its open task's id."""
    person = make_id_number("440604", date(1980, 1, 1), sequence)
    card = counter_card(app, person, events=("produce", "notify_holder"))
    return int(queries.tasks_of(engine_of(app).db, card.instance_id, "open")[0]["id"])


def task_state(app: Flask, task_id: int) -> tuple[Any, ...]:
    found = iq.task(engine_of(app).db, task_id)
    assert found is not None
    return found["status"], found["assignee"], found["priority"]


@pytest.mark.parametrize(
    "form",
    [
        {"action": "unassign"},
        {"action": "priority", "priority": "999999999999"},
        {"action": "priority", "priority": "100"},
        {"action": "assign", "assignee": "zhao"},
    ],
)
def test_a_tellers_bulk_supervisor_action_is_403_in_words(app: Flask, form: dict[str, str]) -> None:
    claimed, free = open_task(app, 1), open_task(app, 3)
    wang = client_for(app, "wang")
    assert wang.post(f"/inbox/{claimed}/claim").status_code == 302
    before = {t: task_state(app, t) for t in (claimed, free)}
    denials = len(recent(engine_of(app).db, kind="permission_denied"))

    for tasks in ([claimed], [claimed, free]):
        data = {**form, "task_id": [str(t) for t in tasks], "back": "/inbox/"}
        answer = wang.post("/inbox/bulk", data=data)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 403
        assert "此操作仅限主管；您可以认领所选任务" in page
        assert "请选择 1 到 1000 个任务及操作" not in page
    english = wang.post("/inbox/bulk?lang=en", data={**form, "task_id": str(claimed)})
    assert english.status_code == 403
    assert "That action is for supervisors; you can claim the selected tasks" in english.get_data(
        as_text=True
    )

    assert {t: task_state(app, t) for t in (claimed, free)} == before
    events = recent(engine_of(app).db, kind="permission_denied")
    assert len(events) == denials + 3
    assert events[0]["actor"] == "wang"


def test_a_tellers_bulk_claim_still_works_and_a_supervisor_is_not_refused_so(app: Flask) -> None:
    task = open_task(app, 5)
    wang = client_for(app, "wang")
    claimed = wang.post("/inbox/bulk", data={"action": "claim", "task_id": str(task)})
    assert claimed.status_code == 303 and task_state(app, task)[1] == "wang"
    boss = client_for(app, "boss")
    unknown = boss.post("/inbox/bulk", data={"action": "unassign", "task_id": str(task)})
    assert unknown.status_code == 303  # the bulk form offers supervisors unassign too
    assert task_state(app, task)[1] is None
