"""A resident ID number typed in full-width digits (a Chinese input method in full-width mode) into
free text is masked as an ASCII one is: on the staff pages, in the API's answers and in log lines.
Forms refuse such a number in an ID-number field (``workflows.identity``); free text takes it, and
the masking must find it (it matched ASCII digits only)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from staff_login import client_for
from support import TEAM, MakeApp

from engine import queries
from engine.clock import SimulatedClock
from web.api.tokens import create_token
from web.app import engine_of
from web.auth import create_user
from web.log_masking import mask_text
from workflows.identity import make_id_number, mask_id_number, mask_id_numbers_in

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = make_id_number("440604", date(1995, 7, 1), 22)
HEAD = make_id_number("440604", date(1990, 1, 1), 901)
WIDE = HEAD.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
MIXED = HEAD[:9] + WIDE[9:]  # half typed in each mode


@pytest.mark.parametrize("typed", [WIDE, MIXED])
def test_free_text_masks_a_full_width_number(typed: str) -> None:
    text = f"户主{typed}与申报不符"
    for masked in (mask_id_numbers_in(text), mask_text(text)):
        assert typed not in masked and masked.startswith("户主") and masked.endswith("与申报不符")
        assert mask_id_number(typed) in masked
        assert "********" in masked
    assert (
        mask_id_numbers_in("１２３４５６７８９０１２３４５６７８９")
        == "１２３４５６７８９０１２３４５６７８９"
    )


def test_pages_and_logs_mask_a_full_width_number_in_a_comment(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app: Flask = make_app(SimulatedClock(NOW), staff=TEAM)
    engine = engine_of(app)
    create_user(engine.db, "mi_foshan", "pw", "medical_insurance_clerk", "foshan")
    token = create_token(engine.db, "app", ["channel"])
    registered = app.test_client().post(
        "/api/v1/registrations",
        json={"id_number": PERSON, "name": "李娜", "region": "foshan", "household": f"户主{WIDE}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert registered.status_code == 201, registered.json
    assert WIDE not in registered.get_data(as_text=True)
    person = int(registered.json["person"]["id"])
    task = int(queries.tasks_of(engine.db, person, "open")[0]["id"])
    clerk = client_for(app, "mi_foshan")
    caplog.set_level(logging.INFO)
    logging.getLogger("shebao.test").info("clerk typed %s", WIDE)
    comment = clerk.post(f"/inbox/{task}/comments", data={"body": f"已核对户主 {WIDE} 的户口簿"})
    assert comment.status_code == 303
    for path in (f"/inbox/{task}",):
        page = clerk.get(path, follow_redirects=True)
        text = page.get_data(as_text=True)
        assert page.status_code == 200, path
        assert WIDE not in text, f"{path} shows the full-width number whole"
        assert mask_id_number(WIDE) in text, f"{path} does not show the masked number"
    logged = [r.getMessage() for r in caplog.records]
    assert logged and not any(WIDE in line for line in logged)
