"""The person page names a year's payment channel in words from the domain's one table of
channels (``workflows.payment_words.CHANNELS``): a year the medical assistance fund paid in full
(a 低保 holder in Hui'an, huian.txt:55) reads 医疗救助资金 / Medical assistance fund in its channel
column, not the code the payment keeps, and a year paid by WeChat reads 微信 / WeChat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from lxml import html as lxml_html
from staff_login import client_for
from support import MakeApp

from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # 10:00 in Hui'an: its 2023 period is open
DIBAO = "350521197003030127"
PAYS = "350521199006060451"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=[("mi_huian", "medical_insurance_clerk", "huian")])


def _api(app: Flask, token: str, method: str, path: str, body: Any, expect: int) -> Any:
    answer = app.test_client().open(
        f"/api/v1{path}", method=method, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == expect, (path, answer.status_code, answer.get_json())
    return answer.get_json()


def _insured(app: Flask, number: str, **extra: Any) -> tuple[int, int]:
    """Registered at the counter and approved by the region's clerk: the record's id and its
    2023 year's id."""
    db = engine_of(app).db
    counter = create_token(db, "counter", ["channel"])
    clerks = create_token(db, "clerks", ["clerk:huian"])
    body = {"id_number": number, "name": "张三", "region": "huian", **extra}
    person = int(_api(app, counter, "POST", "/registrations", body, 201)["person"]["id"])
    [task] = _api(app, clerks, "GET", "/tasks", None, 200)["tasks"]
    decision = {"outcome": "approve_registration", "data": {"document_kind": "household_register"}}
    _api(app, clerks, "POST", f"/tasks/{task['id']}/complete", decision, 200)
    years = _api(app, counter, "POST", "/people/enrollments", {"id_number": number}, 200)
    [year] = [y for group in years.values() if isinstance(group, list) for y in group]
    return person, int(year["enrollment_id"])


def _channel_cell(app: Flask, person: int, year: int, lang: str) -> str:
    page = client_for(app, "mi_huian").get(f"/people/{person}?lang={lang}")
    assert page.status_code == 200
    table = lxml_html.fromstring(page.get_data(as_text=True)).get_element_by_id("person-year-list")
    headings = [th.text_content().strip() for th in table.iter("th")]
    [row] = table.xpath(f'.//tr[@data-instance-id="{year}"]')
    cells = [" ".join(td.text_content().split()) for td in row.iter("td")]
    return dict(zip(headings, cells, strict=True))["渠道" if lang == "zh" else "Channel"]


def test_a_year_the_fund_paid_names_the_fund_as_its_channel(app: Flask) -> None:
    person, year = _insured(app, DIBAO, reduction_categories=["dibao"])
    assert _channel_cell(app, person, year, "zh") == "医疗救助资金"
    assert _channel_cell(app, person, year, "en") == "Medical assistance fund"


def test_a_year_paid_by_wechat_names_wechat(app: Flask) -> None:
    person, year = _insured(app, PAYS)
    counter = create_token(engine_of(app).db, "counter-2", ["channel"])
    _api(
        app,
        counter,
        "POST",
        "/payments",
        {"id_number": PAYS, "amount": "360.00", "channel": "wechat"},
        200,
    )
    assert _channel_cell(app, person, year, "zh") == "微信"
    assert _channel_cell(app, person, year, "en") == "WeChat"
