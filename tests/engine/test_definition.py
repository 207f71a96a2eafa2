"""Loading and validating definition files: a broken file names the file, the key and the fault."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.definition import load_definition, parse_definition
from engine.durations import parse_duration
from engine.errors import DefinitionError
from engine.registry import Registry

GOOD = """
process: demo
version: 1
label: {zh: 演示, en: Demo}
initial: draft
states:
  draft:
    label: {zh: 草稿, en: Draft}
    task: {name: review, candidate_group: clerk, scope: region, form: [note]}
    timers:
      - {after: P3D, event: expire}
  done:
    label: {zh: 完成, en: Done}
    final: true
events:
  approve: {label: {zh: 批准, en: Approve}, from: draft, to: done, guard: ok}
  expire: {label: {zh: 过期, en: Expire}, from: draft, to: done}
"""


def registry() -> Registry:
    reg = Registry()
    reg.add_guard("ok", lambda ctx: True)
    return reg


def broken(change: str, value: object) -> dict:
    data = yaml.safe_load(GOOD)
    target = data
    *path, last = change.split(".")
    for part in path:
        target = target[part]
    target[last] = value
    return data


def test_good_definition_is_parsed_into_frozen_specs() -> None:
    definition = parse_definition(yaml.safe_load(GOOD), "demo.yaml", registry())
    assert definition.initial == ("draft",)
    assert definition.outgoing("draft") == ("approve", "expire")
    assert definition.states["draft"].task.candidate_group == "clerk"
    # a task that names no events ends with any non-timer event leaving its state
    assert definition.states["draft"].task.events == ("approve",)
    assert definition.states["draft"].timers[0].after.text == "P3D"
    assert definition.final_states == ("done",)
    with pytest.raises(AttributeError):
        definition.states["draft"].label = None  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "value", "key", "words"),
    [
        ("events.approve.to", "nowhere", "events.approve.to", "unknown target state 'nowhere'"),
        ("events.approve.from", "limbo", "events.approve.from", "unknown source state 'limbo'"),
        (
            "states.draft.timers",
            [{"after": "3 days", "event": "expire"}],
            "states.draft.timers[0].after",
            "not an ISO 8601 duration",
        ),
        (
            "events.approve.guard",
            "nobody_registered",
            "events.approve.guard",
            "no guard registered as 'nobody_registered'",
        ),
        (
            "states.orphan",
            {"label": {"zh": "孤", "en": "Orphan"}, "final": True},
            "states.orphan",
            "unreachable state",
        ),
        (
            "events.reopen",
            {"label": {"zh": "重开", "en": "Reopen"}, "from": "done", "to": "draft"},
            "events.reopen.from",
            "event from final state 'done'",
        ),
        ("states.draft.label", {"zh": "草稿"}, "states.draft.label.en", "Chinese and English"),
        ("initial", "missing", "initial[0]", "unknown state 'missing'"),
        (
            "states.draft.task",
            {
                "name": "review",
                "candidate_group": "clerk",
                "form": [{"name": "kind", "type": "choice"}],
            },
            "states.draft.task.form[0].options",
            "only it, lists options",
        ),
        (
            "states.draft.task",
            {
                "name": "review",
                "candidate_group": "clerk",
                "form": [{"name": "kind", "type": "colour"}],
            },
            "states.draft.task.form[0].type",
            "expected one of",
        ),
        (
            "states.draft.timers",
            [{"after": "P1D", "event": "approve_typo"}],
            "states.draft.timers[0].event",
            "does not leave state 'draft'",
        ),
    ],
)
def test_broken_definitions_name_key_and_fault(
    change: str, value: object, key: str, words: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(broken(change, value), "demo.yaml", registry())
    assert caught.value.source == "demo.yaml"
    assert caught.value.key == key
    assert words in caught.value.problem


def test_duplicate_event_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    text = GOOD.replace(
        "  expire: {label",
        "  approve: {label: {zh: 又, en: Again}, from: draft, to: done}\n  expire: {label",
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path, registry())
    assert str(path) in str(caught.value)
    assert "duplicate key 'approve'" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "years", "months", "days", "seconds"),
    [
        ("P30D", 0, 0, 30, 0),
        ("P1Y", 1, 0, 0, 0),
        ("P1Y2M3DT4H", 1, 2, 3, 4 * 3600),
        ("PT90S", 0, 0, 0, 90),
        ("P2W", 0, 0, 14, 0),
    ],
)
def test_iso_durations(text: str, years: int, months: int, days: int, seconds: int) -> None:
    duration = parse_duration(text)
    assert (duration.years, duration.months) == (years, months)
    assert duration.delta.days * 86400 + duration.delta.seconds == days * 86400 + seconds


@pytest.mark.parametrize("text", ["", "P", "30D", "PT", "P1.5D", "P-1D"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_calendar_months_clamp_to_month_end() -> None:
    from datetime import UTC, datetime

    assert parse_duration("P1M").after(datetime(2023, 1, 31, tzinfo=UTC)).day == 28


def test_shipped_definitions_have_every_mission_state() -> None:
    root = Path(__file__).resolve().parents[2] / "definitions"
    card = load_definition(root / "card.yaml")
    enrollment = load_definition(root / "enrollment.yaml")
    assert {
        "applied",
        "produced",
        "awaiting_activation",
        "active",
        "lost",
        "cancelled",
        "bank_account_closed",
    } <= set(card.states)
    assert {
        "registered",
        "renewal_pending",
        "deducted",
        "deduction_failed",
        "paid_late",
        "lapsed",
    } <= set(enrollment.states)
    for definition in (card, enrollment):
        for spec in [*definition.states.values(), *definition.events.values()]:
            assert spec.label.zh and spec.label.en and spec.label.zh != spec.label.en


def test_migrations_match_the_models(sqlite_url: str) -> None:
    """Every schema change has its Alembic migration: autogenerate finds nothing to add."""
    from alembic import command

    from web.migrate import alembic_config

    command.check(alembic_config(sqlite_url))


NOTICE = """
process: notice
version: 1
label: {zh: 通知, en: Notice}
initial: draft
states:
  draft:
    label: {zh: 草稿, en: Draft}
    tags: [editable]
    task:
      name: check
      candidate_group: clerk
      facts:
        - {path: letter.subject, label: {zh: 主题, en: Subject}}
  sent:
    label: {zh: 已发, en: Sent}
    final: true
events:
  send:
    label: {zh: 发送, en: Send}
    from: draft
    to: sent
    senders: [post_office]
    fields:
      - {name: copies, label: {zh: 份数, en: Copies}, type: integer}
      - {name: urgent, label: {zh: 加急, en: Urgent}, type: boolean, required: false}
      - name: about
        label: {zh: 关于, en: About}
        type: reference
        references: {process: notice, tag: editable, business_key_from: topic}
"""


def test_tags_senders_fields_and_facts_are_read_from_the_file() -> None:
    notice = parse_definition(yaml.safe_load(NOTICE), "notice.yaml")
    assert notice.tagged("editable") == ("draft",) and notice.tags == {"editable"}
    assert notice.sendable() == {"send": ("post_office",)}
    task = notice.states["draft"].task
    assert task is not None and [f.name for f in task.form] == ["copies", "urgent", "about"]
    assert [f.path for f in task.facts] == ["letter.subject"]
    about = notice.events["send"].fields[2]
    assert about.references is not None and about.references.business_key_from == "topic"


@pytest.mark.parametrize(
    ("path", "value", "key", "words"),
    [
        (("events", "send", "fields", 0, "type"), "colour", "events.send.fields[0].type", "one of"),
        (
            ("events", "send", "fields", 2, "references"),
            None,
            "events.send.fields[2].references",
            "reference field",
        ),
        (("events", "send", "fields", 1, "name"), "copies", "events.send.fields", "twice"),
        (
            ("states", "draft", "task", "facts", 0, "path"),
            "a..b",
            "states.draft.task.facts[0].path",
            "dotted",
        ),
        (("states", "draft", "task", "facts"), "letter.subject", "states.draft.task.facts", "list"),
        (
            ("states", "draft", "task", "facts", 0),
            "letter.subject",
            "states.draft.task.facts[0]",
            "mapping",
        ),
        (
            ("states", "draft", "task", "facts", 0, "colour"),
            "red",
            "states.draft.task.facts[0].colour",
            "unknown key",
        ),
        (("states", "draft", "tags"), ["Bad Tag"], "states.draft.tags[0]", "snake_case"),
        (("events", "send", "senders"), ["Post Office"], "events.send.senders[0]", "snake_case"),
    ],
)
def test_broken_fields_facts_and_tags_name_key_and_fault(
    path: tuple[object, ...], value: object, key: str, words: str
) -> None:
    raw = yaml.safe_load(NOTICE)
    node = raw
    for part in path[:-1]:
        node = node[part]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw, "notice.yaml")
    assert caught.value.key == key and words in caught.value.problem


def test_a_reference_to_an_unknown_process_or_tag_is_refused_when_the_engine_loads() -> None:
    from sqlalchemy import create_engine

    from engine.registry import Registry
    from engine.runtime import Engine

    raw = yaml.safe_load(NOTICE)
    raw["events"]["send"]["fields"][2]["references"]["tag"] = "archived"
    notice = parse_definition(raw, "notice.yaml")
    with pytest.raises(DefinitionError, match="tagged 'archived'"):
        Engine(create_engine("sqlite://"), [notice], Registry())
