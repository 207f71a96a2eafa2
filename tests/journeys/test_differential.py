"""One rule path: an event has the same effects whichever door it enters by.

For every event that more than one entry point can send, the same starting state is built in a
fresh database per door (through the doors themselves), the event is sent through each door, and
the resulting states, history, tasks and timers are compared. Only who sent it (the actor, the task
that was completed, who claimed it) may differ. Refusals are compared too: every door refuses, and
nothing changes but the refusal's own record (a ``task_refused`` history row and the task's count
of refused attempts, when the event is an outcome of the instance's open task).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import statements as st
from tests.journeys.conftest import Journey
from web.cli.main import main
from web.extensions import engine_of

START = datetime.fromisoformat("2021-10-12T10:00:00+08:00")
HOLDER = "440604198003030050"
OTHER = "44060419750707006X"
SPOUSE = "440604198808080071"

Door = Callable[[Journey, dict[str, Any]], Any]


def snapshot(j: Journey) -> dict[str, Any]:
    """Everything an event may change, without who did it."""
    db = engine_of(j.app).db
    with db.connect() as conn:
        instances = [
            (r.id, r.process, r.business_key, r.state, r.version, r.variables)
            for r in conn.execute(select(st.instances).order_by(st.instances.c.id))
        ]
        history = [
            (r.instance_id, r.event, r.from_state, r.to_state, r.occurred_at, r.due_at, r.data)
            for r in conn.execute(select(st.history).order_by(st.history.c.id))
        ]
        tasks = [
            (
                r.instance_id,
                r.name,
                r.state,
                r.candidate_group,
                r.scope,
                r.status,
                r.due_at,
                r.closed_at,
                r.outcome,
                r.attempts,
            )
            for r in conn.execute(select(st.tasks).order_by(st.tasks.c.id))
        ]
        timers = [
            (r.instance_id, r.state, r.event, r.due_at, r.status, r.policy_ref)
            for r in conn.execute(select(st.timers).order_by(st.timers.c.id))
        ]
    return {"instances": instances, "history": history, "tasks": tasks, "timers": timers}


def _without_refusals(found: dict[str, Any]) -> dict[str, Any]:
    """``found`` but for the records of refusals: ``task_refused`` rows, tasks' attempts."""
    return {
        **found,
        "history": [h for h in found["history"] if h[1] != "task_refused"],
        "tasks": [(*t[:-1], 0) for t in found["tasks"]],
    }


# -- starting states, built through the doors ------------------------------------------------


def card_awaiting_activation(j: Journey) -> dict[str, Any]:
    card, task = j.card_at_activation(HOLDER, channel="channel", factory="factory", bank="bank")
    return {"card": card, "task": task}


def card_loss_reported(j: Journey) -> dict[str, Any]:
    """A card whose loss was reported by a channel (temporary): its formal report waits."""
    setup = card_awaiting_activation(j)
    j.api(
        "POST",
        f"/cards/{setup['card']}/events",
        "bank",
        {"event": "activate", "data": {"presented_id_number": HOLDER}},
        expect=200,
    )
    j.api("POST", f"/cards/{setup['card']}/events", "channel", {"event": "report_loss"}, expect=200)
    return {
        "card": setup["card"],
        "task": j.api("GET", "/tasks", "bank", expect=200)["tasks"][0]["id"],
    }


def card_lost(j: Journey) -> dict[str, Any]:
    setup = card_loss_reported(j)
    j.api(
        "POST",
        f"/cards/{setup['card']}/events",
        "bank",
        {"event": "report_loss_formally", "data": {"presented_id_number": HOLDER}},
        expect=200,
    )
    return {
        "card": setup["card"],
        "task": j.api("GET", "/tasks", "bank", expect=200)["tasks"][0]["id"],
    }


def year_pending(j: Journey) -> dict[str, Any]:
    """An insured person's unpaid year: imported while foshan-2022's period is open, the import
    opened it (as a clerk's approval of a registration would)."""
    j.cli("import", "people", j.file("p.csv", f"id_number,name,region\n{HOLDER},陈明,foshan\n"))
    [year] = j.api("POST", "/people/enrollments", "channel", {"id_number": HOLDER}, expect=200)[
        "unpaid"
    ]
    assert (year["policy"], year["state"]) == ("foshan-2022", "registered")
    return {"year": year["enrollment_id"]}


def registration_in_review(j: Journey) -> dict[str, Any]:
    j.api(
        "POST",
        "/registrations",
        "channel",
        {"id_number": HOLDER, "name": "陈明", "region": "foshan"},
        expect=201,
    )
    return {"task": j.api("GET", "/tasks", "clerk_mi", expect=200)["tasks"][0]["id"]}


def extra_cards(j: Journey) -> dict[str, Any]:
    rows = (
        "id_number,name,region,card_number,card_bank,card_state\n"
        f"{HOLDER},陈明,foshan,C-1,cmb,active\n"
        f"{HOLDER},陈明,foshan,C-2,icbc,awaiting_activation\n"
    )
    j.cli("import", "people", j.file("c.csv", rows))
    cards = j.api("POST", "/people/cards", "channel", {"id_number": HOLDER}, expect=200)["cards"]
    task = j.api("GET", "/tasks", "clerk_ss", expect=200)["tasks"][0]["id"]
    return {"keep": cards[0]["id"], "task": task}


def refund_in_review(j: Journey) -> dict[str, Any]:
    setup = year_pending(j)
    j.api(
        "POST",
        f"/enrollments/{setup['year']}/events",
        "tax",
        {"event": "deduct", "data": {"amount": "320.00"}},
        expect=200,
    )
    j.api(
        "POST",
        f"/enrollments/{setup['year']}/events",
        "channel",
        {
            "event": "request_refund",
            "data": {"employee_insurance_elsewhere": True, "benefits_used": False},
        },
        expect=200,
    )
    return {"task": j.api("GET", "/tasks", "clerk_mi", expect=200)["tasks"][0]["id"]}


# -- the doors -------------------------------------------------------------------------------


def api_event(path: str, event: str, token: str, data: dict[str, Any]) -> Door:
    def send(j: Journey, s: dict[str, Any]) -> Any:
        return j.api("POST", path.format(**s), token, {"event": event, "data": data})

    return send


def api_task(token: str, outcome: str, data: Callable[[dict[str, Any]], dict[str, Any]]) -> Door:
    def send(j: Journey, s: dict[str, Any]) -> Any:
        return j.api(
            "POST", f"/tasks/{s['task']}/complete", token, {"outcome": outcome, "data": data(s)}
        )

    return send


STAFF = {
    "teller_cmb": ("bank_teller", "cmb"),
    "mi_foshan": ("medical_insurance_clerk", "foshan"),
    "ss_foshan": ("social_security_clerk", "foshan"),
}


def inbox(user: str, outcome: str, form: Callable[[dict[str, Any]], dict[str, str]]) -> Door:
    def send(j: Journey, s: dict[str, Any]) -> Any:
        staff = j.staff(user, *STAFF[user])
        return staff.complete(s["task"], outcome, **form(s))

    return send


def deduction_file(result: str, amount: str, reason: str = "") -> Door:
    def send(j: Journey, s: dict[str, Any]) -> Any:
        path = j.file(
            "d.csv",
            "id_number,policy_year,amount,result,reason\n"
            f"{HOLDER},2022,{amount},{result},{reason}\n",
        )
        return j.runner.invoke(main, ["import", "deductions", path, "--policy", "foshan-2022"])

    return send


ID = {"presented_id_number": HOLDER}
WRONG_ID = {"presented_id_number": OTHER}

SCENARIOS: dict[str, tuple[Callable[[Journey], dict[str, Any]], list[Door]]] = {
    "activate": (
        card_awaiting_activation,
        [
            api_event("/cards/{card}/events", "activate", "bank", ID),
            api_task("bank", "activate", lambda s: ID),
            inbox("teller_cmb", "activate", lambda s: ID),
        ],
    ),
    "activate with another ID (refused)": (
        card_awaiting_activation,
        [
            api_event("/cards/{card}/events", "activate", "bank", WRONG_ID),
            api_task("bank", "activate", lambda s: WRONG_ID),
            inbox("teller_cmb", "activate", lambda s: WRONG_ID),
        ],
    ),
    "report_loss_formally": (
        card_loss_reported,
        [
            api_event("/cards/{card}/events", "report_loss_formally", "bank", ID),
            api_task("bank", "report_loss_formally", lambda s: ID),
            inbox("teller_cmb", "report_loss_formally", lambda s: ID),
        ],
    ),
    "report_loss_formally with another ID (refused)": (
        card_loss_reported,
        [
            api_event("/cards/{card}/events", "report_loss_formally", "bank", WRONG_ID),
            api_task("bank", "report_loss_formally", lambda s: WRONG_ID),
            inbox("teller_cmb", "report_loss_formally", lambda s: WRONG_ID),
        ],
    ),
    "close_bank_account": (
        card_lost,
        [
            api_event("/cards/{card}/events", "close_bank_account", "bank", {}),
            api_task("bank", "close_bank_account", lambda s: {}),
            inbox("teller_cmb", "close_bank_account", lambda s: {}),
        ],
    ),
    "deduct": (
        year_pending,
        [
            api_event("/enrollments/{year}/events", "deduct", "tax", {"amount": "320.00"}),
            deduction_file("success", "320"),
        ],
    ),
    "deduct, wrong amount (refused)": (
        year_pending,
        [
            api_event("/enrollments/{year}/events", "deduct", "tax", {"amount": "300.00"}),
            deduction_file("success", "300.00"),
        ],
    ),
    "fail_deduction": (
        year_pending,
        [
            api_event(
                "/enrollments/{year}/events",
                "fail_deduction",
                "tax",
                {"amount": "320.00", "reason": "余额不足"},
            ),
            deduction_file("失败", "320.00", "余额不足"),
        ],
    ),
    "approve_registration": (
        registration_in_review,
        [
            api_task(
                "clerk_mi",
                "approve_registration",
                lambda s: {"document_kind": "household_register"},
            ),
            inbox(
                "mi_foshan",
                "approve_registration",
                lambda s: {"document_kind": "household_register", "note": ""},
            ),
        ],
    ),
    "reject_registration": (
        registration_in_review,
        [
            # a rejection needs only its reason (the document kind is approval's)
            api_task("clerk_mi", "reject_registration", lambda s: {"reason": "证件过期"}),
            inbox("mi_foshan", "reject_registration", lambda s: {"reason": "证件过期"}),
        ],
    ),
    "resolve extra cards": (
        extra_cards,
        [
            api_task("clerk_ss", "resolve", lambda s: {"keep_card_id": s["keep"]}),
            inbox("ss_foshan", "resolve", lambda s: {"keep_card_id": str(s["keep"])}),
        ],
    ),
    "approve_refund": (
        refund_in_review,
        [
            api_task("clerk_mi", "approve_refund", lambda s: {}),
            inbox("mi_foshan", "approve_refund", lambda s: {"note": ""}),
        ],
    ),
}


def _journey(template: Path, folder: Path) -> Journey:
    folder.mkdir()
    shutil.copy(template, folder / "shebao.db")
    j = Journey(f"sqlite:///{folder / 'shebao.db'}", START, folder)
    for name, scopes in {
        "channel": ["channel"],
        "factory": ["factory"],
        "bank": ["bank:cmb"],
        "tax": ["tax"],
        "clerk_mi": ["clerk:foshan"],
        "clerk_ss": ["clerk:foshan"],
    }.items():
        j.token(name, *scopes)
    return j


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_door_has_the_same_effect(
    scenario: str, sqlite_template: Path, tmp_path: Path
) -> None:
    setup, doors = SCENARIOS[scenario]
    before, after = [], []
    for i, door in enumerate(doors):
        j = _journey(sqlite_template, tmp_path / f"door{i}")
        facts = setup(j)
        before.append(snapshot(j))
        door(j, facts)
        after.append(snapshot(j))
        engine_of(j.app).db.dispose()
    assert all(b == before[0] for b in before), "the doors started from different states"
    if "refused" in scenario:
        assert all(_without_refusals(a) == before[0] for a in after), "a refusal changed something"
    else:
        assert after[0] != before[0], "nothing moved"
    for i, result in enumerate(after[1:], start=1):
        assert result == after[0], f"door {i} differs from door 0"
