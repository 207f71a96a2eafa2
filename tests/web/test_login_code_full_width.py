"""The second factor typed with a Chinese input method (QA): a code in full-width digits is the
code (NFKC to ASCII digits), and any other non-ASCII code is a wrong code, answered and counted
as ``abcdef`` is: never a server error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from staff_login import PASSWORD, totp_code

from web.app import engine_of
from web.login_throttle import MAX_PER_ACCOUNT
from web.security_log import recent

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
FULL_WIDTH = str.maketrans("0123456789 ", "０１２３４５６７８９\u3000")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def at_code_step(app: Flask) -> FlaskClient:
    """A client whose supervisor ``boss`` has passed the password step."""
    client = app.test_client()
    answer = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert answer.status_code == 302 and answer.location == "/login/code"
    return client


def totp_failures(app: Flask) -> int:
    return len(recent(engine_of(app).db, kind="totp_failed"))


@pytest.mark.parametrize("spaced", [False, True])
def test_a_code_in_full_width_digits_logs_in(app: Flask, spaced: bool) -> None:
    client = at_code_step(app)
    code = totp_code(app, "boss")
    typed = (code[:3] + (" " if spaced else "") + code[3:]).translate(FULL_WIDTH)
    answer = client.post("/login/code", data={"code": typed})
    assert answer.status_code == 302 and answer.location == "/processes/"
    assert client.get("/processes/").status_code == 200
    assert totp_failures(app) == 0


@pytest.mark.parametrize(
    "typed",
    [
        "arabic-indic",  # the right code in Arabic-Indic digits: ``\d`` but no ASCII digit
        "１２３４５６",  # full-width, but not the code
        "１２３ａｂｃ",
        "12345é",
    ],
)
def test_any_other_non_ascii_code_is_a_wrong_code(app: Flask, typed: str) -> None:
    client = at_code_step(app)
    if typed == "arabic-indic":
        typed = totp_code(app, "boss").translate(ARABIC_INDIC)
    answer = client.post("/login/code", data={"code": typed})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 401 and "验证码错误" in page
    assert "Internal Server Error" not in page
    assert totp_failures(app) == 1
    english = at_code_step(app)
    english.get("/login/code?lang=en")
    assert "Wrong code" in english.post("/login/code", data={"code": typed}).get_data(as_text=True)


def test_non_ascii_codes_count_towards_the_lock_as_wrong_ones_do(app: Flask) -> None:
    client = at_code_step(app)
    arabic = totp_code(app, "boss").translate(ARABIC_INDIC)
    for _ in range(MAX_PER_ACCOUNT):
        assert client.post("/login/code", data={"code": arabic}).status_code == 401
    right = totp_code(app, "boss").translate(FULL_WIDTH)
    locked = client.post("/login/code", data={"code": right})
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert totp_failures(app) == MAX_PER_ACCOUNT
