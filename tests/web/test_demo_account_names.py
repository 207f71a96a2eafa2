"""The demo's accounts carry people's names (QA): an English page shows no Chinese role
description beside the translated group and scope, and the Chinese header does not say the role
twice.

The accounts are those ``shebao demo`` creates (``create_demo_accounts``), logged in with the
passwords and the second factor it hands out.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html as lxml_html
from staff_pages import CJK, untranslated, visible_text
from support import counter_card

from engine import queries
from engine.clock import SimulatedClock
from web.app import create_app, domain_of, engine_of
from web.demo_accounts import DemoAccount, create_demo_accounts, demo_account_plan
from web.i18n import GROUPS

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
BANKS = ("icbc", "bocom")
PERSON = "11010519491231002X"


@pytest.fixture
def demo(sqlite_url: str) -> tuple[Flask, dict[str, DemoAccount], dict[str, str]]:
    config = {"SHEBAO_DATABASE_URL": sqlite_url, "TESTING": True, "WTF_CSRF_ENABLED": False}
    app = create_app(config, clock=SimulatedClock(NOW))
    engine = engine_of(app)
    accounts = {a.username: a for a in create_demo_accounts(engine, domain_of(app), BANKS)}
    names = {plan[0]: plan[3] for plan in demo_account_plan(domain_of(app), BANKS)}
    counter_card(app, PERSON, events=("produce", "notify_holder"))  # a task at icbc
    return app, accounts, names


def _log_in(app: Flask, account: DemoAccount) -> FlaskClient:
    client = app.test_client()
    answer = client.post(
        "/login", data={"username": account.username, "password": account.password}
    )
    if account.totp_secret:
        code = pyotp.TOTP(account.totp_secret).at(engine_of(app).clock.now())
        answer = client.post("/login/code", data={"code": code})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def _header(page: str) -> str:
    [who] = lxml_html.document_fromstring(page).find_class("who")
    return " ".join(who.text_content().split())


def _role_words(app: Flask) -> set[str]:
    """The Chinese words of every group and scope (region, bank) the pages show translated."""
    regions = domain_of(app).regions
    banks = {label.zh for region in regions for label in region.banks.values()}
    return {label.zh for label in GROUPS.values()} | {r.name.zh for r in regions} | banks


def test_english_pages_show_people_s_names_and_no_chinese_role(
    demo: tuple[Flask, dict[str, DemoAccount], dict[str, str]],
) -> None:
    app, accounts, names = demo
    people = set(names.values())
    assert len(people) == len(names), "each demo account has a name of its own"
    boss = _log_in(app, accounts["supervisor"])
    [task] = queries.open_tasks_of_process(engine_of(app).db, "card")
    pages = [
        (boss, "/inbox/?lang=en"),
        (boss, "/inbox/?group=bank_teller&lang=en"),  # the bulk bar names every teller
        (boss, "/inbox/?group=social_security_clerk&lang=en"),
        (boss, f"/inbox/{task['id']}?lang=en"),  # assign to, delegate to: the bank's tellers
        (_log_in(app, accounts["teller_icbc"]), "/inbox/?lang=en"),
    ]
    for client, url in pages:
        answer = client.get(url)
        assert answer.status_code == 200, url
        text = visible_text(answer.get_data(as_text=True))
        # Chinese only as people's names: a role such as 银行柜员 or 工商银行 would be caught
        assert untranslated(text, "en", allowed=people | set(names)) == [], url
    page = boss.get("/inbox/?group=bank_teller&lang=en").get_data(as_text=True)
    assert f"{names['teller_icbc']} (teller_icbc · ICBC)" in page
    detail = boss.get(f"/inbox/{task['id']}?lang=en").get_data(as_text=True)
    assert f"{names['teller_icbc']} (teller_icbc)" in detail
    assert _header(boss.get("/inbox/?lang=en").get_data(as_text=True)) == (
        f"{names['supervisor']} · Supervisor"
    )


def test_the_chinese_header_names_the_role_once(
    demo: tuple[Flask, dict[str, DemoAccount], dict[str, str]],
) -> None:
    app, accounts, names = demo
    header = _header(_log_in(app, accounts["teller_icbc"]).get("/inbox/").get_data(as_text=True))
    assert header.count("银行柜员") == 1 and header.count("工商银行") == 1, header
    assert header == f"{names['teller_icbc']} · 银行柜员 · 工商银行"
    roles = _role_words(app)
    assert "银行柜员" in roles and "工商银行" in roles
    for username, name in names.items():
        assert CJK.fullmatch(name) and name not in roles, (username, name)
        assert not any(role in name for role in roles), (username, name)
