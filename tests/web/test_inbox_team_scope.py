"""The inbox's team work keeps to the user's group and scope (QA round 2, items 2, 3 and 13).

Every door of the inbox, the bulk form too, answers a task outside the user's scope as it answers
an unknown one; a filter shared "with my group" is seen only by users of the same group and scope
(another bank's tellers do not see it); a refused bulk assignment names the tasks it refused (the
person's ID number masked), not only that something was wrong."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for
from support import TEAM, MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from web.app import engine_of
from web.pages import inbox_queries as iq
from web.pages import inbox_team_queries as tq
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
UNKNOWN = 987_654

_people = iter(range(1, 10_000))


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    staff = (*TEAM, ("boss2", "supervisor", None))
    return make_app(SimulatedClock(NOW), staff=staff)


def new_task(app: Flask, bank: str = "icbc") -> tuple[int, str]:
    """A card awaiting activation at ``bank``: its open task's id, and the person's ID number."""
    person = make_id_number("440604", date(1980, 1, 1), next(_people))
    card = counter_card(app, person, bank=bank, events=("produce", "notify_holder"))
    found = queries.tasks_of(engine_of(app).db, card.instance_id, "open")
    return int(found[0]["id"]), person


def task_row(app: Flask, task_id: int) -> dict[str, Any]:
    found = iq.task(engine_of(app).db, task_id)
    assert found is not None
    return found


def _answer(client: FlaskClient, method: str, url: str, data: Any) -> tuple[int, str]:
    """The status and the page (without its CSRF tokens and the task's number) of a request."""
    answer = client.get(url) if method == "get" else client.post(url, data=data)
    page = re.sub(r'name="csrf_token" value="[^"]+"', "", answer.get_data(as_text=True))
    return answer.status_code, page


def test_every_door_answers_another_banks_task_as_an_unknown_one(app: Flask) -> None:
    mine, _ = new_task(app)
    theirs, _ = new_task(app, bank="boc")
    wang = client_for(app, "wang")
    doors: list[tuple[str, str, dict[str, Any]]] = [
        ("get", "/inbox/{id}", {}),
        *(
            ("post", f"/inbox/{{id}}/{action}", {"assignee": "zhao", "body": "x"})
            for action in ("claim", "release", "complete", "delegate", "resolve", "comments")
        ),
        ("post", "/inbox/{id}/follow-up", {"follow_up": "2024-03-05"}),
        ("post", "/inbox/{id}/assign", {"assignee": "wang"}),
        ("post", "/inbox/{id}/unassign", {}),
        ("post", "/inbox/{id}/priority", {"priority": "60"}),
    ]
    for method, url, data in doors:
        hidden = _answer(wang, method, url.format(id=theirs), data)
        unknown = _answer(wang, method, url.format(id=UNKNOWN), data)
        assert hidden[0] == unknown[0] == 404, url
        assert hidden[1] == unknown[1].replace(str(UNKNOWN), str(theirs)), url
    # the bulk form: alone or beside a task of the user's, both answers are the same, and the
    # user's own task is left as it was
    for action in ("claim", "assign"):
        for selection in ([theirs], [mine, theirs]):
            hidden = _answer(wang, "post", "/inbox/bulk", {"action": action, "task_id": selection})
            asked = [UNKNOWN if t == theirs else t for t in selection]
            unknown = _answer(wang, "post", "/inbox/bulk", {"action": action, "task_id": asked})
            assert hidden == unknown, (action, selection)
            assert hidden[0] == 404
    assert task_row(app, mine)["assignee"] is None and task_row(app, theirs)["assignee"] is None
    # a supervisor, who reads every task, gets an unknown one in a selection as 404 too
    boss = client_for(app, "boss")
    data = {"action": "assign", "assignee": "wang", "task_id": [mine, UNKNOWN]}
    assert boss.post("/inbox/bulk", data=data).status_code == 404
    assert task_row(app, mine)["assignee"] is None
    # the teller's own selection still goes through
    answer = wang.post("/inbox/bulk", data={"action": "claim", "task_id": [mine]})
    assert answer.status_code == 303 and task_row(app, mine)["assignee"] == "wang"


def _filter_names(client: FlaskClient) -> list[str]:
    page = client.get("/inbox/").get_data(as_text=True)
    document = lxml.html.document_fromstring(page)
    return [a.text_content() for a in document.xpath('//ul[@class="filter-list"]/li/a')]


def test_a_shared_filter_is_seen_by_the_same_group_and_scope_only(app: Flask) -> None:
    new_task(app)
    wang, zhao, chen = client_for(app, "wang"), client_for(app, "zhao"), client_for(app, "chen")
    boss, boss2 = client_for(app, "boss"), client_for(app, "boss2")
    for client, name in ((wang, "icbc team"), (chen, "boc team"), (boss, "supervisors")):
        answer = client.post("/inbox/filters", data={"name": name, "shared": "1", "mine": "1"})
        assert answer.status_code == 303
    assert wang.post("/inbox/filters", data={"name": "wang alone"}).status_code == 303
    assert _filter_names(wang) == ["icbc team", "wang alone"]
    assert _filter_names(zhao) == ["icbc team"]  # same bank
    assert _filter_names(chen) == ["boc team"]  # another bank: not icbc's
    assert _filter_names(boss2) == ["supervisors"]  # supervisors share among themselves
    db = engine_of(app).db
    assert [f["name"] for f in tq.filters_for(db, "chen", "bank_teller", "boc")] == ["boc team"]


def _flash(page: str) -> str:
    [found] = lxml.html.document_fromstring(page).xpath('//div[contains(@class, "flash")]')
    return " ".join(found.text_content().split())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_bulk_assignment_names_the_tasks_it_refused(app: Flask, lang: str) -> None:
    (first, one), (second, two) = new_task(app), new_task(app)
    (boc, three) = new_task(app, bank="boc")
    boss = client_for(app, "boss")
    data = {"action": "assign", "assignee": "chen", "task_id": [first, boc, second]}
    refused = boss.post(f"/inbox/bulk?group=bank_teller&lang={lang}", data=data)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    says = _flash(page)
    named = {
        "zh": ("chen 不是以下任务所属组和范围的在岗人员", "核验身份并激活", "工商银行"),
        "en": (
            "chen is not active staff of the group and scope of these tasks",
            "Verify identity",
            "ICBC",
        ),
    }[lang]
    assert all(word in says for word in named), says
    assert f"#{first}" in says and f"#{second}" in says and f"#{boc}" not in says
    assert mask_id_number(one) in says and mask_id_number(two) in says
    assert mask_id_number(three) not in says
    assert one not in page and two not in page and three not in page
    assert not re.search(r"\d{18}", says)
    assert all(task_row(app, t)["assignee"] is None for t in (first, second, boc))
    # a long refusal names the first few and says how many in all
    many = [new_task(app)[0] for _ in range(6)]
    data = {"action": "assign", "assignee": "chen", "task_id": many}
    says = _flash(boss.post(f"/inbox/bulk?group=bank_teller&lang={lang}", data=data).get_data(True))
    assert {"zh": "等共 6 个", "en": "and 1 more"}[lang] in says, says
    assert f"#{many[4]}" in says and f"#{many[5]}" not in says
