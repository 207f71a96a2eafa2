"""The inbox's query parameters (QA, low): a malformed one is answered 400 in words on the
service's error page, never with the unfiltered list; the region filter offers only the regions
the user may see."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from staff_login import client_for
from support import TEAM, MakeApp

from engine.clock import SimulatedClock
from web.app import engine_of
from web.auth import create_user

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(SimulatedClock(NOW), staff=TEAM)
    create_user(engine_of(app).db, "ss_foshan", "pw", "social_security_clerk", "foshan")
    return app


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("within=abc", "天内到期"),
        ("within=-1", "天内到期"),
        ("within=99999999999999999999", "天内到期"),
        ("kind=nosuch", "任务类型"),
        ("after=garbage", "下一页"),
        ("sort=x;drop", "排序"),
        ("overdue=yes", "仅逾期"),
        ("region=atlantis", "地区"),
    ],
)
def test_a_malformed_inbox_parameter_is_answered_400_in_words(
    app: Flask, query: str, named: str
) -> None:
    wang = client_for(app, "wang")
    answer = wang.get(f"/inbox/?{query}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400, query
    assert "error-page" in page and f"筛选条件“{named}”的值无效，请返回任务箱重新选择" in page
    assert "收件箱" not in page  # the inbox has one name: 任务箱
    assert 'id="task-list"' not in page and 'id="filters"' not in page


def test_the_refusal_speaks_english_too_and_good_parameters_still_filter(app: Flask) -> None:
    wang = client_for(app, "wang")
    english = wang.get("/inbox/?within=abc&lang=en").get_data(as_text=True)
    assert "The filter “Due within (days)” has a value the inbox does not offer" in english
    assert "Due within (days) <input" in wang.get("/inbox/?lang=en").get_data(as_text=True)
    good = "kind=activate_card&region=foshan&within=7&sort=created&overdue=0&mine=1&after="
    assert wang.get(f"/inbox/?{good}").status_code == 200
    assert wang.get("/inbox/?kind=&region=&within=&sort=").status_code == 200
    assert wang.get("/inbox/?after=n_5").status_code == 200  # a cursor the pager writes


def test_a_clerk_is_offered_only_the_regions_of_their_scope(app: Flask) -> None:
    def offered(page: str) -> set[str]:
        [select] = re.findall(r'<select name="region">(.*?)</select>', page, re.S)
        return set(re.findall(r'<option value="([^"]*)"', select)) - {""}

    clerk = client_for(app, "ss_foshan")
    assert offered(clerk.get("/inbox/").get_data(as_text=True)) == {"foshan"}
    assert clerk.get("/inbox/?region=foshan").status_code == 200
    assert clerk.get("/inbox/?region=huian").status_code == 400
    boss = client_for(app, "boss")
    assert offered(boss.get("/inbox/").get_data(as_text=True)) >= {"foshan", "huian"}
