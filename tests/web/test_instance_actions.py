"""The supervisor's cancel and move pages (web.pages.instance_actions) on a real card process.

Confirmation page first, then a POST with the CSRF token, the instance version and a reason;
only supervisors; bad forms are refused with nothing changed; what was done is in the history
(shown with its reason in both languages) and in the security event log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from staff_login import logged_in, token_of
from support import MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from engine.interventions import CANCELLED
from web import security_log
from web.app import engine_of
from workflows.identity import make_id_number, mask_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(
        SimulatedClock(NOW),
        staff=[("boss", "supervisor", None), ("mi", "medical_insurance_clerk", "foshan")],
    )
    for n in range(3):  # cards 1-3: produced, version 2
        counter_card(
            app, make_id_number("440604", datetime(1980, 1, 1 + n).date(), 11), events=("produce",)
        )
    return app


def snapshot(app: Flask, instance_id: int) -> tuple[Any, ...]:
    db = engine_of(app).db
    return (
        queries.instance(db, instance_id),
        queries.history(db, instance_id),
        queries.tasks_of(db, instance_id),
        queries.timers_of(db, instance_id),
    )


def without_ids(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("id", "instance_id")} for r in found]


def interventions_logged(app: Flask) -> list[dict[str, Any]]:
    found = security_log.recent(engine_of(app).db, kind="supervisor_intervention")
    return [dict(event) for event in found]


def test_a_supervisor_moves_a_card_as_the_banks_notice_would_and_the_page_says_why(
    app: Flask,
) -> None:
    engine = engine_of(app)
    engine.fire(2, "notify_holder")  # card 2 the normal way, card 1 by the supervisor
    boss = logged_in(app, "boss")
    instance_page = boss.get("/processes/instances/1").get_data(as_text=True)
    assert (
        'id="instance-actions"' in instance_page and 'value="awaiting_activation"' in instance_page
    )
    page = boss.get("/processes/instances/1/move?to=awaiting_activation").get_data(as_text=True)
    assert "将从“已制卡”移动到“待激活”" in page
    assert "核验身份并激活" in page and "提醒领卡激活" in page  # the task and timer it opens
    form = {
        "csrf_token": token_of(page),
        "version": "2",
        "to": "awaiting_activation",
        "reason": "银行通知漏发，人工补推",
    }
    answer = boss.post("/processes/instances/1/move", data=form)
    assert answer.status_code == 303 and answer.location == "/processes/instances/1"
    before = snapshot(app, 1)
    again = boss.post("/processes/instances/1/move", data=form)  # sent twice: stale, not 400
    assert again.status_code == 409 and "在您查看后已变更" in again.get_data(as_text=True)
    assert snapshot(app, 1) == before
    assert queries.instance(engine.db, 1)["state"] == "awaiting_activation"  # type: ignore[index]
    assert without_ids(queries.tasks_of(engine.db, 1)) == without_ids(
        queries.tasks_of(engine.db, 2)
    )
    assert without_ids(queries.timers_of(engine.db, 1)) == without_ids(
        queries.timers_of(engine.db, 2)
    )
    last = queries.history(engine.db, 1)[-1]
    assert (last["event"], last["from_state"], last["to_state"], last["actor"]) == (
        "supervisor_move",
        "produced",
        "awaiting_activation",
        "staff:boss",
    )
    assert last["data"] == {"reason": "银行通知漏发，人工补推"}
    [event] = interventions_logged(app)
    assert event["actor"] == "boss"
    assert event["detail"] == {
        "action": "move",
        "instance_id": 1,
        "process": "card",
        "from_state": "produced",
        "to_state": "awaiting_activation",
        "reason": "银行通知漏发，人工补推",  # why, in the row; never in the log line
    }
    zh = boss.get("/processes/instances/1").get_data(as_text=True)
    audit = zh[zh.index('id="instance-interventions"') :]
    assert "主管移动流程" in audit and "银行通知漏发，人工补推" in audit and "已制卡" in audit
    # the supervisor is named as other actors are, in the audit and in the history: no prefix
    assert "staff:" not in zh and '<td translate="no">boss</td>' in audit
    assert "<td>boss</td>" in zh[zh.index('class="grid history"') :]
    en = boss.get("/processes/instances/1?lang=en").get_data(as_text=True)
    audit = en[en.index('id="instance-interventions"') :]
    assert "Moved by a supervisor" in audit and "银行通知漏发，人工补推" in audit
    assert "Awaiting activation" in audit


def test_cancel_ends_the_card_and_the_same_form_sent_again_changes_nothing(app: Flask) -> None:
    engine = engine_of(app)
    engine.fire(1, "notify_holder")  # a task and two timers open
    boss = logged_in(app, "boss")
    page = boss.get("/processes/instances/1/cancel").get_data(as_text=True)
    assert "终止不可撤销" in page and "核验身份并激活" in page
    form = {"csrf_token": token_of(page), "version": "3", "reason": "重复申领，当事人已书面撤回"}
    assert boss.post("/processes/instances/1/cancel", data=form).status_code == 303
    assert queries.instance(engine.db, 1)["state"] == CANCELLED  # type: ignore[index]
    assert [t["status"] for t in queries.tasks_of(engine.db, 1)] == ["cancelled"]
    assert queries.timers_of(engine.db, 1, "pending") == []
    before = snapshot(app, 1)
    again = boss.post("/processes/instances/1/cancel", data=form)
    assert again.status_code == 409
    assert "已结束" in again.get_data(as_text=True)
    assert snapshot(app, 1) == before
    assert len(interventions_logged(app)) == 1
    shown = boss.get("/processes/instances/1").get_data(as_text=True)
    assert (
        "已由主管终止" in shown and "主管终止流程" in shown and 'id="instance-actions"' not in shown
    )
    shown = boss.get("/processes/instances/1?lang=en").get_data(as_text=True)
    assert "Cancelled by a supervisor" in shown and "重复申领，当事人已书面撤回" in shown
    # the record and person pages and the API name the reserved state in words too
    record = boss.get("/records/1?lang=zh").get_data(as_text=True)
    assert "已由主管终止" in record and CANCELLED not in record
    from web.api.tokens import create_token

    token = create_token(engine.db, "icbc", ["bank:icbc"])
    card = app.test_client().get("/api/v1/cards/1", headers={"Authorization": f"Bearer {token}"})
    assert card.status_code == 200
    assert card.json["state"] == CANCELLED and card.json["state_label"]["zh"] == "已由主管终止"
    event = app.test_client().post(
        "/api/v1/cards/1/events",
        json={"event": "report_loss"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert event.status_code == 409 and snapshot(app, 1) == before


def test_a_form_seen_before_someone_else_moved_the_card_is_refused_with_409(app: Flask) -> None:
    boss = logged_in(app, "boss")
    page = boss.get("/processes/instances/1/cancel").get_data(as_text=True)
    engine_of(app).fire(1, "notify_holder")  # the bank, meanwhile
    before = snapshot(app, 1)
    answer = boss.post(
        "/processes/instances/1/cancel",
        data={"csrf_token": token_of(page), "version": "2", "reason": "x"},
    )
    assert answer.status_code == 409
    assert "在您查看后已变更" in answer.get_data(as_text=True)
    assert snapshot(app, 1) == before and interventions_logged(app) == []


@pytest.mark.parametrize("reason", ["", "   ", "长" * 501])
def test_no_reason_is_refused_with_400_and_changes_nothing(app: Flask, reason: str) -> None:
    boss = logged_in(app, "boss")
    before = snapshot(app, 1)
    page = boss.get("/processes/instances/1/move?to=active").get_data(as_text=True)
    form = {"csrf_token": token_of(page), "version": "2", "to": "active", "reason": reason}
    answer = boss.post("/processes/instances/1/move", data=form)
    assert answer.status_code == 400
    assert "请填写原因" in answer.get_data(as_text=True)
    assert snapshot(app, 1) == before and interventions_logged(app) == []


def test_a_missing_csrf_token_is_refused_with_400(app: Flask) -> None:
    boss = logged_in(app, "boss")
    before = snapshot(app, 1)
    answer = boss.post("/processes/instances/1/cancel", data={"version": "2", "reason": "x"})
    assert answer.status_code == 400
    assert snapshot(app, 1) == before and interventions_logged(app) == []


def test_a_clerk_may_neither_see_nor_do_it(app: Flask) -> None:
    clerk = logged_in(app, "mi")
    token = token_of(clerk.get("/inbox/").get_data(as_text=True))
    before = snapshot(app, 1)
    denied = len(security_log.recent(engine_of(app).db, kind="permission_denied"))
    assert clerk.get("/processes/instances/1/cancel").status_code == 403
    assert clerk.get("/processes/instances/1/move?to=active").status_code == 403
    for action, extra in (("cancel", {}), ("move", {"to": "active"})):
        form = {"csrf_token": token, "version": "2", "reason": "x", **extra}
        assert clerk.post(f"/processes/instances/1/{action}", data=form).status_code == 403
    assert snapshot(app, 1) == before and interventions_logged(app) == []
    assert len(security_log.recent(engine_of(app).db, kind="permission_denied")) == denied + 4


def test_a_move_to_the_current_or_an_unknown_state_is_refused(app: Flask) -> None:
    boss = logged_in(app, "boss")
    assert boss.get("/processes/instances/1/move?to=produced").status_code == 409
    assert boss.get("/processes/instances/1/move?to=nowhere").status_code == 400
    assert boss.get("/processes/instances/99/cancel").status_code == 404
    token = token_of(boss.get("/processes/instances/1/cancel").get_data(as_text=True))
    before = snapshot(app, 1)
    for target, status in (("produced", 409), ("nowhere", 400), (CANCELLED, 400)):
        form = {"csrf_token": token, "version": "2", "to": target, "reason": "x"}
        assert boss.post("/processes/instances/1/move", data=form).status_code == status
    form = {"csrf_token": token, "to": "active", "reason": "x"}  # no version
    assert boss.post("/processes/instances/1/move", data=form).status_code == 400
    assert snapshot(app, 1) == before


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("zh", "流程实例 1 已处于“待激活”，无需移动"),
        ("en", "Instance 1 is already in “Awaiting activation”: there is nothing to move"),
    ],
)
def test_back_to_a_move_already_done_says_so_in_the_users_language(
    app: Flask, lang: str, says: str
) -> None:
    boss = logged_in(app, "boss")
    page = boss.get("/processes/instances/1/move?to=awaiting_activation").get_data(as_text=True)
    form = {"csrf_token": token_of(page), "version": "2", "to": "awaiting_activation"}
    done = boss.post("/processes/instances/1/move", data={**form, "reason": "漏发通知"})
    assert done.status_code == 303
    before = snapshot(app, 1)
    boss.get(f"/processes/instances/1?lang={lang}")  # the language is kept from here on
    back = boss.get("/processes/instances/1/move?to=awaiting_activation")  # the browser's Back
    again = boss.post("/processes/instances/1/move", data={**form, "version": "3", "reason": "x"})
    for answer in (back, again):
        text = answer.get_data(as_text=True)
        assert answer.status_code == 409 and says in text, text[-2000:]
        assert 'id="action-error"' in text and 'href="/processes/instances/1"' in text
        assert 'id="action-form"' not in text  # nothing to confirm
    assert snapshot(app, 1) == before and len(interventions_logged(app)) == 1


def test_an_id_number_in_the_reason_is_kept_masked(app: Flask) -> None:
    boss = logged_in(app, "boss")
    id_number = make_id_number("440604", datetime(1990, 5, 17).date(), 21)
    page = boss.get("/processes/instances/1/cancel").get_data(as_text=True)
    form = {"csrf_token": token_of(page), "version": "2", "reason": f"与 {id_number} 重复"}
    assert boss.post("/processes/instances/1/cancel", data=form).status_code == 303
    reason = queries.history(engine_of(app).db, 1)[-1]["data"]["reason"]
    assert reason == f"与 {mask_id_number(id_number)} 重复" and id_number not in reason
