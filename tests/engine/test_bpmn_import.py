"""BPMN import: an export comes back as the same definition, an export of that is the same file,
a diagram edited in a modeller comes back with exactly its edits, and what the engine cannot run
is refused naming the element.

``fixtures/card_edited.bpmn`` is the card export (Chinese, default dialect, Hui'an 2023) edited in
bpmn-js's Modeler through its modelling API and saved by bpmn-js: the state 待激活 renamed
待领卡激活, the message event 制卡完成 renamed 卡片制作完成, the sealing timer changed from the
policy's P1Y to P18M, the lost card's account closing given to social-security clerks, and the
active state's gateway moved down 60 points.
"""

from __future__ import annotations

import difflib
import itertools
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree

from engine.bpmn import NS, to_bpmn
from engine.bpmn_import import BpmnImportError, import_bpmn, to_yaml
from engine.definition import ProcessDefinition, load_definition, load_definitions, parse_definition
from web.cli.diagrams import policy_values
from web.cli.main import main
from workflows.domain import Domain

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "card_edited.bpmn"
KEYS = ("card", "card_review", "enrollment", "person", "edge_cases")
POLICY = "huian-2023"
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


@pytest.fixture(scope="module")
def processes() -> dict[str, ProcessDefinition]:
    """The shipped processes, and one with the shapes they do not have (fixtures/)."""
    found = load_definitions(ROOT / "definitions")
    found["edge_cases"] = load_definition(Path(__file__).parent / "fixtures" / "edge_cases.yaml")
    return found


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain(ROOT / "definitions" / "policies")


def export(
    definition: ProcessDefinition, domain: Domain, lang: str = "zh", dialect: str = "default"
) -> bytes:
    return to_bpmn(
        definition, lang, dialect=dialect, policy=policy_values(domain, POLICY, definition)
    )


def reimport(xml: bytes, source: str = "<import>") -> ProcessDefinition:
    return parse_definition(yaml.safe_load(to_yaml(import_bpmn(xml))), source=source)


@pytest.mark.parametrize(
    "key,dialect,lang", list(itertools.product(KEYS, ("default", "camunda7"), ("zh", "en")))
)
def test_import_of_the_export_is_the_definition_and_exports_the_same_file(
    processes: dict[str, ProcessDefinition], domain: Domain, key: str, dialect: str, lang: str
) -> None:
    definition = processes[key]
    xml = export(definition, domain, lang, dialect)
    back = reimport(xml, definition.source)
    assert back == definition
    assert export(back, domain, lang, dialect) == xml


def test_the_imported_yaml_reads_like_a_definition_file(
    processes: dict[str, ProcessDefinition], domain: Domain
) -> None:
    text = to_yaml(import_bpmn(export(processes["card"], domain)))
    assert "label: {zh: 待激活, en: Awaiting activation}" in text
    assert "- {after: {policy: card.activation_reminder_after}, event: remind_holder}" in text
    assert "from: [applied, produced, awaiting_activation, active, loss_reported, lost]" in text
    enrollment = to_yaml(import_bpmn(export(processes["enrollment"], domain)))
    assert "- {policy: payment_period.end, event: lapse}" in enrollment
    assert "initial: [registered, renewal_pending]" in enrollment


def changes(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_diagram_edited_in_a_modeller_imports_to_its_edits(
    processes: dict[str, ProcessDefinition], domain: Domain
) -> None:
    before = to_yaml(import_bpmn(export(processes["card"], domain)))
    after = to_yaml(import_bpmn(FIXTURE.read_bytes()))
    assert changes(before, after) == [
        "-    label: {zh: 待激活, en: Awaiting activation}",
        "+    label: {zh: 待领卡激活, en: Awaiting activation}",
        "-    - {after: {policy: card.uncollected_card_sealed_after}, event: seal_uncollected}",
        "+    - {after: P18M, event: seal_uncollected}",
        "-      candidate_group: bank_teller",
        "+      candidate_group: social_security_clerk",
        "-    label: {zh: 制卡完成, en: Card produced}",
        "+    label: {zh: 卡片制作完成, en: Card produced}",
    ]
    edited = parse_definition(yaml.safe_load(after))
    assert edited.states["lost"].task.candidate_group == "social_security_clerk"  # type: ignore[union-attr]
    assert edited.states["cancelled"].task.candidate_group == "bank_teller"  # type: ignore[union-attr]
    (seal,) = [
        t for t in edited.states["awaiting_activation"].timers if t.event == "seal_uncollected"
    ]
    assert seal.after.text == "P18M"  # type: ignore[union-attr]


def retag(xml: bytes, element: str, tag: str) -> bytes:
    """``xml`` with the element ``element`` turned into a ``bpmn:<tag>`` (as a modeller's
    "change type" does)."""
    doc = etree.fromstring(xml)
    (found,) = doc.xpath(f"//*[@id='{element}']")
    found.tag = f"{{{NS['bpmn']}}}{tag}"
    return etree.tostring(doc)


def edit(xml: bytes, old: str, new: str, count: int = 1) -> bytes:
    text = xml.decode("utf-8")
    assert old in text, old
    return text.replace(old, new, count).encode("utf-8")


@pytest.fixture(scope="module")
def card_xml(processes: dict[str, ProcessDefinition], domain: Domain) -> bytes:
    return export(processes["card"], domain)


@pytest.fixture(scope="module")
def enrollment_xml(processes: dict[str, ProcessDefinition], domain: Domain) -> bytes:
    return export(processes["enrollment"], domain)


def refused(xml: bytes, element: str, words: str) -> None:
    with pytest.raises(BpmnImportError) as caught:
        import_bpmn(xml)
    assert caught.value.element == element, str(caught.value)
    assert re.search(words, caught.value.problem), caught.value.problem


def test_what_the_engine_cannot_run_is_refused_naming_the_element(
    card_xml: bytes, enrollment_xml: bytes
) -> None:
    refused(
        retag(card_xml, "join_cancelled", "parallelGateway"),
        "join_cancelled",
        "cannot run a bpmn:parallelGateway",
    )
    refused(retag(card_xml, "state_lost", "scriptTask"), "state_lost", "scriptTask")
    dated = edit(enrollment_xml, '>"2023-01-01T00:00:00+08:00"<', '>"2023-02-01T00:00:00+08:00"<')
    refused(dated, "timer_registered_0", r"fixed date \('2023-02-01.*\(payment_period\.end\)")
    cycle = edit(card_xml, "<bpmn:timeDuration", "<bpmn:timeCycle").replace(
        b"</bpmn:timeDuration>", b"</bpmn:timeCycle>", 1
    )
    refused(cycle, "timer_awaiting_activation_0", "repeating timer")
    unreadable = edit(card_xml, "guard_fast_issuance_channel == True", "fast_issuance_channel()")
    refused(
        unreadable, "flow_issue_on_the_spot__applied", "cannot read 'fast_issuance_channel\\(\\)'"
    )
    split = edit(
        card_xml,
        '<bpmn:sequenceFlow id="flow_produce__applied" sourceRef="catch_produce__applied" targetRef="state_produced" />',
        '<bpmn:sequenceFlow id="flow_produce__applied" sourceRef="catch_produce__applied" targetRef="state_produced" />'
        '<bpmn:sequenceFlow id="extra" sourceRef="catch_produce__applied" targetRef="join_cancelled" />',
    )
    refused(split, "catch_produce__applied", "one outgoing flow")
    elsewhere = edit(
        card_xml,
        'id="flow_issue_on_the_spot__applied__refused" sourceRef="guard_issue_on_the_spot__applied" targetRef="join_applied"',
        'id="flow_issue_on_the_spot__applied__refused" sourceRef="guard_issue_on_the_spot__applied" targetRef="join_cancelled"',
    )
    refused(
        elsewhere, "flow_issue_on_the_spot__applied__refused", "must lead back to state_applied"
    )
    with pytest.raises(BpmnImportError, match="not an XML document"):
        import_bpmn(b"<bpmn")
    with pytest.raises(BpmnImportError, match="not a BPMN 2.0 document"):
        import_bpmn(b"<svg/>")


def test_a_process_is_picked_by_key_or_id(card_xml: bytes) -> None:
    assert import_bpmn(card_xml, "card")["process"] == "card"
    assert import_bpmn(card_xml, "process_card")["process"] == "card"
    with pytest.raises(BpmnImportError, match="no such process"):
        import_bpmn(card_xml, "pension")


@pytest.fixture
def runner(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The commands on a database where the definition files are deployed (``shebao bpmn``
    exports what is deployed)."""
    monkeypatch.setenv("SHEBAO_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    deployed = runner.invoke(main, ["definitions", "deploy"])
    assert deployed.exit_code == 0, deployed.output
    return runner


def test_shebao_bpmn_import(runner: CliRunner, tmp_path: Path, card_xml: bytes) -> None:
    result = runner.invoke(main, ["bpmn", "import", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "label: {zh: 待领卡激活, en: Awaiting activation}" in result.output
    out = tmp_path / "card.yaml"
    written = runner.invoke(main, ["bpmn", "import", str(FIXTURE), "--out", str(out)])
    assert written.exit_code == 0 and out.read_text(encoding="utf-8") == result.output
    broken = tmp_path / "broken.bpmn"
    broken.write_bytes(edit(card_xml, "guard_fast_issuance_channel == True", "x()"))
    failed = runner.invoke(main, ["bpmn", "import", str(broken)])
    assert failed.exit_code == 1
    assert "flow_issue_on_the_spot__applied: cannot read 'x()'" in failed.output
    renamed = tmp_path / "renamed.bpmn"
    renamed.write_bytes(
        edit(
            card_xml,
            'actions="retire_replaced_card"',
            'actions="no_such_action"',
        )
    )
    invalid = runner.invoke(main, ["bpmn", "import", str(renamed)])
    assert invalid.exit_code == 1 and "no action registered as 'no_such_action'" in invalid.output


def test_shebao_bpmn_resolves_the_policy(runner: CliRunner, tmp_path: Path) -> None:
    """By default the latest year of the first region (no instances yet), or the one given."""
    default = runner.invoke(main, ["bpmn", "enrollment"])
    assert default.exit_code == 0, default.output
    assert '"2022-03-01T00:00:00+08:00"</bpmn:timeDate>' in default.output  # foshan-2022
    assert 'policy="foshan-2022"' in default.output
    given = runner.invoke(
        main, ["bpmn", "enrollment", "--policy", "huian-2022", "--dialect", "camunda7"]
    )
    assert ">2022-01-01T00:00:00+08:00</bpmn:timeDate>" in given.output
    everything = runner.invoke(main, ["bpmn", "export-all", str(tmp_path)])
    assert everything.exit_code == 0, everything.output
    assert sorted(p.name for p in tmp_path.glob("*.bpmn")) == sorted(
        f"{k}.{d}.bpmn" for k in KEYS if k != "edge_cases" for d in ("default", "camunda7")
    )


def test_the_default_policy_is_the_one_instances_use_most(
    runner: CliRunner, sqlite_url: str, processes: dict[str, ProcessDefinition]
) -> None:
    from web.app import create_app, engine_of

    app = create_app({"SHEBAO_DATABASE_URL": sqlite_url})
    engine = engine_of(app)
    for i, policy in enumerate(["huian-2023", "huian-2023", "foshan-2022"]):
        engine.start(
            "enrollment", business_key=f"p{i}", variables={"policy": policy, "region": policy[:-5]}
        )
    result = runner.invoke(main, ["bpmn", "enrollment"])
    assert result.exit_code == 0, result.output
    assert 'policy="huian-2023"' in result.output
    assert replace(processes["enrollment"]).key == "enrollment"


OLD_SHAPE = Path(__file__).parent / "fixtures" / "enrollment_exporter2.bpmn"
"""enrollment as exporter version 2 wrote it (diagram left out): covered_in_full a message door
that ``shebao:event automatic="true"`` says is automatic."""

TINY = """
process: tiny
version: 1
label: {zh: 小, en: Tiny}
initial: waiting
states:
  waiting: {label: {zh: 等, en: Waiting}}
  sorting: {label: {zh: 分, en: Sorting}}
  done: {label: {zh: 完, en: Done}, final: true}
events:
  send: {label: {zh: 送, en: Send}, from: waiting, to: sorting}
  fast: {label: {zh: 快, en: Fast}, from: sorting, to: done, automatic: true, guard: urgent}
  paid: {label: {zh: 付, en: Paid}, from: [waiting, sorting], to: done, automatic: true}
  cancel: {label: {zh: 撤, en: Cancel}, from: sorting, to: done}
  again: {label: {zh: 再, en: Again}, from: sorting, to: waiting, senders: [channel]}
"""


def test_automatic_events_come_back_from_their_gateways(
    processes: dict[str, ProcessDefinition], domain: Domain, enrollment_xml: bytes
) -> None:
    assert b"auto_registered" in enrollment_xml and b"message_covered_in_full" not in enrollment_xml
    back = reimport(enrollment_xml).events["covered_in_full"]
    assert back == processes["enrollment"].events["covered_in_full"]
    assert back.automatic and back.sources == ("registered", "renewal_pending")
    assert back.guards == ("nothing_to_pay",) and back.target == "deducted"
    # one without guards (True), two from one state, one from an initial state entered twice
    tiny = parse_definition(yaml.safe_load(TINY))
    for dialect in ("default", "camunda7"):
        xml = to_bpmn(tiny, dialect=dialect)
        assert b'<bpmn:exclusiveGateway id="enter_waiting">' in xml
        assert reimport(xml, tiny.source) == tiny
        assert to_bpmn(reimport(xml), dialect=dialect) == xml


def test_an_automatic_gateway_edited_in_a_modeller_imports_to_its_edits(
    enrollment_xml: bytes,
) -> None:
    """Another guard on both automatic flows, one renamed: the event's guards and label change;
    another guard on one of them only: refused, the event has one set of guards."""
    before = to_yaml(import_bpmn(enrollment_xml))
    guarded = enrollment_xml
    for state in ("registered", "renewal_pending"):
        guarded = edit(
            guarded,
            f'sourceRef="auto_{state}" targetRef="join_deducted" name="医疗救助资金全额资助个人缴费">'
            f"\n      <bpmn:documentation>Paid in full by medical assistance</bpmn:documentation>"
            f'\n      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
            f"guard_nothing_to_pay == True",
            f'sourceRef="auto_{state}" targetRef="join_deducted" name="医疗救助资金全额资助个人缴费">'
            f"\n      <bpmn:documentation>Paid in full by medical assistance</bpmn:documentation>"
            f'\n      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
            f"guard_nothing_to_pay == True and guard_assistance_confirmed == True",
        )
    renamed = edit(guarded, 'name="医疗救助资金全额资助个人缴费"', 'name="医疗救助全额资助"')
    assert changes(before, to_yaml(import_bpmn(renamed))) == [
        "-    label: {zh: 医疗救助资金全额资助个人缴费, en: Paid in full by medical assistance}",
        "+    label: {zh: 医疗救助全额资助, en: Paid in full by medical assistance}",
        "-    guard: nothing_to_pay",
        "+    guard: [nothing_to_pay, assistance_confirmed]",
    ]
    once = edit(
        enrollment_xml,
        "guard_nothing_to_pay == True",
        "guard_nothing_to_pay == True and guard_assistance_confirmed == True",
    )
    refused(once, "flow_covered_in_full__renewal_pending__auto", "other guards")
    unnamed = edit(enrollment_xml, "flow_covered_in_full__registered__auto", "Flow_1x2y3z", 99)
    refused(unnamed, "Flow_1x2y3z", "which automatic event")
    no_default = edit(enrollment_xml, ' default="flow_wait__registered"', "")
    refused(no_default, "auto_registered", "default flow into its state")


def test_a_file_of_the_old_shape_still_imports(
    processes: dict[str, ProcessDefinition], domain: Domain
) -> None:
    """Exporter version 2 wrote an automatic event as a message door with shebao:automatic: it
    imports to the same definition, which exports in the new shape."""
    old = OLD_SHAPE.read_bytes()
    assert b'exporterVersion="2"' in old and b'automatic="true"' in old
    assert b"catch_covered_in_full__registered" in old
    definition = reimport(old)
    event = definition.events["covered_in_full"]
    assert event.automatic and event.sources == ("registered", "renewal_pending")
    assert (event.target, event.guards, event.actions) == (
        "deducted",
        ("nothing_to_pay",),
        ("record_assistance",),
    )
    xml = export(definition, domain)
    assert b"auto_registered" in xml and b"catch_covered_in_full" not in xml
    assert reimport(xml) == definition


def test_shebao_bpmn_writes_the_automatic_gateway(runner: CliRunner) -> None:
    result = runner.invoke(main, ["bpmn", "enrollment", "--policy", POLICY])
    assert result.exit_code == 0, result.output
    assert '<bpmn:exclusiveGateway id="auto_registered" name="自动办理？"' in result.output
    assert "guard_nothing_to_pay == True</bpmn:conditionExpression>" in result.output
    assert "message_covered_in_full" not in result.output
