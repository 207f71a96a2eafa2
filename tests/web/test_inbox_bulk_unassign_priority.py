"""A supervisor's bulk form offers unclaiming and the priority too (QA: it offered only
``assign``, and ``/inbox/bulk`` refused a supervisor's ``unassign`` and ``priority`` 400).

The supervisor's inbox lets them choose, for the ticked tasks, to assign them, unclaim them (back
to the group) or set their priority (a value from 0 to 100, the input the task page uses), in
Chinese and English; each is one POST that changes every ticked open task and writes a history
row per task changed, the answer saying how many changed. A bad priority changes nothing. A
teller's inbox still offers claiming only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from lxml import html as lxml_html
from staff_login import client_for
from support import counter_card

from engine import queries
from engine import task_team as tt
from web.app import engine_of
from web.pages import inbox_queries as iq
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)

_people = iter(range(101, 10_000))


def new_task(app: Flask) -> int:
    """A card awaiting activation at ICBC: its open task's id."""
    person = make_id_number("440604", date(1980, 1, 1), next(_people))
    card = counter_card(app, person, events=("produce", "notify_holder"))
    return int(queries.tasks_of(engine_of(app).db, card.instance_id, "open")[0]["id"])


def task_row(app: Flask, task_id: int) -> dict[str, Any]:
    found = iq.task(engine_of(app).db, task_id)
    assert found is not None
    return found


def audits(app: Flask, task_id: int, event: str) -> list[dict[str, Any]]:
    rows = queries.history(engine_of(app).db, task_row(app, task_id)["instance_id"])
    return [h for h in rows if h["task_id"] == task_id and h["event"] == event]


def bulk_form(page: str) -> Any:
    return lxml_html.fromstring(page).get_element_by_id("bulk")


def test_the_supervisors_bulk_form_offers_unclaim_and_priority_in_both_languages(
    app: Flask,
) -> None:
    new_task(app)
    boss = client_for(app, "boss")
    for lang, words in (
        ("zh", ("指派给所选同事", "撤回认领（退回组内）", "设置优先级", "优先级（0 到 100")),
        (
            "en",
            ("Assign to", "Unclaim (back to the group)", "Set the priority", "Priority (0 to 100"),
        ),
    ):
        form = bulk_form(boss.get(f"/inbox/?group=bank_teller&lang={lang}").get_data(True))
        actions = {
            o.get("value"): o.text_content()
            for o in form.xpath(".//select[@id='bulk-action']/option")
        }
        assert set(actions) == {"assign", "unassign", "priority"}, actions
        assert words[0] in actions["assign"] and words[1] in actions["unassign"], actions
        assert words[2] in actions["priority"], actions
        [priority] = form.xpath(".//input[@id='bulk-priority']")
        assert (priority.get("name"), priority.get("type")) == ("priority", "number")
        assert (priority.get("min"), priority.get("max")) == ("0", "100")
        assert words[3] in form.text_content()
        assert form.xpath(".//*[@id='bulk-assignee']") and form.xpath(".//*[@id='bulk-submit']")


def test_a_supervisor_unclaims_a_selection_audited_per_task(app: Flask) -> None:
    held, also_held, free = new_task(app), new_task(app), new_task(app)
    engine = engine_of(app)
    engine.claim_task(held, "wang")
    engine.claim_task(also_held, "zhao")
    boss = client_for(app, "boss")
    answer = boss.post(
        "/inbox/bulk?lang=en",
        data={"action": "unassign", "task_id": [held, also_held, free], "back": "/inbox/"},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "2 tasks changed; 0 no longer open; 1 left as they were" in answer.get_data(True)
    assert [task_row(app, t)["assignee"] for t in (held, also_held, free)] == [None] * 3
    for task, was in ((held, "wang"), (also_held, "zhao")):
        [audit] = audits(app, task, tt.UNASSIGNED)
        assert (audit["actor"], audit["data"]["previous"]) == ("boss", was)
    assert audits(app, free, tt.UNASSIGNED) == []


def test_a_supervisor_sets_the_priority_of_a_selection(app: Flask) -> None:
    tasks = [new_task(app) for _ in range(3)]
    boss = client_for(app, "boss")
    before = [task_row(app, t)["priority"] for t in tasks]
    for bad in ("", "high", "101"):
        refused = boss.post(
            "/inbox/bulk?group=bank_teller",
            data={"action": "priority", "priority": bad, "task_id": tasks},
        )
        assert refused.status_code in (400, 422), bad
        assert "优先级须为 0 到 100 的整数" in refused.get_data(True)
        assert [task_row(app, t)["priority"] for t in tasks] == before
    answer = boss.post(
        "/inbox/bulk",
        data={"action": "priority", "priority": "80", "assignee": "wang", "task_id": tasks},
    )
    assert answer.status_code == 303
    for task in tasks:
        row = task_row(app, task)
        assert (row["priority"], row["assignee"]) == (80, None)  # the assignee field unused
        [audit] = audits(app, task, tt.PRIORITY)
        assert (audit["actor"], audit["data"]["priority"]) == ("boss", 80)


def test_a_tellers_inbox_offers_claiming_only(app: Flask) -> None:
    new_task(app)
    wang = client_for(app, "wang")
    for lang in ("zh", "en"):
        form = bulk_form(wang.get(f"/inbox/?lang={lang}").get_data(True))
        assert form.xpath(".//input[@name='action']/@value") == ["claim"]
        assert not form.xpath(
            ".//*[@id='bulk-action' or @id='bulk-priority' or @id='bulk-assignee']"
        )
        assert "unassign" not in lxml_html.tostring(form, encoding="unicode")
