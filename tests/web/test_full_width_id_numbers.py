"""An ID number typed in full-width digits (QA): the 18 digits a Chinese input method in full-width
mode types are still refused, but in words that say to use half-width digits, at every door that
checks one (the API's ``invalid_id_number``, a task form on the pages and through the API, the
domain's own check), and nothing changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import unescape
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from staff_login import client_for
from support import counter_card

from engine import queries
from engine import statements as st
from web.api.tokens import create_token
from web.app import engine_of
from workflows.identity import InvalidIdNumber, make_id_number, validate_id_number

NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)
PERSON = make_id_number("440604", date(1980, 1, 1), 21)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ZH, EN = (
    "请使用半角数字（0-9），不要使用全角数字",
    "use half-width digits (0-9), not full-width ones",
)


def full_width(number: str) -> str:
    return number.translate(FULL_WIDTH)


def instances(app: Flask) -> int:
    with engine_of(app).db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(st.instances)).scalar_one())


def api(app: Flask, path: str, scope: str, body: dict[str, Any]) -> tuple[int, Any]:
    token = create_token(engine_of(app).db, scope.replace(":", "-"), [scope])
    answer = app.test_client().post(
        f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code, answer.get_json()


def activation_task(app: Flask) -> int:
    card = counter_card(app, PERSON, events=("produce", "notify_holder"))
    return int(queries.tasks_of(engine_of(app).db, card.instance_id, "open")[0]["id"])


@pytest.mark.parametrize(
    "typed",
    [
        full_width(PERSON),
        full_width(PERSON[:9]) + PERSON[9:],  # half of it
        full_width(PERSON[:17]) + "X",
        PERSON[:17] + "Ｘ",
        f"\u3000{full_width(PERSON)}\u3000",  # with the ideographic spaces around it
        full_width(PERSON[:10]),  # too short as well
    ],
)
def test_the_domain_check_says_to_use_half_width_digits(typed: str) -> None:
    with pytest.raises(InvalidIdNumber) as refused:
        validate_id_number(typed, today=NOW.date())
    assert refused.value.check == "format"
    assert ZH in refused.value.message_zh and EN in refused.value.message_en
    assert typed.strip() not in str(refused.value)


def test_half_width_numbers_and_other_mistakes_are_answered_as_before() -> None:
    assert validate_id_number(f" {PERSON.lower()} ", today=NOW.date()) == PERSON
    with pytest.raises(InvalidIdNumber) as refused:
        validate_id_number("44060419800101002A", today=NOW.date())
    assert refused.value.message_zh == "身份证号码应为 17 位数字加 1 位数字或 X"
    assert "全角" not in refused.value.message_zh and "full-width" not in refused.value.message_en


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/registrations", {"id_number": full_width(PERSON), "name": "张三", "region": "huian"}),
        (
            "/cards",
            {
                "id_number": full_width(PERSON),
                "channel": "online",
                "bank": "icbc",
                "region_code": "440604",
            },
        ),
        ("/people/cards", {"id_number": full_width(PERSON)}),
    ],
)
def test_the_api_says_to_use_half_width_digits(app: Flask, path: str, body: dict[str, Any]) -> None:
    before = instances(app)
    status, found = api(app, path, "channel", body)
    assert (status, found["code"]) == (422, "invalid_id_number"), found
    [detail] = found["details"]
    assert detail["field"] == "id_number"
    assert ZH in detail["message_zh"] and EN in detail["message_en"]
    assert ZH in found["message_zh"] and EN in found["message_en"]
    assert full_width(PERSON) not in str(found)
    assert instances(app) == before


def test_an_activation_task_says_so_on_the_page_and_through_the_api(app: Flask) -> None:
    task = activation_task(app)
    wang = client_for(app, "wang")
    data = {"presented_id_number": full_width(PERSON), "outcome": "activate"}
    refused = wang.post(f"/inbox/{task}/complete", data=data)
    assert refused.status_code == 422
    assert ZH in unescape(refused.get_data(as_text=True))
    english = wang.post(f"/inbox/{task}/complete?lang=en", data=data)
    assert EN in unescape(english.get_data(as_text=True))

    status, found = api(
        app,
        f"/tasks/{task}/complete",
        "bank:icbc",
        {"data": {"presented_id_number": data["presented_id_number"]}},
    )
    assert status == 422, found
    assert ZH in found["message_zh"] and EN in found["message_en"], found
    assert any(ZH in d["message_zh"] for d in found["details"]), found
    assert queries.tasks_of(engine_of(app).db, instance_of(app, task), "open")


def instance_of(app: Flask, task_id: int) -> int:
    with engine_of(app).db.connect() as conn:
        return int(
            conn.execute(
                select(st.tasks.c.instance_id).where(st.tasks.c.id == task_id)
            ).scalar_one()
        )
