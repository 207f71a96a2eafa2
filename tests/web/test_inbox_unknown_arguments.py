"""A query parameter the inbox does not know (QA): ``?due=3`` typed for ``?within=3``, ``?page=2``,
``?scope=cgb`` is answered 400 naming it, in Chinese and English, never with the unfiltered list
that looks like a filtered one; every parameter the inbox's own links and forms send still works."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import client_for

from web.pages.inbox_args import KNOWN
from web.pages.inbox_team_queries import CRITERIA
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = make_id_number("440604", NOW.date().replace(year=1990), 21)


def refused(client: FlaskClient, query: str) -> str:
    answer = client.get(f"/inbox/?{query}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400, query
    assert 'id="task-list"' not in page and 'id="filters"' not in page
    return unescape(page)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("foo=1", "foo"),
        ("due=abc", "due"),
        ("scope=cgb", "scope"),
        ("kind=activate_card&page=2", "page"),
        ("page=-1", "page"),
        ("page=99999999999999999999999", "page"),
        ("Within=3", "Within"),
        ("within=3&within_days=3", "within_days"),
    ],
)
def test_an_unknown_inbox_parameter_is_answered_400_naming_it(
    app: Flask, query: str, named: str
) -> None:
    wang = client_for(app, "wang")
    page = refused(wang, query)
    assert f"任务箱没有名为“{named}”的筛选条件，请返回任务箱重新选择" in page
    english = refused(wang, f"{query}&lang=en")
    assert f"The inbox has no filter called “{named}”; go back and choose again" in english


def test_a_parameter_name_holding_an_id_number_is_not_shown(app: Flask) -> None:
    boss = client_for(app, "boss")
    page = refused(boss, f"{PERSON}=1")
    assert "任务箱没有名为“<key>”的筛选条件" in page
    assert PERSON not in page and PERSON[-4:] not in page


def test_every_parameter_the_inbox_sends_is_known(app: Flask) -> None:
    """The filter bar's fields, the pager's, the language switch's and a saved filter's link."""
    boss = client_for(app, "boss")
    page = boss.get("/inbox/").get_data(as_text=True)
    [bar] = re.findall(r'<form method="get" class="filters" id="filters">(.*?)</form>', page, re.S)
    sent = set(re.findall(r'name="([^"]+)"', bar))
    assert sent == {"group", "kind", "region", "overdue", "within", "mine", "sort", "following"}
    assert sent | {"after", "lang"} == KNOWN and set(CRITERIA) <= KNOWN  # a saved filter's link
    every = "group=bank_teller&kind=&region=&overdue=1&within=7&mine=1&sort=created&following=1"
    assert boss.get(f"/inbox/?{every}&after=&lang=en").status_code == 200
    switched = boss.get("/lang/zh?next=/inbox/%3Foverdue%3D1")
    assert switched.status_code == 302 and boss.get(switched.location).status_code == 200
