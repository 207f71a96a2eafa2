"""Team work in the inbox: assign, delegate and resolve, unassign, bulk claim and assign, follow-up
dates, priorities, comments, saved filters, sorts with keyset pages, days overdue (issue 18)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select
from staff_login import client_for
from staff_pages import untranslated, visible_text
from support import counter_card

from engine import queries
from engine import statements as st
from engine import task_team as tt
from engine.clock import SimulatedClock
from engine.errors import TaskClaimedByOther, TaskDelegated, TaskNotOpen
from web.app import engine_of
from web.pages import inbox_queries as iq
from web.pages import inbox_team_queries as tq
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
"""The service's time: the ``clock`` fixture's (``conftest.py``)."""


_people = iter(range(1, 10_000))


def new_task(app: Flask, bank: str = "icbc") -> int:
    """A card awaiting activation at ``bank``: its open task's id."""
    engine = engine_of(app)
    card = counter_card(
        app,
        make_id_number("440604", date(1980, 1, 1), next(_people)),
        bank=bank,
        events=("produce", "notify_holder"),
    )
    return int(queries.tasks_of(engine.db, card.instance_id, "open")[0]["id"])


def task_row(app: Flask, task_id: int) -> dict[str, Any]:
    found = iq.task(engine_of(app).db, task_id)
    assert found is not None
    return found


def team_history(app: Flask, task_id: int) -> list[dict[str, Any]]:
    engine = engine_of(app)
    rows = queries.history(engine.db, task_row(app, task_id)["instance_id"])
    return [h for h in rows if h["task_id"] == task_id and h["event"] in tt.EVENTS]


def test_a_supervisor_assigns_reassigns_and_unclaims_with_an_audit_row_each(app: Flask) -> None:
    task = new_task(app)
    boss = client_for(app, "boss")
    assert boss.post(f"/inbox/{task}/assign", data={"assignee": "wang"}).status_code == 303
    assert boss.post(f"/inbox/{task}/assign", data={"assignee": "zhao"}).status_code == 303
    assert task_row(app, task)["assignee"] == "zhao"
    assert boss.post(f"/inbox/{task}/unassign").status_code == 303
    assert task_row(app, task)["assignee"] is None
    rows = team_history(app, task)
    assert [(h["event"], h["actor"]) for h in rows] == [
        ("task_assigned", "boss"),
        ("task_assigned", "boss"),
        ("task_unassigned", "boss"),
    ]
    assert rows[1]["data"] == {"assignee": "zhao", "previous": "wang"}
    assert all(h["from_state"] == h["to_state"] == "awaiting_activation" for h in rows)
    english = boss.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "Task assigned" in english and "Task unclaimed by a supervisor" in english
    assert "指派任务" in boss.get(f"/inbox/{task}?lang=zh").get_data(as_text=True)


def test_only_supervisors_assign_and_only_to_staff_of_the_tasks_group_and_scope(
    app: Flask,
) -> None:
    task = new_task(app)
    wang = client_for(app, "wang")
    assert wang.post(f"/inbox/{task}/assign", data={"assignee": "wang"}).status_code == 403
    assert wang.post(f"/inbox/{task}/unassign").status_code == 403
    boss = client_for(app, "boss")
    other_bank = boss.post(f"/inbox/{task}/assign?lang=en", data={"assignee": "chen"})
    assert other_bank.status_code == 422
    assert "not active staff of the task" in other_bank.get_data(as_text=True)
    assert boss.post(f"/inbox/{task}/assign", data={"assignee": "nobody"}).status_code == 422
    assert boss.post(f"/inbox/{task}/assign", data={"assignee": ""}).status_code == 422
    assert boss.post("/inbox/999999/assign", data={"assignee": "wang"}).status_code == 404
    assert task_row(app, task)["assignee"] is None
    assert team_history(app, task) == []


def test_a_closed_task_cannot_be_changed(app: Flask) -> None:
    task = new_task(app)
    engine = engine_of(app)
    with engine.db.begin() as conn:
        conn.execute(st.tasks.update().where(st.tasks.c.id == task).values(status="cancelled"))
    with pytest.raises(TaskNotOpen):
        tt.assign(engine, task, "wang", "boss")
    boss = client_for(app, "boss")
    answer = boss.post(f"/inbox/{task}/assign?lang=en", data={"assignee": "wang"})
    assert answer.status_code == 409 and "no longer open" in answer.get_data(as_text=True)
    assert boss.post(f"/inbox/{task}/priority", data={"priority": "80"}).status_code == 409
    assert task_row(app, task)["assignee"] is None and task_row(app, task)["priority"] == 50
    assert team_history(app, task) == []


def test_delegate_and_resolve_by_camunda_semantics(app: Flask) -> None:
    task = new_task(app)
    wang, zhao, chen = client_for(app, "wang"), client_for(app, "zhao"), client_for(app, "chen")
    assert wang.post(f"/inbox/{task}/claim").status_code == 302
    # only the holder delegates (a colleague, or another bank's teller, may not)
    assert zhao.post(f"/inbox/{task}/delegate", data={"assignee": "zhao"}).status_code == 403
    assert chen.post(f"/inbox/{task}/delegate", data={"assignee": "chen"}).status_code == 404
    # and only to a colleague of the task's group and scope
    assert wang.post(f"/inbox/{task}/delegate", data={"assignee": "chen"}).status_code == 422
    assert task_row(app, task)["assignee"] == "wang"
    assert wang.post(f"/inbox/{task}/delegate", data={"assignee": "zhao"}).status_code == 303
    row = task_row(app, task)
    assert (row["assignee"], row["owner"]) == ("zhao", "wang")
    assert "delegated by wang" in zhao.get("/inbox/?lang=en").get_data(as_text=True)
    # the delegate works it but does not complete it: it goes back to the owner (Camunda's rule)
    page = zhao.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert 'id="delegated-note"' in page and 'id="complete-form"' not in page
    refused = zhao.post(f"/inbox/{task}/complete?lang=en", data={"outcome": "activate"})
    assert refused.status_code == 409
    assert "resolve it" in refused.get_data(as_text=True)
    with pytest.raises(TaskDelegated):
        engine_of(app).complete_task(task, actor="zhao", outcome="activate")
    assert task_row(app, task)["status"] == "open" and task_row(app, task)["attempts"] == 0
    assert wang.post(f"/inbox/{task}/resolve").status_code == 403  # not wang's to give back
    assert zhao.post(f"/inbox/{task}/resolve").status_code == 303
    row = task_row(app, task)
    assert (row["assignee"], row["owner"]) == ("wang", None)
    assert 'id="complete-form"' in wang.get(f"/inbox/{task}").get_data(as_text=True)
    events = [h["event"] for h in team_history(app, task)]
    assert events == ["task_delegated", "task_resolved"]
    # the instance's history says who had it and who has it now, in each language
    detail = wang.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "holder: wang → zhao; delegated by wang" in detail
    assert "holder: zhao → wang" in detail
    zh_page = wang.get(f"/inbox/{task}?lang=zh").get_data(as_text=True)
    assert "经办人：zhao → wang" in zh_page
    assert (
        untranslated(visible_text(zh_page), "zh", allowed={"wang", "zhao", "chen", "boss", "t"})
        == []
    )
    # nothing to resolve any more
    assert wang.post(f"/inbox/{task}/resolve").status_code == 422


def test_staff_claim_a_selection_in_one_post(app: Flask) -> None:
    free, taken, closed = new_task(app), new_task(app), new_task(app)
    engine = engine_of(app)
    engine.claim_task(taken, "zhao")
    with engine.db.begin() as conn:
        conn.execute(st.tasks.update().where(st.tasks.c.id == closed).values(status="completed"))
    wang = client_for(app, "wang")
    answer = wang.post(
        "/inbox/bulk?lang=en",
        data={"action": "claim", "task_id": [str(free), str(taken), str(closed)]},
        follow_redirects=True,
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "1 tasks changed; 1 no longer open; 1 left as they were" in text
    assert task_row(app, free)["assignee"] == "wang"
    assert task_row(app, taken)["assignee"] == "zhao"
    assert [h["event"] for h in team_history(app, free)] == ["task_claimed"]
    assert team_history(app, taken) == [] and team_history(app, closed) == []


def test_a_selection_with_a_task_out_of_scope_changes_nothing(app: Flask) -> None:
    mine, theirs = new_task(app), new_task(app, bank="boc")
    wang = client_for(app, "wang")
    data = {"action": "claim", "task_id": [str(mine), str(theirs)]}
    assert wang.post("/inbox/bulk", data=data).status_code == 404  # as for an unknown task
    assert wang.post("/inbox/bulk", data={"action": "claim", "task_id": "abc"}).status_code == 400
    assert wang.post("/inbox/bulk", data={"action": "claim"}).status_code == 400
    assert wang.post("/inbox/bulk", data={"action": "assign", "task_id": mine}).status_code == 403
    assert task_row(app, mine)["assignee"] is None


def test_a_supervisor_assigns_a_selection_audited_per_task(app: Flask) -> None:
    tasks = [new_task(app) for _ in range(3)]
    other = new_task(app, bank="boc")
    boss = client_for(app, "boss")
    refused = boss.post(
        "/inbox/bulk", data={"action": "assign", "assignee": "wang", "task_id": [tasks[0], other]}
    )
    assert refused.status_code == 422
    answer = boss.post(
        "/inbox/bulk",
        data={"action": "assign", "assignee": "wang", "task_id": tasks, "back": "/inbox/?x=1"},
    )
    assert answer.status_code == 303 and answer.location.endswith("/inbox/?x=1")
    assert all(task_row(app, t)["assignee"] == "wang" for t in tasks)
    assert task_row(app, other)["assignee"] is None
    for t in tasks:
        [audit] = team_history(app, t)
        assert (audit["event"], audit["actor"], audit["data"]["assignee"]) == (
            "task_assigned",
            "boss",
            "wang",
        )
    listing = boss.get("/inbox/?group=bank_teller").get_data(as_text=True)
    assert 'id="bulk-assignee"' in listing and 'value="wang"' in listing


def test_a_refused_selection_on_a_long_inbox_shows_the_inbox_with_the_reason(app: Flask) -> None:
    """The inbox re-rendered after a refusal keeps its next-page link (it has more than a page)."""
    tasks = [new_task(app) for _ in range(iq.PAGE_SIZE + 1)]
    boss = client_for(app, "boss")
    for data in (
        {"action": "assign", "assignee": "wang"},  # nothing ticked
        {"action": "assign", "assignee": "nobody", "task_id": tasks[:2]},
    ):
        refused = boss.post("/inbox/bulk?group=bank_teller", data=data)
        assert refused.status_code in (400, 422), refused.get_data(as_text=True)[:300]
        assert 'id="bulk-assignee"' in refused.get_data(as_text=True)
    assert all(task_row(app, t)["assignee"] is None for t in tasks)


def test_a_follow_up_date_hides_the_task_until_then(app: Flask, clock: SimulatedClock) -> None:
    task, other = new_task(app), new_task(app)
    wang = client_for(app, "wang")
    assert (
        wang.post(f"/inbox/{task}/follow-up", data={"follow_up": "2024-13-01"}).status_code == 400
    )
    assert (
        wang.post(f"/inbox/{task}/follow-up", data={"follow_up": "2024-02-01"}).status_code == 422
    )
    assert (
        client_for(app, "chen")
        .post(f"/inbox/{task}/follow-up", data={"follow_up": "2024-03-05"})
        .status_code
        == 404  # another bank's task: as for an unknown one
    )
    assert task_row(app, task)["follow_up_at"] is None
    assert (
        wang.post(f"/inbox/{task}/follow-up", data={"follow_up": "2024-03-05"}).status_code == 303
    )
    default = wang.get("/inbox/").get_data(as_text=True)
    assert f'data-task-id="{task}"' not in default and f'data-task-id="{other}"' in default
    following = wang.get("/inbox/?following=1").get_data(as_text=True)
    assert f'data-task-id="{task}"' in following and f'data-task-id="{other}"' not in following
    clock.advance(timedelta(days=5))  # a new login: the session ended meanwhile
    page = client_for(app, "wang").get("/inbox/").get_data(as_text=True)
    assert f'data-task-id="{task}"' in page
    [audit] = team_history(app, task)
    assert audit["event"] == "task_follow_up" and audit["data"]["previous"] is None


def test_the_follow_up_log_shows_local_dates_not_utc_timestamps(app: Flask) -> None:
    task = new_task(app)
    wang = client_for(app, "wang")
    for day in ("2024-03-05", "2024-03-08"):
        answer = wang.post(f"/inbox/{task}/follow-up", data={"follow_up": day})
        assert answer.status_code == 303
    # stored as the start of the day in China (16:00 UTC the day before)
    assert team_history(app, task)[-1]["data"]["previous"] == "2024-03-04T16:00:00+00:00"
    page = wang.get(f"/inbox/{task}").get_data(as_text=True)
    log = page[
        page.index('id="team-history"') : page.index("</ol>", page.index('id="team-history"'))
    ]
    assert "跟进日期：无 → 2024-03-05" in log and "跟进日期：2024-03-05 → 2024-03-08" in log
    assert "T16:00" not in log and "+00:00" not in log and "2024-03-04" not in log
    english = wang.get(f"/inbox/{task}?lang=en").get_data(as_text=True)
    assert "follow-up: 2024-03-05 → 2024-03-08" in english


def test_only_the_holder_sets_a_follow_up_on_a_claimed_task_not_even_a_supervisor(
    app: Flask,
) -> None:
    task = new_task(app)
    wang, boss = client_for(app, "wang"), client_for(app, "boss")
    assert wang.post(f"/inbox/{task}/claim").status_code == 302
    page = boss.get(f"/inbox/{task}").get_data(as_text=True)
    assert 'id="follow-up-form"' not in page
    assert 'id="unassign-form"' in page and 'id="assign-form"' in page  # the supervisor's own
    for lang, says in (("zh", "此任务已由同事认领"), ("en", "A colleague has claimed this task")):
        refused = boss.post(
            f"/inbox/{task}/follow-up?lang={lang}", data={"follow_up": "2024-03-05"}
        )
        assert refused.status_code == 409 and says in refused.get_data(as_text=True)
    # the engine's team operation holds the same rule, whichever door calls it
    with pytest.raises(TaskClaimedByOther):
        tt.set_follow_up(engine_of(app), task, NOW + timedelta(days=4), "boss")
    assert task_row(app, task)["follow_up_at"] is None
    assert [h["event"] for h in team_history(app, task)] == []
    # the holder keeps the form; a task nobody holds any more is the supervisor's to follow up
    assert 'id="follow-up-form"' in wang.get(f"/inbox/{task}").get_data(as_text=True)
    assert boss.post(f"/inbox/{task}/unassign").status_code == 303
    assert 'id="follow-up-form"' in boss.get(f"/inbox/{task}").get_data(as_text=True)
    assert (
        boss.post(f"/inbox/{task}/follow-up", data={"follow_up": "2024-03-05"}).status_code == 303
    )
    assert task_row(app, task)["follow_up_at"] is not None


def test_priorities_are_set_by_supervisors_within_0_to_100(app: Flask) -> None:
    low, high = new_task(app), new_task(app)
    boss, wang = client_for(app, "boss"), client_for(app, "wang")
    assert wang.post(f"/inbox/{high}/priority", data={"priority": "90"}).status_code == 403
    assert boss.post(f"/inbox/{high}/priority", data={"priority": "101"}).status_code == 422
    assert boss.post(f"/inbox/{high}/priority", data={"priority": "x"}).status_code == 400
    assert task_row(app, high)["priority"] == 50
    assert boss.post(f"/inbox/{high}/priority", data={"priority": "90"}).status_code == 303
    page = wang.get("/inbox/?sort=priority").get_data(as_text=True)
    assert page.index(f'data-task-id="{high}"') < page.index(f'data-task-id="{low}"')
    page = wang.get("/inbox/?sort=created").get_data(as_text=True)
    assert page.index(f'data-task-id="{low}"') < page.index(f'data-task-id="{high}"')


def _seed_tasks(app: Flask, count: int) -> None:
    """``count`` open tasks of the icbc queue with mixed due dates (some none), creation times
    and priorities, ties included, on the instance of one real task."""
    instance = task_row(app, new_task(app))["instance_id"]
    rows = [
        {
            "instance_id": instance,
            "process": "card",
            "name": "activate_card",
            "state": "awaiting_activation",
            "candidate_group": "bank_teller",
            "scope": "icbc",
            "status": "open",
            "created_at": NOW - timedelta(hours=n % 7),
            "due_at": None if n % 5 == 0 else NOW + timedelta(days=n % 4),
            "priority": (n * 37) % 4 * 10,
        }
        for n in range(count)
    ]
    with engine_of(app).db.begin() as conn:
        conn.execute(insert(st.tasks), rows)


@pytest.mark.parametrize("sort", ["due", "created", "priority"])
def test_keyset_pages_cover_every_task_once_in_order_for_each_sort(app: Flask, sort: str) -> None:
    _seed_tasks(app, 40)
    db = engine_of(app).db
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        page = iq.open_tasks(
            db,
            "bank_teller",
            "icbc",
            username="wang",
            now=NOW,
            filters=iq.TaskFilter(sort=sort),
            cursor=iq.Cursor.decode(cursor, sort),
            limit=6,
        )
        seen += page.rows
        cursor = page.next_cursor
        if cursor is None:
            break
    with db.connect() as conn:
        everything = [dict(r._mapping) for r in conn.execute(select(st.tasks))]
    key = iq._order_key(sort)  # noqa: SLF001 - the order the pages promise
    assert [r["id"] for r in seen] == [r["id"] for r in sorted(everything, key=key)]
    assert len({r["id"] for r in seen}) == len(everything) == 41
    # the pages' links walk the same way for a user (a teller: all of the icbc queue)
    wang = client_for(app, "wang")
    first = wang.get(f"/inbox/?sort={sort}").get_data(as_text=True)
    assert first.count("data-task-id=") == 41  # one page of 50


def test_saved_filters_private_or_shared_with_the_group(app: Flask) -> None:
    new_task(app)
    new_task(app)
    wang, zhao = client_for(app, "wang"), client_for(app, "zhao")
    saved = wang.post("/inbox/filters", data={"name": "Mine only", "mine": "1", "sort": "created"})
    assert saved.status_code == 303 and "mine=1" in saved.location
    wang.post("/inbox/filters", data={"name": "Team <all>", "shared": "1", "sort": "priority"})
    assert wang.post("/inbox/filters", data={"name": ""}).status_code == 422
    own = tq.filters_for(engine_of(app).db, "wang", "bank_teller", "icbc")
    assert [f["name"] for f in own] == ["Mine only", "Team <all>"]
    assert own[0]["criteria"] == {"mine": "1", "sort": "created"} and own[0]["shared_group"] is None
    page = zhao.get("/inbox/").get_data(as_text=True)
    assert "Mine only" not in page
    assert "Team &lt;all&gt;" in page and "Team <all>" not in page
    assert '<span class="count">2</span>' in page  # both open tasks match the shared filter
    shared_id = own[1]["id"]
    assert zhao.post(f"/inbox/filters/{shared_id}/delete").status_code == 404
    assert wang.post(f"/inbox/filters/{shared_id}/delete").status_code == 303
    assert "Team &lt;all&gt;" not in zhao.get("/inbox/").get_data(as_text=True)


def test_comments_are_shown_as_text_and_audited(app: Flask) -> None:
    task = new_task(app)
    wang, chen = client_for(app, "wang"), client_for(app, "chen")
    body = '<script>alert("x")</script><b>bold</b>'
    assert wang.post(f"/inbox/{task}/comments", data={"body": body}).status_code == 303
    assert wang.post(f"/inbox/{task}/comments", data={"body": "   "}).status_code == 422
    assert wang.post(f"/inbox/{task}/comments", data={"body": "x" * 2001}).status_code == 422
    assert chen.post(f"/inbox/{task}/comments", data={"body": "hi"}).status_code == 404
    page = wang.get(f"/inbox/{task}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert len(tt.comments_of(engine_of(app).db, task)) == 1
    assert [h["event"] for h in team_history(app, task)] == ["task_commented"]


def test_days_overdue_in_the_list_and_per_queue_on_the_overdue_page(
    app: Flask, clock: SimulatedClock
) -> None:
    early = new_task(app)
    clock.advance(timedelta(days=10))
    new_task(app, bank="boc")
    clock.advance(timedelta(days=30))  # the icbc task: 10 days late; the boc one: due tomorrow
    due = task_row(app, early)["due_at"]
    days = (clock.now() - due).days
    assert days >= 1
    wang = client_for(app, "wang")
    listing = wang.get("/inbox/").get_data(as_text=True)
    assert f'<td class="days-overdue late">{days}</td>' in listing
    queues = tq.overdue_queues(engine_of(app).db, ["bank_teller"], clock.now())
    assert queues == [{"group": "bank_teller", "scope": "icbc", "count": 1, "oldest_days": days}]
    page = client_for(app, "boss").get("/processes/overdue?lang=en").get_data(as_text=True)
    assert 'id="overdue-queues"' in page and "Oldest, days overdue" in page
    assert f'<td class="late num">{days}</td>' in page
    assert f'<td class="late days-overdue">{days}</td>' in page
