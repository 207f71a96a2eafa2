"""A guard's data check (``Registry.add_data_check``) runs before any guard: data the event cannot
take (a field one choice makes required) is refused as data, naming the field in its words and
the event in its own, whatever the rules would say; a guard's own refusal of the data names the
event too. On each database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from engine.clock import SimulatedClock
from engine.db import make_engine
from engine.definition import parse_definition
from engine.errors import DataInvalid, TransitionRefused
from engine.forms import FieldProblem
from engine.registry import Registry
from engine.runtime import Engine
from engine.transition_context import TransitionContext

PARCEL = """
process: parcel
version: 1
label: {zh: 包裹, en: Parcel}
initial: [packed]
states:
  packed: {label: {zh: 已打包, en: Packed}}
  sent: {label: {zh: 已寄出, en: Sent}, final: true}
events:
  send:
    label: {zh: 寄出, en: Send off}
    from: packed
    to: sent
    guard: [post_open, address_known]
    fields:
      - {name: via, label: {zh: 寄送方式, en: Sent by}, required: false}
      - {name: tracking, label: {zh: 运单号, en: Tracking number}, required: false}
"""


def post_open(ctx: TransitionContext) -> bool:
    if ctx.variables.get("closed"):
        raise TransitionRefused("邮局已关门", "the post office is closed")
    return True


def tracking_needed(ctx: TransitionContext) -> list[Any]:
    """A courier's parcel names its tracking number: the data alone says so."""
    if ctx.data.get("via") == "courier" and not ctx.data.get("tracking"):
        return [FieldProblem("tracking", "快递须填写", "required for a courier")]
    return []


def address_known(ctx: TransitionContext) -> bool:
    if ctx.data.get("via") == "nowhere":
        raise DataInvalid("parcel.send", [FieldProblem("via", "无此方式", "no such way")])
    return True


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    registry = Registry()
    registry.add_guard("post_open", post_open)
    registry.add_guard("address_known", address_known)
    registry.add_data_check("address_known", tracking_needed)
    definition = parse_definition(yaml.safe_load(PARCEL), "parcel.yaml", registry)
    clock = SimulatedClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    eng = Engine(make_engine(db_url), [definition], registry, clock=clock)
    yield eng
    eng.db.dispose()


def test_a_guards_data_check_runs_before_every_guard(engine: Engine) -> None:
    """The post office is closed (the first guard refuses whatever is sent), yet a courier's
    parcel without its tracking number is refused for its data, named in words."""
    parcel = engine.start("parcel", variables={"closed": True}).instance_id
    with pytest.raises(DataInvalid) as refused:
        engine.fire(parcel, "send", data={"via": "courier"})
    [problem] = refused.value.problems
    assert problem.field == "tracking" and problem.label.en == "Tracking number"
    assert refused.value.message_en == (
        "the data sent for “Send off” is not valid: Tracking number: required for a courier"
    )
    assert refused.value.message_zh == "“寄出”的数据有误：运单号：快递须填写"
    with pytest.raises(TransitionRefused):  # the data is whole: the rules speak
        engine.fire(parcel, "send", data={"via": "courier", "tracking": "SF1"})


def test_a_guards_refusal_of_the_data_names_the_event_in_words(engine: Engine) -> None:
    """A guard that refuses the data itself (a check needing more than the data) raises
    ``DataInvalid`` without the event's words: the machine gives them."""
    parcel = engine.start("parcel").instance_id
    with pytest.raises(DataInvalid) as refused:
        engine.fire(parcel, "send", data={"via": "nowhere"})
    assert refused.value.message_en == "the data sent for “Send off” is not valid: via: no such way"
    assert refused.value.where == "parcel.send"  # the internal name, for logs
    done = engine.fire(parcel, "send", data={"via": "post"})
    assert done.to_state == "sent"
