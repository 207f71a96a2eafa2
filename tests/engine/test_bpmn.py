"""BPMN 2.0 export: valid against the OMG schema, references resolve, laid out for modellers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import NS, to_bpmn
from engine.definition import ProcessDefinition, load_definitions

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
FLOW_NODES = ("startEvent", "endEvent", "userTask", "receiveTask", "task", "boundaryEvent")


@pytest.fixture(scope="module")
def processes() -> dict[str, ProcessDefinition]:
    return load_definitions(ROOT / "definitions")


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    import SpiffWorkflow  # ships a copy of the OMG BPMN 2.0 XSD files

    xsd = Path(SpiffWorkflow.__file__).parent / "bpmn" / "parser" / "schema" / "BPMN20.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def parsed(definition: ProcessDefinition, lang: str = "zh") -> etree._Element:
    return etree.fromstring(to_bpmn(definition, lang))


def find(doc: etree._Element, tag: str) -> list[etree._Element]:
    return doc.findall(f".//bpmn:{tag}", NS)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("key", ["card", "enrollment"])
def test_export_validates_against_the_omg_schema(
    processes: dict[str, ProcessDefinition], schema: etree.XMLSchema, key: str, lang: str
) -> None:
    doc = parsed(processes[key], lang)
    assert schema.validate(doc), schema.error_log


def test_the_schema_check_does_catch_a_broken_document(
    processes: dict[str, ProcessDefinition], schema: etree.XMLSchema
) -> None:
    doc = parsed(processes["card"])
    assert schema.validate(doc)
    task = find(doc, "userTask")[0]
    etree.SubElement(task, f"{{{NS['bpmn']}}}timerEventDefinition")  # not allowed in a task
    assert not schema.validate(doc)


@pytest.mark.parametrize("key", ["card", "enrollment"])
def test_every_reference_resolves(processes: dict[str, ProcessDefinition], key: str) -> None:
    doc = parsed(processes[key])
    nodes = {el.get("id") for tag in FLOW_NODES for el in find(doc, tag)}
    activities = {
        el.get("id") for tag in ("userTask", "receiveTask", "task") for el in find(doc, tag)
    }
    flows = find(doc, "sequenceFlow")
    flow_ids = {flow.get("id") for flow in flows}
    assert len(flow_ids) == len(flows), "flow ids are unique"
    for flow in flows:
        assert flow.get("sourceRef") in nodes, flow.get("id")
        assert flow.get("targetRef") in nodes, flow.get("id")
    for boundary in find(doc, "boundaryEvent"):
        assert boundary.get("attachedToRef") in activities
    for ref in find(doc, "incoming") + find(doc, "outgoing"):
        assert ref.text in flow_ids
        flow = doc.find(f".//bpmn:sequenceFlow[@id='{ref.text}']", NS)
        side = "targetRef" if ref.tag.endswith("incoming") else "sourceRef"
        assert flow.get(side) == ref.getparent().get("id")


@pytest.mark.parametrize("key", ["card", "enrollment"])
def test_every_node_and_flow_has_a_shape_or_edge(
    processes: dict[str, ProcessDefinition], key: str
) -> None:
    doc = parsed(processes[key])
    shapes = {s.get("bpmnElement"): s for s in doc.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in doc.iterfind(".//bpmndi:BPMNEdge", NS)}
    for tag in FLOW_NODES:
        for node in find(doc, tag):
            bounds = shapes[node.get("id")].find("dc:Bounds", NS)
            assert float(bounds.get("width")) > 0 and float(bounds.get("height")) > 0
            assert float(bounds.get("x")) >= 0 and float(bounds.get("y")) >= 0
    for flow in find(doc, "sequenceFlow"):
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2
    plane = doc.find(".//bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == find(doc, "process")[0].get("id")
    # a boundary timer sits on the lower border of the activity it is attached to
    for boundary in find(doc, "boundaryEvent"):
        b = shapes[boundary.get("id")].find("dc:Bounds", NS)
        a = shapes[boundary.get("attachedToRef")].find("dc:Bounds", NS)
        centre_y = float(b.get("y")) + float(b.get("height")) / 2
        assert centre_y == pytest.approx(float(a.get("y")) + float(a.get("height")), abs=0.1)
        centre_x = float(b.get("x")) + float(b.get("width")) / 2
        assert float(a.get("x")) <= centre_x <= float(a.get("x")) + float(a.get("width"))


def test_card_maps_states_events_and_timers(processes: dict[str, ProcessDefinition]) -> None:
    card = processes["card"]
    doc = parsed(card)
    user_tasks = {t.get("id"): t for t in find(doc, "userTask")}
    assert set(user_tasks) == {"state_awaiting_activation", "state_lost", "state_cancelled"}
    task = user_tasks["state_awaiting_activation"]
    assert task.get("name") == "待激活"
    assert task.get(f"{{{NS['camunda']}}}candidateGroups") == "bank_teller"
    owner = task.find("bpmn:potentialOwner//bpmn:formalExpression", NS)
    assert owner is not None and owner.text == "bank_teller"
    assert {t.get("id") for t in find(doc, "receiveTask")} == {
        "state_applied",
        "state_produced",
        "state_active",
    }
    assert [s.get("id") for s in find(doc, "startEvent")] == ["start_applied"]
    assert [e.get("id") for e in find(doc, "endEvent")] == ["end_bank_account_closed"]
    sources = sum(len(event.sources) for event in card.events.values())
    assert len(find(doc, "sequenceFlow")) == sources + len(card.initial) + len(card.final_states)
    durations = {
        b.get("id"): (b.get("cancelActivity"), b.find(".//bpmn:timeDuration", NS).text)
        for b in find(doc, "boundaryEvent")
    }
    assert durations == {
        # durations from the region's policy file; a reminder does not leave the state
        "timer_awaiting_activation_0": ("false", "${policy:card.activation_reminder_after}"),
        "timer_awaiting_activation_1": ("true", "${policy:card.uncollected_card_sealed_after}"),
    }
    sealed = doc.find(".//bpmn:sequenceFlow[@id='flow_seal_uncollected__awaiting_activation']", NS)
    assert sealed.get("sourceRef") == "timer_awaiting_activation_1"
    assert sealed.get("targetRef") == "state_cancelled"
    assert sealed.get("name") == "逾期未领封存"


def test_enrollment_policy_timers_are_time_dates(processes: dict[str, ProcessDefinition]) -> None:
    doc = parsed(processes["enrollment"], "en")
    dates = [d.text for d in find(doc, "timeDate")]
    assert dates == ["${policy:payment_period.end}"] * 3
    assert len(find(doc, "startEvent")) == 2
    assert {e.get("id") for e in find(doc, "endEvent")} == {"end_paid_late", "end_refunded"}
    assert find(doc, "process")[0].get("name") == "Resident medical insurance year"
