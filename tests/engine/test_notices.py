"""Notices as definition data: parsed and checked at load, written with the event that causes them.

A small definition written here declares notices on an event an outside caller sends, on a task's
events and on a timer's self-loop; they are written in the event's transaction by every door (a
fired event, a completed task, the timer sweep, a follow-up event) and vanish with it when it is
rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from engine import scheduler
from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.errors import DefinitionError, EventNotAllowed
from engine.models import Notice
from engine.notice_templates import MISSING, parse_template, show
from engine.registry import Registry
from engine.runtime import Engine
from engine.specs import Label, NoticeSpec
from engine.transition_context import TransitionContext

LETTER = """
process: letter
version: 1
label: {zh: 信件, en: Letter}
initial: drafted
states:
  drafted:
    label: {zh: 草稿, en: Drafted}
    timers:
      - {after: P1D, event: remind}
  review:
    label: {zh: 审核中, en: In review}
    task:
      name: check
      candidate_group: clerk
      form: [{name: note, required: false}]
      events: [approve, reject]
  approved: {label: {zh: 已批准, en: Approved}, final: true}
  rejected: {label: {zh: 已拒绝, en: Rejected}, final: true}
events:
  submit:
    label: {zh: 提交, en: Submit}
    from: drafted
    to: review
    action: chain
    fields:
      - {name: via, required: false}
      - {name: pages, type: integer, required: false}
      - {name: then, type: integer, required: false}
    notices:
      - kind: submitted
        to: {variable: person}
        text: {zh: "{name}，您的信件已经{via}提交（{city}，{pages}页）", en: "{name}: submitted via {via} ({city}, {pages} pages)"}
      - kind: copy_to_office
        to: {variable: office.code}
        channel: bank
        text: {zh: "副本 {{原文}}", en: "Copy {{verbatim}}"}
  remind:
    label: {zh: 提醒, en: Remind}
    from: drafted
    to: drafted
    notices:
      - kind: reminder
        to: {variable: person}
        text: {zh: "请提交：{variables.name}", en: "Please submit, {variables.name}"}
  approve:
    label: {zh: 批准, en: Approve}
    from: review
    to: approved
    notices:
      - kind: approved
        to: {variable: person}
        text: {zh: "已批准：{note}", en: "Approved: {note}"}
  reject: {label: {zh: 拒绝, en: Reject}, from: review, to: rejected}
"""

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PERSON = "440524188001010014"


def registry() -> Registry:
    found = Registry()
    found.add_fact("city", lambda variables, data, now: Label("佛山", "Foshan"))
    found.add_fact("name", lambda variables, data, now: variables.get("name"))

    def chain(ctx: TransitionContext) -> None:
        follow = ctx.data.get("then")
        if follow is not None:
            ctx.emit("approve", int(follow))

    found.add_action("chain", chain)
    return found


def load(text: str = LETTER, reg: Registry | None = None) -> Any:
    return parse_definition(yaml.safe_load(text), "letter.yaml", reg or registry())


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def engine(db_url: str, clock: SimulatedClock) -> Iterator[Engine]:
    reg = registry()
    eng = Engine(make_engine(db_url), [load(reg=reg)], reg, clock=clock)
    yield eng
    eng.db.dispose()


def notices(engine: Engine) -> list[Any]:
    table = Notice.__table__
    with engine.db.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


def started(engine: Engine, **variables: Any) -> int:
    values = {"person": PERSON, "name": "陈明", "office": {"code": "F-1"}, **variables}
    return engine.start("letter", variables=values).instance_id


# -- the definition -------------------------------------------------------------------------------


def test_notices_are_parsed_into_the_event_spec() -> None:
    definition = load()
    submitted, copy = definition.events["submit"].notices
    assert submitted == NoticeSpec(
        kind="submitted",
        to="person",
        text=Label(
            "{name}，您的信件已经{via}提交（{city}，{pages}页）",
            "{name}: submitted via {via} ({city}, {pages} pages)",
        ),
    )
    assert (copy.to, copy.channel) == ("office.code", "bank")
    assert definition.events["reject"].notices == ()
    assert parse_template(copy.text.zh).placeholders == ()
    assert parse_template(submitted.text.en).placeholders == ("name", "via", "city", "pages")


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (
            lambda e: e["submit"]["notices"][0]["text"].update(zh="{town}"),
            "events.submit.notices[0].text.zh",
            "unknown placeholder {town}",
        ),
        (  # a task's form field is data of the task's events only
            lambda e: e["submit"]["notices"][0]["text"].update(en="{note}"),
            "events.submit.notices[0].text.en",
            "unknown placeholder {note}",
        ),
        (
            lambda e: e["submit"]["notices"][0]["text"].update(zh="{via:>5}"),
            "events.submit.notices[0].text.zh",
            "may not carry a format",
        ),
        (
            lambda e: e["submit"]["notices"][0]["text"].update(zh="{via"),
            "events.submit.notices[0].text.zh",
            "",
        ),
        (
            lambda e: e["submit"]["notices"][0]["text"].update(zh="{variables.}"),
            "events.submit.notices[0].text.zh",
            "variables.<dotted path>",
        ),
        (
            lambda e: e["submit"]["notices"][0]["text"].update(zh="{data[0]}"),
            "events.submit.notices[0].text.zh",
            "expected a name",
        ),
        (
            lambda e: e["submit"]["notices"][0]["text"].pop("en"),
            "events.submit.notices[0].text.en",
            "non-empty Chinese and English",
        ),
        (
            lambda e: e["submit"]["notices"][0].pop("to"),
            "events.submit.notices[0].to",
            "say who is told",
        ),
        (
            lambda e: e["submit"]["notices"][0].update(to={"variable": "Person"}),
            "events.submit.notices[0].to.variable",
            "dotted variable path",
        ),
        (
            lambda e: e["submit"]["notices"][0].update(to={"role": "x"}),
            "events.submit.notices[0].to.role",
            "unknown key",
        ),
        (
            lambda e: e["submit"]["notices"][0].update(kind="Card Ready"),
            "events.submit.notices[0].kind",
            "snake_case",
        ),
        (
            lambda e: e["submit"]["notices"][0].update(urgent=True),
            "events.submit.notices[0].urgent",
            "unknown key",
        ),
        (lambda e: e["submit"].update(notices={"kind": "x"}), "events.submit.notices", "a list"),
    ],
)
def test_a_broken_notice_is_refused_naming_file_and_key(edit: Any, key: str, problem: str) -> None:
    raw = yaml.safe_load(LETTER)
    edit(raw["events"])
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw, "letter.yaml", registry())
    assert caught.value.source == "letter.yaml"
    assert caught.value.key == key, str(caught.value)
    assert problem in caught.value.problem


def test_facts_are_checked_only_against_a_registry() -> None:
    raw = yaml.safe_load(LETTER)
    raw["events"]["submit"]["action"] = []  # no registry: names are not looked up
    assert parse_definition(raw, "letter.yaml").events["submit"].notices
    with pytest.raises(DefinitionError, match=r"unknown placeholder \{city\}"):
        parse_definition(yaml.safe_load(LETTER), "letter.yaml", _without_city())


def _without_city() -> Registry:
    reg = registry()
    reg._facts.pop("city")  # noqa: SLF001 - a registry that lacks one fact
    return reg


def test_values_show_in_each_language() -> None:
    assert show(Label("工商银行", "ICBC"), "zh") == "工商银行"
    assert show(Label("工商银行", "ICBC"), "en") == "ICBC"
    assert (show(True, "zh"), show(False, "en")) == ("是", "no")
    assert show(START.date(), "en") == "2026-01-05"
    assert (show(None, "zh"), show("", "en"), show(3, "zh")) == (MISSING, MISSING, "3")


# -- written with the event, by every door --------------------------------------------------------


def test_a_fired_event_writes_its_notices_in_both_languages(engine: Engine) -> None:
    letter = started(engine)
    engine.fire(letter, "submit", actor="api:app", data={"via": "网上", "pages": 3})
    first, copy = notices(engine)
    assert (first.instance_id, first.process, first.event, first.kind) == (
        letter,
        "letter",
        "submit",
        "submitted",
    )
    assert (first.recipient, first.channel, first.status, first.attempts) == (
        PERSON,
        "sms",
        "pending",
        0,
    )
    assert first.text_zh == "陈明，您的信件已经网上提交（佛山，3页）"
    assert first.text_en == "陈明: submitted via 网上 (Foshan, 3 pages)"
    assert first.data == {
        "name": "陈明",
        "via": "网上",
        "city": {"zh": "佛山", "en": "Foshan"},
        "pages": "3",
    }
    assert first.created_at == START and first.lock_expires_at is None
    assert (copy.recipient, copy.channel, copy.text_zh, copy.text_en) == (
        "F-1",
        "bank",
        "副本 {原文}",
        "Copy {verbatim}",
    )


def test_a_missing_value_shows_as_missing_and_a_failing_fact_does_not_stop_the_event(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(variables: Any, data: Any, now: datetime) -> Any:
        raise LookupError("no city for this letter")

    engine.registry._facts["city"] = broken  # noqa: SLF001 - the domain's fact fails
    letter = started(engine, name=None, office={})
    with caplog.at_level(logging.WARNING, logger="engine.notices"):
        done = engine.fire(letter, "submit")
    assert done.to_state == "review"
    first, copy = notices(engine)
    assert first.text_zh == f"{MISSING}，您的信件已经{MISSING}提交（{MISSING}，{MISSING}页）"
    assert copy.recipient is None
    assert "fact 'city' failed" in caplog.text


def test_notices_are_rolled_back_with_their_event(engine: Engine) -> None:
    letter = started(engine)

    def fire_then_fail(tx: Any) -> None:
        engine.fire_in(tx, engine.load(tx, letter), "submit", "t", {})
        raise RuntimeError("the transaction fails after the event")

    with pytest.raises(RuntimeError):
        engine.transaction(fire_then_fail)
    assert notices(engine) == []
    with engine.rehearsal():
        engine.fire(letter, "submit")
    assert notices(engine) == []
    # a follow-up event that is not allowed rolls back the event that set it off, notices too
    other = started(engine)
    with pytest.raises(EventNotAllowed):
        engine.fire(letter, "submit", data={"then": other})
    assert notices(engine) == []
    assert engine.fire(letter, "submit").to_state == "review"
    assert [n.kind for n in notices(engine)] == ["submitted", "copy_to_office"]


def test_a_completed_task_writes_its_events_notices_with_the_form_data(engine: Engine) -> None:
    letter = started(engine)
    engine.fire(letter, "submit")
    task = _open_task(engine, letter)
    engine.claim_task(task, "clerk-1")
    engine.complete_task(task, actor="clerk-1", data={"note": "齐全"}, outcome="approve")
    assert [(n.kind, n.text_zh, n.text_en) for n in notices(engine)][-1] == (
        "approved",
        "已批准：齐全",
        "Approved: 齐全",
    )


def test_a_follow_up_event_writes_its_notices_in_the_same_transaction(engine: Engine) -> None:
    first, second = started(engine), started(engine)
    engine.fire(second, "submit")
    done = engine.fire(first, "submit", data={"then": second})
    assert [f["event"] for f in done.followups] == ["approve"]
    kinds = [(n.instance_id, n.kind) for n in notices(engine)]
    assert kinds[-3:] == [(first, "submitted"), (first, "copy_to_office"), (second, "approved")]


def test_the_timer_sweep_writes_the_notices_of_the_event_it_fires(
    engine: Engine, clock: SimulatedClock
) -> None:
    letters = [started(engine) for _ in range(3)]
    engine.fire(letters[2], "submit")  # left the state: its reminder is cancelled
    scheduler.run_once(engine, START + timedelta(hours=23))
    assert [n.kind for n in notices(engine) if n.kind == "reminder"] == []
    scheduler.run_once(engine, START + timedelta(days=1))
    reminders = [n for n in notices(engine) if n.kind == "reminder"]
    assert sorted(n.instance_id for n in reminders) == letters[:2]
    assert {(n.text_zh, n.created_at) for n in reminders} == {
        ("请提交：陈明", START + timedelta(days=1))
    }
    scheduler.run_once(engine, START + timedelta(days=2))  # a timer fires once
    assert len([n for n in notices(engine) if n.kind == "reminder"]) == 2


def _open_task(engine: Engine, instance_id: int) -> int:
    from engine import queries

    [task] = queries.tasks_of(engine.db, instance_id, "open")
    return int(task["id"])
