"""BPMN 2.0 export: valid against the OMG schema, executable, references resolve, laid out cleanly.

Every shipped process (and ``fixtures/edge_cases.yaml``) in both dialects (``default``: Python
expressions; ``camunda7``: JUEL and Camunda attributes) and both languages, with the policy timers
resolved from Hui'an 2023.
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import NS, BpmnExportError, PolicyValues, to_bpmn
from engine.bpmn_build import build_model
from engine.bpmn_expr import parse_condition, parse_timer_value
from engine.definition import ProcessDefinition, load_definition, load_definitions, parse_definition
from web.cli.diagrams import policy_values
from workflows.domain import Domain

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
KEYS = ("card", "card_review", "enrollment", "person", "edge_cases")
EDGE_CASES = Path(__file__).parent / "fixtures" / "edge_cases.yaml"
DIALECTS = ("default", "camunda7")
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "userTask",
    "receiveTask",
    "exclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
)
OUTER_LABELS = FLOW_NODES[:1] + FLOW_NODES[1:2] + FLOW_NODES[4:]
CAMUNDA = f"{{{NS['camunda']}}}"
POLICY = "huian-2023"


@pytest.fixture(scope="module")
def processes() -> dict[str, ProcessDefinition]:
    """The shipped processes, and one with the shapes they do not have (fixtures/)."""
    found = load_definitions(ROOT / "definitions")
    found["edge_cases"] = load_definition(EDGE_CASES)
    return found


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain(ROOT / "definitions" / "policies")


@pytest.fixture(scope="module")
def exports(
    processes: dict[str, ProcessDefinition], domain: Domain
) -> dict[tuple[str, str, str], bytes]:
    """(process, dialect, lang) -> the export, made once for the module."""
    return {
        (key, dialect, lang): to_bpmn(
            processes[key],
            lang,
            dialect=dialect,
            policy=policy_values(domain, POLICY, processes[key]),
        )
        for key, dialect, lang in itertools.product(KEYS, DIALECTS, ("zh", "en"))
    }


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    import SpiffWorkflow  # ships a copy of the OMG BPMN 2.0 XSD files

    xsd = Path(SpiffWorkflow.__file__).parent / "bpmn" / "parser" / "schema" / "BPMN20.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def find(doc: etree._Element, tag: str) -> list[etree._Element]:
    return doc.findall(f".//bpmn:{tag}", NS)


def doc_of(
    exports: dict[tuple[str, str, str], bytes], key: str, dialect: str = "default", lang: str = "zh"
) -> etree._Element:
    return etree.fromstring(exports[(key, dialect, lang)])


def bounds(element: etree._Element) -> tuple[float, float, float, float]:
    b = element.find("dc:Bounds", NS)
    return (float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height")))


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


every = pytest.mark.parametrize(
    "key,dialect,lang", list(itertools.product(KEYS, DIALECTS, ("zh", "en")))
)


@every
def test_export_validates_against_the_omg_schema(
    exports: dict, schema: etree.XMLSchema, key: str, dialect: str, lang: str
) -> None:
    doc = doc_of(exports, key, dialect, lang)
    assert schema.validate(doc), schema.error_log


def test_the_schema_check_does_catch_a_broken_document(
    exports: dict, schema: etree.XMLSchema
) -> None:
    doc = doc_of(exports, "card")
    assert schema.validate(doc)
    task = find(doc, "userTask")[0]
    etree.SubElement(task, f"{{{NS['bpmn']}}}timerEventDefinition")  # not allowed in a task
    assert not schema.validate(doc)


@every
def test_every_reference_resolves(exports: dict, key: str, dialect: str, lang: str) -> None:
    doc = doc_of(exports, key, dialect, lang)
    nodes = {el.get("id") for tag in FLOW_NODES for el in find(doc, tag)}
    activities = {el.get("id") for tag in ("userTask", "receiveTask") for el in find(doc, tag)}
    messages = {m.get("id") for m in find(doc, "message")}
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
    for element in doc.iterfind(".//*[@messageRef]"):
        assert element.get("messageRef") in messages
    used = {e.get("messageRef") for e in doc.iterfind(".//*[@messageRef]")}
    assert used == messages, "every message is waited for somewhere"
    for gateway in doc.iterfind(".//*[@default]"):
        assert gateway.get("default") in flow_ids


@pytest.mark.parametrize("key", KEYS)
def test_the_process_is_executable(exports: dict, processes: dict, key: str) -> None:
    """Conditions only on flows out of gateways, every wait for an outside event has its
    message, every state with a task is exactly one user task (a reminder does not copy it)."""
    definition = processes[key]
    doc = doc_of(exports, key)
    process = find(doc, "process")[0]
    assert process.get("isExecutable") == "true"
    kinds = kinds_of(doc)
    for flow in find(doc, "sequenceFlow"):
        if flow.find("bpmn:conditionExpression", NS) is not None:
            assert kinds[flow.get("sourceRef")] == "exclusiveGateway", flow.get("id")
    for node in find(doc, "receiveTask"):
        assert node.get("messageRef")
    for tag in ("intermediateCatchEvent", "boundaryEvent"):
        for node in find(doc, tag):
            defs = [c for c in node if etree.QName(c).localname.endswith("EventDefinition")]
            assert len(defs) == 1
    tasks = [s for s, spec in definition.states.items() if spec.task]
    assert sorted(t.get("id") for t in find(doc, "userTask")) == sorted(f"state_{s}" for s in tasks)
    # every event an outside caller may send is a message
    names = {m.get("name") for m in find(doc, "message")}
    assert set(definition.sendable()) <= names
    # the only free variables of conditions are outcome, start_state and guard_<name>
    for flow in find(doc, "conditionExpression"):
        parse_condition(flow.text)


def test_card_maps_states_events_and_timers(exports: dict, processes: dict) -> None:
    card = processes["card"]
    doc = doc_of(exports, "card")
    user_tasks = {t.get("id"): t for t in find(doc, "userTask")}
    assert set(user_tasks) == {
        "state_awaiting_activation",
        "state_loss_reported",
        "state_lost",
        "state_cancelled",
    }
    task = user_tasks["state_awaiting_activation"]
    assert task.get("name") == "待激活"
    assert task.find("bpmn:documentation", NS).text == "Awaiting activation"
    owner = task.find("bpmn:potentialOwner//bpmn:formalExpression", NS)
    assert owner is not None and owner.text == "bank_teller"
    assert task.get(f"{CAMUNDA}candidateGroups") is None, "Camunda's attributes only in camunda7"
    # states without a task wait for messages: one, a receive task; several, an event gateway
    assert {g.get("id") for g in find(doc, "eventBasedGateway")} == {
        "state_applied",
        "state_produced",
        "state_active",
    }
    assert [s.get("name") for s in find(doc, "startEvent")] == ["开始"]
    assert [e.get("id") for e in find(doc, "endEvent") if e.get("id").startswith("state_")] == [
        "state_bank_account_closed"
    ]
    timers = {
        b.get("id"): b
        for b in find(doc, "boundaryEvent")
        if b.find(".//bpmn:timeDuration", NS) is not None
    }
    durations = {
        i: (b.get("cancelActivity"), parse_timer_value(b.find(".//bpmn:timeDuration", NS).text))
        for i, b in timers.items()
    }
    assert durations == {
        # the region's durations (policy file, card: block); a reminder does not leave the state
        "timer_awaiting_activation_0": ("false", "P30D"),
        # taken back from the branch: the card still waits where it is in the process
        "timer_awaiting_activation_1": ("false", "P6M"),
        "timer_awaiting_activation_2": ("true", "P1Y"),
        # a temporary loss report lapses after the region's term (NOTES.md "Loss")
        "timer_loss_reported_0": ("true", "P5D"),
    }
    assert timers["timer_awaiting_activation_0"].find(".//bpmn:timeDuration", NS).text == '"P30D"'
    remind = doc.find(".//bpmn:sequenceFlow[@sourceRef='timer_awaiting_activation_0']", NS)
    assert kinds_of(doc)[remind.get("targetRef")] == "endEvent", "the reminder ends on its own"
    sealed = doc.find(".//bpmn:sequenceFlow[@id='flow_seal_uncollected__awaiting_activation']", NS)
    assert sealed.get("sourceRef") == "timer_awaiting_activation_2"
    assert sealed.get("targetRef") == "join_cancelled"
    # the bank's messages: notice, activation, account closed
    messages = {m.get("name") for m in find(doc, "message")}
    assert {"notify_holder", "activate", "close_bank_account", "produce", "cancel"} <= messages
    closed = doc.find(".//bpmn:boundaryEvent[@id='catch_close_bank_account__lost__message']", NS)
    assert (
        closed.find("bpmn:messageEventDefinition", NS).get("messageRef")
        == "message_close_bank_account"
    )
    # a guard is a gateway testing the variable the engine sets when it passes
    check = doc.find(".//bpmn:sequenceFlow[@id='flow_activate__awaiting_activation']", NS)
    assert check.find("bpmn:conditionExpression", NS).text == (
        "guard_presented_id_matches_application == True"
    )
    refused = doc.find(".//bpmn:exclusiveGateway[@id='decide_awaiting_activation']", NS)
    assert refused.get("default") == "flow_refused__awaiting_activation"
    timed = {"remind_holder", "take_back_uncollected", "seal_uncollected", "lapse_loss_report"}
    assert len(card.events) == len({m for m in messages} | timed)


def kinds_of(doc: etree._Element) -> dict[str, str]:
    """Flow node id -> its element name."""
    found = {el.get("id"): etree.QName(el).localname for el in find(doc, "process")[0]}
    return {i: kind for i, kind in found.items() if kind in FLOW_NODES}


def test_enrollment_policy_timers_are_the_policy_dates(exports: dict) -> None:
    doc = doc_of(exports, "enrollment", "default", "en")
    dates = [parse_timer_value(d.text) for d in find(doc, "timeDate")]
    # huian-2023: the payment period ends with 2022-12-31, so the lapse is due at 00:00 next day
    assert dates == ["2023-01-01T00:00:00+08:00"] * 3
    assert len(find(doc, "startEvent")) == 1
    initial = doc.find(".//bpmn:exclusiveGateway[@id='initial']", NS)
    assert initial.get("default") == "flow_start__registered"
    condition = doc.find(
        ".//bpmn:sequenceFlow[@id='flow_start__renewal_pending']/bpmn:conditionExpression", NS
    )
    assert condition.text == 'start_state == "renewal_pending"'
    assert {e.get("id") for e in find(doc, "endEvent")} == {
        "state_paid_late",
        "state_refunded",
        "state_closed_on_leaving",
    }
    assert find(doc, "process")[0].get("name") == "Resident medical insurance year"
    camunda = doc_of(exports, "enrollment", "camunda7")
    assert [d.text for d in find(camunda, "timeDate")] == ["2023-01-01T00:00:00+08:00"] * 3


def test_camunda_dialect_has_what_camunda_modeler_reads(exports: dict) -> None:
    doc = doc_of(exports, "enrollment", "camunda7")
    modeler = f"{{{NS['modeler']}}}"
    assert doc.get(f"{modeler}executionPlatform") == "Camunda Platform"
    assert re.match(r"^7\.\d+\.\d+$", doc.get(f"{modeler}executionPlatformVersion"))
    process = find(doc, "process")[0]
    assert process.get(f"{CAMUNDA}historyTimeToLive")
    task = doc.find(".//bpmn:userTask[@id='state_refund_review']", NS)
    assert task.get(f"{CAMUNDA}candidateGroups") == "medical_insurance_clerk"
    assert task.get(f"{CAMUNDA}dueDate") == "${dateTime().plusDays(15).toDate()}"
    assert task.find("bpmn:potentialOwner", NS) is None
    fields = task.findall(".//camunda:formField", NS)
    assert [f.get("id") for f in fields] == ["outcome", "note", "reason"]
    assert [v.get("id") for v in fields[0].findall("camunda:value", NS)] == [
        "approve_refund",
        "reject_refund",
    ]
    approve = doc.find(".//bpmn:sequenceFlow[@id='flow_approve_refund__refund_review']", NS)
    assert approve.find("bpmn:conditionExpression", NS).text == "${outcome == 'approve_refund'}"
    deduct = doc.find(".//bpmn:sequenceFlow[@id='flow_deduct__registered']", NS)
    assert deduct.find("bpmn:conditionExpression", NS).text == (
        "${guard_within_payment_period == true && guard_amount_is_due == true}"
    )


def test_a_task_due_when_the_policy_says_has_the_policys_due_date_in_camunda(
    exports: dict,
) -> None:
    card = doc_of(exports, "card", "camunda7")
    task = card.find(".//bpmn:userTask[@id='state_loss_reported']", NS)
    assert task.get(f"{CAMUNDA}dueDate") == "${dateTime().plusDays(5).toDate()}"  # huian: P5D
    plain = doc_of(exports, "card", "default")
    task = plain.find(".//bpmn:userTask[@id='state_loss_reported']", NS)
    assert task.get(f"{CAMUNDA}dueDate") is None


@every
def test_layout_is_a_clean_diagram(exports: dict, key: str, dialect: str, lang: str) -> None:
    """A shape and edge for everything, shapes apart on a grid, right angles, every label boxed
    and no two labels meeting."""
    doc = doc_of(exports, key, dialect, lang)
    shapes = {s.get("bpmnElement"): s for s in doc.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in doc.iterfind(".//bpmndi:BPMNEdge", NS)}
    kinds = kinds_of(doc)
    boxes = {}
    for node, kind in kinds.items():
        x, y, w, h = boxes[node] = bounds(shapes[node])
        assert w > 0 and h > 0 and x >= 0 and y >= 0
        if kind in OUTER_LABELS and doc.find(f".//*[@id='{node}']").get("name"):
            assert shapes[node].find("bpmndi:BPMNLabel/dc:Bounds", NS) is not None, node
    process = find(doc, "process")[0]
    hosts = {b.get("id"): b.get("attachedToRef") for b in find(doc, "boundaryEvent")}
    for a, b in itertools.combinations(boxes, 2):
        if hosts.get(a) == b or hosts.get(b) == a:
            continue
        assert not overlap(boxes[a], boxes[b]), (a, b)
    # on a grid: every node but a boundary event centred on a column and a row line, one per
    # cell, and the lines shared (a state's catch events in one column, a chain on one row)
    cells = [
        (boxes[n][0] + boxes[n][2] / 2, boxes[n][1] + boxes[n][3] / 2)
        for n in boxes
        if n not in hosts
    ]
    assert len(set(cells)) == len(cells)
    assert all(x == int(x) and y == int(y) for x, y in cells)
    assert len({x for x, _ in cells}) + len({y for _, y in cells}) < len(cells) + 2
    for flow in find(doc, "sequenceFlow"):
        points = [
            (float(p.get("x")), float(p.get("y")))
            for p in edges[flow.get("id")].iterfind("di:waypoint", NS)
        ]
        assert len(points) >= 2
        for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
            assert ax == bx or ay == by, f"{flow.get('id')} is not orthogonal"
        if flow.get("name"):
            assert edges[flow.get("id")].find("bpmndi:BPMNLabel/dc:Bounds", NS) is not None
    labels = {
        element.getparent().get("bpmnElement"): bounds(element)
        for element in doc.iterfind(".//bpmndi:BPMNLabel", NS)
    }
    for a, b in itertools.combinations(labels, 2):
        assert not overlap(labels[a], labels[b]), (a, b)
    assert process.get("id") == doc.find(".//bpmndi:BPMNPlane", NS).get("bpmnElement")
    # a boundary event sits on the upper or lower border of the activity it is attached to
    for boundary, host in hosts.items():
        bx, by, bw, bh = boxes[boundary]
        hx, hy, hw, hh = boxes[host]
        assert by + bh / 2 in (pytest.approx(hy, abs=0.1), pytest.approx(hy + hh, abs=0.1))
        assert hx <= bx + bw / 2 <= hx + hw


def test_labels_are_chinese_with_the_english_in_documentation(
    exports: dict, processes: dict
) -> None:
    doc = doc_of(exports, "person")
    for name, spec in processes["person"].states.items():
        element = doc.find(f".//*[@id='state_{name}']", NS)
        assert element.get("name") == spec.label.zh
        assert element.find("bpmn:documentation", NS).text == spec.label.en
    en = doc_of(exports, "person", "default", "en")
    element = en.find(".//*[@id='state_insured']", NS)
    assert (element.get("name"), element.find("bpmn:documentation", NS).text) == (
        "Insured",
        "参保正常",
    )


def test_a_policy_timer_needs_a_policy(processes: dict) -> None:
    with pytest.raises(BpmnExportError, match="payment_period.end"):
        to_bpmn(processes["enrollment"])
    with pytest.raises(BpmnExportError, match="dialect"):
        to_bpmn(processes["card_review"], dialect="camunda8")
    assert to_bpmn(processes["card_review"])  # no policy timer, no policy needed


def test_the_shapes_of_the_edge_cases(exports: dict) -> None:
    doc = doc_of(exports, "edge_cases")
    kinds = kinds_of(doc)
    assert kinds["state_waiting"] == "receiveTask"
    assert kinds["state_queued"] == "eventBasedGateway"
    assert kinds["state_sleeping"] == "intermediateCatchEvent"
    assert kinds["state_archived"] == "userTask" and kinds["end_archived"] == "endEvent"
    assert kinds["state_done"] == "endEvent"
    # a message that keeps the task, a reminder: not interrupting, ending on their own
    for boundary in ("catch_ping__review", "timer_review_0"):
        element = doc.find(f".//bpmn:boundaryEvent[@id='{boundary}']", NS)
        assert element.get("cancelActivity") == "false"
        flow = doc.find(f".//bpmn:sequenceFlow[@sourceRef='{boundary}']", NS)
        assert kinds[flow.get("targetRef")] == "endEvent"
    # a message that keeps a message-waiting state loops back into it
    poke = doc.find(".//bpmn:sequenceFlow[@sourceRef='catch_poke__queued']", NS)
    assert poke.get("targetRef") == "join_queued"
    accept = doc.find(
        ".//bpmn:sequenceFlow[@id='flow_accept__review']/bpmn:conditionExpression", NS
    )
    assert accept.text == 'outcome == "accept" and guard_complete == True and guard_signed == True'


def test_a_state_that_waits_for_one_message_or_one_timer() -> None:
    definition = parse_definition(
        {
            "process": "tiny",
            "version": 1,
            "label": {"zh": "小", "en": "Tiny"},
            "initial": "waiting",
            "states": {
                "waiting": {"label": {"zh": "等", "en": "Waiting"}},
                "sleeping": {
                    "label": {"zh": "睡", "en": "Sleeping"},
                    "timers": [{"after": "PT12H", "event": "wake"}],
                },
                "done": {"label": {"zh": "完", "en": "Done"}, "final": True},
            },
            "events": {
                "rest": {"label": {"zh": "歇", "en": "Rest"}, "from": "waiting", "to": "sleeping"},
                "wake": {"label": {"zh": "醒", "en": "Wake"}, "from": "sleeping", "to": "done"},
            },
        }
    )
    model = build_model(definition)
    assert model.nodes["state_waiting"].kind == "receiveTask"
    assert model.nodes["state_sleeping"].kind == "intermediateCatchEvent"
    doc = etree.fromstring(to_bpmn(definition, policy=PolicyValues("none", {})))
    assert (
        doc.find(".//bpmn:intermediateCatchEvent[@id='state_sleeping']//bpmn:timeDuration", NS).text
        == '"PT12H"'
    )


def test_an_automatic_event_is_a_gateway_on_entering_its_state(exports: dict) -> None:
    """enrollment's covered_in_full (automatic, guard nothing_to_pay): entering registered goes
    through auto_registered, which takes the event when its guard holds and else waits in the
    state; nobody sends it, so it is no message; a refused event stays without trying it."""
    doc = doc_of(exports, "enrollment")
    kinds = kinds_of(doc)
    assert "message_covered_in_full" not in {m.get("id") for m in find(doc, "message")}
    assert not [n for n in kinds if n.startswith("catch_covered_in_full")]
    assert "automatic" not in doc.find(".//shebao:event[@name='covered_in_full']", NS).attrib
    for state in ("registered", "renewal_pending"):
        gateway = doc.find(f".//bpmn:exclusiveGateway[@id='auto_{state}']", NS)
        assert gateway.get("name") == "自动办理？"
        assert gateway.find("bpmn:documentation", NS).text == "Handled automatically?"
        # registered is entered from other states too (reassess_reductions): through a join
        entry = doc.find(f".//bpmn:sequenceFlow[@id='flow_start__{state}']", NS).get("targetRef")
        if entry == f"enter_{state}":
            onward = doc.find(f".//bpmn:sequenceFlow[@id='flow_enter_auto__{state}']", NS)
            assert (onward.get("sourceRef"), onward.get("targetRef")) == (entry, f"auto_{state}")
        else:
            assert entry == f"auto_{state}"
        out = {
            f.get("id"): f
            for f in doc.iterfind(f".//bpmn:sequenceFlow[@sourceRef='auto_{state}']", NS)
        }
        assert list(out) == [f"flow_covered_in_full__{state}__auto", f"flow_wait__{state}"]
        assert gateway.get("default") == f"flow_wait__{state}"
        taken = out[f"flow_covered_in_full__{state}__auto"]
        assert taken.get("targetRef") == "join_deducted"
        assert taken.get("name") == "医疗救助资金全额资助个人缴费"
        assert taken.find("bpmn:conditionExpression", NS).text == "guard_nothing_to_pay == True"
        assert out[f"flow_wait__{state}"].get("targetRef") == f"join_{state}"
        refused = doc.find(f".//bpmn:sequenceFlow[@id='flow_pay__{state}__refused']", NS)
        assert refused.get("targetRef") == f"join_{state}"
        assert doc.find(f".//bpmn:sequenceFlow[@id='flow_enter__{state}']", NS).get(
            "targetRef"
        ) == (f"state_{state}")
    camunda = doc_of(exports, "enrollment", "camunda7")
    flow = camunda.find(".//bpmn:sequenceFlow[@id='flow_covered_in_full__registered__auto']", NS)
    assert flow.find("bpmn:conditionExpression", NS).text == "${guard_nothing_to_pay == true}"


def automatic_tiny(*, message: bool = True, **paid: object) -> ProcessDefinition:
    """A state ``sorting`` left by two automatic events (``fast``, guarded, then ``paid``) and,
    with ``message``, a message (``cancel``); ``paid`` as given (no guard: always taken)."""
    cancel = {"label": {"zh": "撤", "en": "Cancel"}, "from": "sorting", "to": "done"}
    return parse_definition(
        {
            "process": "tiny",
            "version": 1,
            "label": {"zh": "小", "en": "Tiny"},
            "initial": "waiting",
            "states": {
                "waiting": {"label": {"zh": "等", "en": "Waiting"}},
                "sorting": {"label": {"zh": "分", "en": "Sorting"}},
                "done": {"label": {"zh": "完", "en": "Done"}, "final": True},
            },
            "events": {
                "send": {"label": {"zh": "送", "en": "Send"}, "from": "waiting", "to": "sorting"},
                "fast": {
                    "label": {"zh": "快", "en": "Fast"},
                    "from": "sorting",
                    "to": "done",
                    "automatic": True,
                    "guard": "urgent",
                },
                "paid": {
                    "label": {"zh": "付", "en": "Paid"},
                    "from": "sorting",
                    "to": "done",
                    "automatic": True,
                    **paid,
                },
                **({"cancel": cancel} if message else {}),
            },
        }
    )


def test_an_automatic_event_without_guards_is_always_taken(schema: etree.XMLSchema) -> None:
    """No guard: its flow's condition is True, after the guarded one it follows in file order
    (the engine fires the first automatic event whose guards hold, an exclusive gateway takes the
    first flow whose condition holds); the state's element stays behind the default flow."""
    definition = automatic_tiny()
    for dialect, conditions in (
        ("default", ["guard_urgent == True", "True"]),
        ("camunda7", ["${guard_urgent == true}", "${true}"]),
    ):
        doc = etree.fromstring(to_bpmn(definition, dialect=dialect))
        assert schema.validate(doc), schema.error_log
        out = doc.findall(".//bpmn:sequenceFlow[@sourceRef='auto_sorting']", NS)
        assert [f.get("id") for f in out] == [
            "flow_fast__sorting__auto",
            "flow_paid__sorting__auto",
            "flow_wait__sorting",
        ]
        assert [f.findtext("bpmn:conditionExpression", None, NS) for f in out] == [
            *conditions,
            None,
        ]
        assert parse_condition(conditions[1]).guards == ()
    assert build_model(definition).nodes["state_sorting"].kind == "receiveTask"  # cancel


def test_a_state_left_only_by_automatic_events_is_refused() -> None:
    """Without the message it would wait for nothing BPMN can say when no automatic event fires."""
    definition = automatic_tiny(guard="nothing_to_pay")
    assert to_bpmn(definition)
    with pytest.raises(BpmnExportError, match="state 'sorting' is left only by automatic events"):
        to_bpmn(automatic_tiny(message=False))
