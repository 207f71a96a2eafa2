"""A timer's incident says what went wrong in the page's language (QA: a timer incident's error
was shown only as the raw technical text, while a notice's was put in words).

The sweep gives up on four timers, each for a common cause: its event no longer leaves the
timer's state in the instance's process version (``remind_holder`` on a card just applied for),
a guard refuses the event (a temporary loss report lapsing while another card of the person is
usable: one person one card), the instance's policy cannot be found (a card whose region's
policy is gone) and a database error. The incidents page names each cause in Chinese or English,
with the technical text kept beside it as the detail, as for a notice receiver's failure; a
guard's own reason is given in the page's language.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from failed_notices import refused_timer
from flask import Flask
from lxml import html as lxml_html
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, update
from staff_login import client_for
from staff_pages import untranslated, visible_text
from support import MakeApp, counter_card

from engine import timer_failures as tf
from engine.clock import SimulatedClock
from engine.incidents import list_incidents
from engine.models import Instance, Timer
from engine.scheduler import run_once
from engine.transition_context import TransitionContext
from web.app import engine_of
from web.extensions import domain_of
from workflows import cards
from workflows.cards import apply_for_card
from workflows.identity import make_id_number
from workflows.imports import import_people

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
TIMERS = Timer.__table__
INSTANCES = Instance.__table__
GONE = "atlantis"
"""The region of a card whose policy is no longer loaded."""


@pytest.fixture
def app(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The service, whose taking back of an uncollected card meets the faults under test: the
    card's policy looked up for a card of a region that is gone, a database error for others."""
    found: dict[str, Any] = {}

    def take_back(ctx: TransitionContext) -> None:
        if ctx.variables.get("region") == GONE:
            found["domain"].policy_of(ctx.variables)  # LookupError: unknown region
        raise sa_exc.OperationalError(
            "UPDATE wf_instance SET variables=?", {}, Exception("database is locked")
        )

    monkeypatch.setattr(cards, "take_back_uncollected_card", take_back)
    made = make_app(SimulatedClock(NOW), staff=[("boss", "supervisor", None)])
    found["domain"] = domain_of(made)
    return made


def given_up(app: Flask, card: int, state: str, event: str) -> None:
    """A timer of ``card`` firing ``event`` now, on its last attempt: its failure is an
    incident."""
    engine = engine_of(app)
    now = engine.clock.now()
    with engine.db.begin() as conn:
        conn.execute(
            insert(TIMERS).values(
                instance_id=card,
                process="card",
                state=state,
                event=event,
                due_at=now - timedelta(days=1),
                status="pending",
                attempts=9,
                created_at=now - timedelta(days=2),
            )
        )


def guard_refused(app: Flask) -> int:
    """A card reported lost for the day, while the person's other card (imported) is usable."""
    engine = engine_of(app)
    person = make_id_number("440604", date(1980, 1, 1), 31)
    card = apply_for_card(
        engine,
        domain_of(app).regions,
        id_number=person,
        channel="fast_issuance",
        bank="icbc",
        region_code="440604",
        actor="t",
    ).instance_id
    engine.fire(card, "report_loss")
    row = {"id_number": person, "name": "林", "region": "foshan", "card_number": "K-2"}
    row |= {"card_bank": "boc", "card_state": "active"}
    assert import_people(engine, domain_of(app), [(1, row)], actor="t").rejected == []
    given_up(app, card, "loss_reported", "lapse_loss_report")
    return card


def awaiting_collection(app: Flask, n: int, region: str | None = None) -> int:
    """A card waiting at its branch whose taking back is due (of a region gone, if given)."""
    engine = engine_of(app)
    person = make_id_number("440604", date(1980, 1, 1), n)
    card = counter_card(app, person, events=("produce", "notify_holder")).instance_id
    if region is not None:
        with engine.db.begin() as conn:
            where = INSTANCES.c.id == card
            variables = conn.execute(select(INSTANCES.c.variables).where(where)).scalar_one()
            conn.execute(
                update(INSTANCES).where(where).values(variables={**variables, "region": region})
            )
    given_up(app, card, "awaiting_activation", "take_back_uncollected")
    return card


def rows_of(page: str) -> dict[int, str]:
    """The incident rows of the page by instance: the visible text of each."""
    tree = lxml_html.fromstring(page)
    return {
        int(row.xpath("string(td[2])").strip()): " ".join(row.text_content().split())
        for row in tree.xpath("//tr[@data-incident]")
    }


def test_a_timers_incident_says_its_cause_in_words_with_the_technical_text_beside(
    app: Flask,
) -> None:
    engine = engine_of(app)
    renamed = refused_timer(app)
    refused = guard_refused(app)
    gone = awaiting_collection(app, 41, region=GONE)
    locked = awaiting_collection(app, 51)
    run_once(engine)
    assert len(list_incidents(engine)) == 4
    boss = client_for(app, "boss")

    zh_page = boss.get("/processes/incidents?lang=zh").get_data(as_text=True)
    zh = rows_of(zh_page)
    assert "此流程版本中该事件已不能从定时器所属的状态发出" in zh[renamed]
    assert "条件不满足，事件未执行：省内一人一卡：该居民已有可用社保卡" in zh[refused]
    assert "one person one card" not in zh[refused].split("技术信息")[0]
    assert "找不到该实例适用的参保政策" in zh[gone]
    assert "数据库出错" in zh[locked]
    for row in zh.values():  # the technical text kept beside, as for a notice's failure
        assert "技术信息" in row
    assert "does not leave card v1 applied" in zh[renamed]
    assert "TransitionRefused" in zh[refused] and "unknown region 'atlantis'" in zh[gone]
    assert "database is locked" in zh[locked]
    texts = visible_text(zh_page)
    raw = {"remind_holder", "lapse_loss_report", "take_back_uncollected"}
    assert untranslated(texts, "zh", raw_names=raw, allowed={"boss"}) == []

    en = rows_of(boss.get("/processes/incidents?lang=en").get_data(as_text=True))
    assert "no longer leaves the timer's state in this process version" in en[renamed]
    assert "A condition refused the event: one person one card per province" in en[refused]
    assert "省内一人一卡" not in en[refused].split("Technical detail")[0]
    assert "The instance's insurance policy cannot be found" in en[gone]
    assert "A database error" in en[locked]
    assert all("Technical detail" in row for row in en.values())


@pytest.mark.parametrize(
    ("error", "cause", "zh", "en"),
    [
        ("timer event lapse does not leave enrollment v3 paid", tf.NOT_LEAVING, "", ""),
        ("TransitionRefused: 条件未满足：g / condition not met: g", tf.REFUSED, "条件未满足：g", "condition not met: g"),
        ("EventNotAllowed: 当前状态“正常”不允许“激活” / “Activate” is not allowed in state “Active”", tf.NOT_ALLOWED, "当前状态“正常”不允许“激活”", "“Activate” is not allowed in state “Active”"),
        ("ConcurrentModification: 流程实例 5 已被其他操作修改，请重试 / instance 5 was changed", tf.CHANGED, "", ""),
        ("LookupError: unknown policy 'huian-2019'", tf.POLICY_MISSING, "", ""),
        ("LookupError: no policy date resolver registered (timer needs 'x')", tf.POLICY_MISSING, "", ""),
        ("PolicyError: huian-2023.yaml: card: missing", tf.POLICY_MISSING, "", ""),
        ("IntegrityError: UNIQUE constraint failed: wf_instance.business_key", tf.DATABASE, "", ""),
        ("DeadlockDetected: deadlock detected", tf.DATABASE, "", ""),
        ("TransitionRefused: a guard's words in English only", tf.REFUSED, "a guard's words in English only", "a guard's words in English only"),
    ],
)  # fmt: skip
def test_the_common_timer_failures_are_told_apart(error: str, cause: str, zh: str, en: str) -> None:
    """As the page reads them: the cause, and a refusal's reason in each language."""
    assert tf.timer_failure(error) == tf.TimerFailure(cause, zh, en)
    for other in ("KeyError: 'bank'", "LookupError: no city for this letter", "oops"):
        assert tf.timer_failure(other) is None  # the technical text alone, as before
