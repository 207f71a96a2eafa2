"""The person page's insurance years tell what the API's year list (缴费情况查询) tells: what is
due, what was paid, what was refunded and when, for a refunded year and for one closed when the
person left the scheme (nothing due for either), set up through the API as the counter, the tax
app and the clerks' systems do."""

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
from web.i18n import local_time

NOW = datetime(2022, 1, 10, 2, tzinfo=UTC)  # 10:00 in Foshan: its 2022 period is open
REFUNDED = "440604199001010018"
LEAVER = "440604198505050027"


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(SimulatedClock(NOW), staff=[("mi_foshan", "medical_insurance_clerk", "foshan")])


class Doors:
    """The JSON API with the counter's and the Foshan clerks' tokens, and the clerk's pages."""

    def __init__(self, app: Flask) -> None:
        db = engine_of(app).db
        self.tokens = {
            "counter": create_token(db, "counter", ["channel"]),
            "clerks": create_token(db, "clerks", ["clerk:foshan"]),
        }
        self.client = app.test_client()
        self.clerk = client_for(app, "mi_foshan")

    def api(self, method: str, path: str, who: str, body: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        answer = self.client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert answer.status_code == expect, (path, answer.status_code, answer.get_json())
        return answer.get_json()

    def decide(self, outcome: str, **data: Any) -> None:
        """The clerks' system completes the one open task of the region with ``outcome``."""
        [task] = self.api("GET", "/tasks", "clerks")["tasks"]
        body = {"outcome": outcome, "data": data}
        self.api("POST", f"/tasks/{task['id']}/complete", "clerks", body)

    def insured(self, number: str) -> tuple[int, int]:
        """Registered at the counter and approved: the record's id and its 2022 year's id."""
        body = {"id_number": number, "name": "张三", "region": "foshan"}
        person = int(self.api("POST", "/registrations", "counter", body, 201)["person"]["id"])
        self.decide("approve_registration", document_kind="household_register")
        [year] = self.years(number)["unpaid"]
        return person, int(year["enrollment_id"])

    def years(self, number: str) -> dict[str, Any]:
        return dict(self.api("POST", "/people/enrollments", "counter", {"id_number": number}))

    def year_row(self, person: int, year: int, lang: str = "zh") -> dict[str, str]:
        """The year's row on the person page, cell text by column heading."""
        page = self.clerk.get(f"/people/{person}?lang={lang}")
        assert page.status_code == 200
        table = lxml_html.fromstring(page.get_data(as_text=True)).get_element_by_id(
            "person-year-list"
        )
        headings = [th.text_content().strip() for th in table.iter("th")]
        [row] = table.xpath(f'.//tr[@data-instance-id="{year}"]')
        cells = [" ".join(td.text_content().split()) for td in row.iter("td")]
        return dict(zip(headings, cells, strict=True))


def test_a_refunded_year_shows_its_payment_and_refund_and_nothing_due(app: Flask) -> None:
    doors = Doors(app)
    person, year = doors.insured(REFUNDED)
    doors.api("POST", "/payments", "counter", {"id_number": REFUNDED, "amount": "320.00"})
    request = {"employee_insurance_elsewhere": True, "benefits_used": False}
    refund = {"event": "request_refund", "data": request}
    doors.api("POST", f"/enrollments/{year}/events", "counter", refund)
    doors.decide("approve_refund")

    [told] = doors.years(REFUNDED)["refunded"]
    assert (told["amount_due"], told["amount_paid"], told["refund_amount"]) == (
        None,
        "320.00",
        "320.00",
    )
    shown = doors.year_row(person, year)
    assert shown["应缴金额"] == "无需缴费"  # not the 320.00 yuan the year once owed
    assert shown["已缴金额"] == "320.00 元" and shown["已退金额"] == "320.00 元"
    assert shown["缴费时间"] == local_time(datetime.fromisoformat(told["paid_at"]))
    assert shown["退费时间"] == local_time(datetime.fromisoformat(told["refunded_at"]))
    english = doors.year_row(person, year, "en")
    assert (english["Amount due"], english["Amount paid"], english["Refunded"]) == (
        "Nothing due",
        "320.00 yuan",
        "320.00 yuan",
    )


def test_a_year_closed_on_leaving_shows_nothing_due(app: Flask) -> None:
    doors = Doors(app)
    person, year = doors.insured(LEAVER)
    assert doors.year_row(person, year)["应缴金额"] == "320.00 元"  # due while insured
    leave = {"event": "leave_scheme", "data": {"reason": "迁出"}}
    doors.api("POST", f"/registrations/{person}/events", "counter", leave)

    [told] = doors.years(LEAVER)["closed"]
    assert (told["enrollment_id"], told["amount_due"], told["amount_paid"]) == (year, None, None)
    shown = doors.year_row(person, year)
    assert shown["应缴金额"] == "无需缴费"  # not the 320.00 yuan it owed before
    assert (shown["已缴金额"], shown["已退金额"]) == ("-", "-")
