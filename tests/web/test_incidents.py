"""Incidents as an operator meets them: a timer step that cannot succeed becomes an incident that
the supervisor page, the diagram, ``shebao incidents`` and the admin API all show, and that each
of them can retry or resolve (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import insert, select
from staff_login import client_for
from support import MakeApp, counter_card

from engine import queries
from engine.clock import SimulatedClock
from engine.models import Timer
from engine.scheduler import run_once
from web.api.tokens import create_token
from web.app import engine_of
from web.cli.main import main
from workflows.identity import make_id_number

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
TIMERS = Timer.__table__


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app(
        SimulatedClock(NOW),
        staff=[("boss", "supervisor", None), ("mi", "medical_insurance_clerk", "foshan")],
    )


def broken_timer(
    app: Flask, person: str | None = None, events: tuple[str, ...] = ()
) -> tuple[int, int]:
    """A card (brought through ``events``) whose pending timer, of the state the card is in,
    names an event that state does not have (as after a careless definition change): no
    attempt can succeed, so the sweep opens an incident at once."""
    engine = engine_of(app)
    person = person or make_id_number("440604", datetime(1980, 1, 2).date(), 11)
    card = counter_card(app, person, events=events).instance_id
    state = queries.instance(engine.db, card)["state"]  # type: ignore[index]
    with engine.db.begin() as conn:
        timer_id = conn.execute(
            insert(TIMERS)
            .values(
                instance_id=card,
                process="card",
                state=state,
                event="renamed_event",
                due_at=NOW - timedelta(days=1),
                status="pending",
                created_at=NOW - timedelta(days=2),
            )
            .returning(TIMERS.c.id)
        ).scalar_one()
    assert run_once(engine).failed == 1
    return card, timer_id


def timer_status(app: Flask, timer_id: int) -> str:
    with engine_of(app).db.connect() as conn:
        return str(conn.execute(select(TIMERS.c.status).where(TIMERS.c.id == timer_id)).scalar())


def test_the_supervisor_sees_the_incident_on_its_page_diagram_and_instance(app: Flask) -> None:
    iid, timer_id = broken_timer(app)
    boss = client_for(app, "boss")
    page = boss.get("/processes/incidents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-incident="' in html and "renamed_event" in html
    assert "does not leave card" in html
    process = boss.get("/processes/card").get_data(as_text=True)
    assert "⚠ 1" in process  # the counts table
    assert "⚠1" in boss.get("/processes/card/diagram.svg").get_data(as_text=True)
    instance = boss.get(f"/processes/instances/{iid}").get_data(as_text=True)
    assert 'id="instance-incidents"' in instance
    # Only supervisors.
    assert client_for(app, "mi").get("/processes/incidents").status_code == 403


def test_the_supervisor_retries_then_resolves_from_the_page(app: Flask) -> None:
    _, timer_id = broken_timer(app)
    boss = client_for(app, "boss")
    (incident,) = boss_incidents(app)
    answer = boss.post(f"/processes/incidents/{incident}/retry")
    assert answer.status_code == 303
    assert timer_status(app, timer_id) == "pending"
    assert run_once(engine_of(app)).failed == 1  # still broken: a new incident
    again = boss.post(f"/processes/incidents/{incident}/retry", follow_redirects=True)
    assert "已处理" in again.get_data(as_text=True)  # the first one is closed
    (second,) = boss_incidents(app)
    assert boss.post(f"/processes/incidents/{second}/resolve").status_code == 303
    assert boss_incidents(app) == []
    assert timer_status(app, timer_id) == "failed"
    assert boss.post("/processes/incidents/999999/retry").status_code == 404
    closed = boss.get("/processes/incidents?status=closed").get_data(as_text=True)
    assert "staff:" not in closed and " · boss · " in closed  # who closed it, by user name


def boss_incidents(app: Flask) -> list[int]:
    from engine.incidents import list_incidents

    return [row.id for row in list_incidents(engine_of(app))]


def test_the_admin_api_lists_retries_and_resolves(app: Flask) -> None:
    _, timer_id = broken_timer(app)
    db = engine_of(app).db
    admin = {"Authorization": f"Bearer {create_token(db, 'ops', ['admin'])}"}
    clerk = {"Authorization": f"Bearer {create_token(db, 'clerks', ['clerk:foshan'])}"}
    client = app.test_client()
    assert client.get("/api/v1/admin/incidents", headers=clerk).status_code == 403
    assert client.get("/api/v1/admin/incidents").status_code == 401
    listed = client.get("/api/v1/admin/incidents", headers=admin)
    assert listed.status_code == 200
    (incident,) = listed.json["incidents"]
    assert (incident["kind"], incident["ref_id"], incident["status"]) == ("timer", timer_id, "open")
    assert incident["step"] == "renamed_event" and incident["attempts"] == 1
    bad = client.get("/api/v1/admin/incidents?status=maybe", headers=admin)
    assert bad.status_code == 422
    retried = client.post(f"/api/v1/admin/incidents/{incident['id']}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json["resolution"] == "retry"
    assert retried.json["resolved_by"] == "api:ops"
    again = client.post(f"/api/v1/admin/incidents/{incident['id']}/retry", headers=admin)
    assert again.status_code == 409 and again.json["code"] == "incident_not_open"
    missing = client.post("/api/v1/admin/incidents/424242/resolve", headers=admin)
    assert missing.status_code == 404
    assert timer_status(app, timer_id) == "pending"
    closed = client.get("/api/v1/admin/incidents?status=closed", headers=admin).json
    assert [i["id"] for i in closed["incidents"]] == [incident["id"]]


def test_shebao_incidents_lists_retries_and_resolves(app: Flask) -> None:
    _, timer_id = broken_timer(app)
    runner = app.test_cli_runner()
    listed = runner.invoke(main, args=["incidents", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    import json

    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["ref_id"], row["step"]) == (timer_id, "renamed_event")
    retried = runner.invoke(main, args=["incidents", "retry", str(row["id"]), "--actor", "ops"])
    assert retried.exit_code == 0 and "put back" in retried.output
    assert timer_status(app, timer_id) == "pending"
    refused = runner.invoke(main, args=["incidents", "resolve", str(row["id"])])
    assert refused.exit_code != 0 and "no longer open" in refused.output
    run_once(engine_of(app))
    (second,) = boss_incidents(app)
    assert runner.invoke(main, args=["incidents", "resolve", str(second)]).exit_code == 0
    everything = runner.invoke(main, args=["incidents", "list", "--status", "all"])
    assert "2 incident(s)" in everything.output and "[retry by ops]" in everything.output
    statuses = [line.split("\t")[1] for line in everything.output.splitlines() if "\t" in line]
    assert sorted(statuses) == ["closed", "closed"]  # each line says whether it is open


def test_shebao_schedulers_shows_the_heartbeats(app: Flask) -> None:
    from engine.heartbeat import Heartbeat

    Heartbeat(engine_of(app).db, "host-a:1:abc").beat({"interval_s": 30})
    shown = app.test_cli_runner().invoke(main, args=["schedulers"])
    assert shown.exit_code == 0 and "host-a:1:abc" in shown.output and "last beat" in shown.output


def test_history_is_untouched_by_a_failed_step(app: Flask) -> None:
    iid, _ = broken_timer(app)
    assert [h["event"] for h in queries.history(engine_of(app).db, iid)] == ["start"]


def awaiting_card_with_incident(app: Flask) -> tuple[int, int]:
    """A card at its bank, awaiting activation, with a timer of that state that can never fire
    (its event renamed): the sweep opens its incident."""
    person = make_id_number("440604", datetime(1981, 2, 3).date(), 12)
    return broken_timer(app, person, events=("produce", "notify_holder"))


@pytest.mark.parametrize("door", ["api_event", "supervisor_cancel", "sweep"])
def test_an_incident_of_a_timer_closes_when_the_instance_leaves_its_state(
    app: Flask, door: str
) -> None:
    from engine.incidents import list_incidents

    engine = engine_of(app)
    card, timer_id = awaiting_card_with_incident(app)
    boss = client_for(app, "boss")
    assert "⚠ 1" in boss.get("/processes/card").get_data(as_text=True)
    if door == "api_event":  # the holder cancels the card through a channel
        token = create_token(engine.db, "app", ["channel"])
        answer = app.test_client().post(
            f"/api/v1/cards/{card}/events",
            json={"event": "cancel", "data": {"reason": "不再需要"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.json
    elif door == "supervisor_cancel":
        version = queries.instance(engine.db, card)["version"]  # type: ignore[index]
        form = {"version": str(version), "reason": "重复申请"}
        assert boss.post(f"/processes/instances/{card}/cancel", data=form).status_code == 303
    else:  # a year later the card is sealed by its own timer (set-based, in the sweep)
        run_once(engine, NOW + timedelta(days=800))
    left = queries.history(engine.db, card)[-1]
    assert left["from_state"] == "awaiting_activation" != left["to_state"]
    [incident] = list_incidents(engine, status=None, instance_id=card)
    assert (incident.ref_id, incident.status, incident.resolution) == (
        timer_id,
        "closed",
        "state_left",
    )
    assert incident.resolved_by == left["actor"]
    assert timer_status(app, timer_id) == "cancelled"
    assert "⚠ 1" not in boss.get("/processes/card").get_data(as_text=True)
    page = boss.get("/processes/incidents?status=closed").get_data(as_text=True)
    assert "已自动关闭：实例已离开该状态" in page
