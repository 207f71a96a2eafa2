"""The whole API under schemathesis with every check, stateful links and 500 examples an operation.

The service runs on a real HTTP server, in a process of its own, over a seeded SQLite database (cards, insured people
with renewed years, a registration in review, open tasks). Schemathesis runs all its phases
(examples, coverage, fuzzing with valid and invalid data, stateful sequences that follow the
description's links) with all its checks. The admin operations run apart, with a token of their
own, so that revoking a token cannot take the main run's token away.

Passes when no check finds anything: no server error, no response that breaks the description
(status code, content type, body schema, headers), no schema-violating request accepted, and so
on. One check is told what this API's refusals mean: ``positive_data_acceptance`` accepts a 422
for a schema-valid request, because rules the schema cannot say refuse some (an ID number's check
digit, a person not registered, a bank that is not a partner of the region), and a 413 (a body
over the size limit). In exchange a check of our own, ``description_is_honest``, fails when such a
refusal comes from the request checks themselves (``invalid_request``, ``invalid_characters``,
``malformed_json``...): that would mean the description promises what the validation refuses.

The hostile inputs of the security issue (a body nested 20,000 levels, a lone surrogate, a NUL,
``paid_at: "x"``, an oversized body) are sent to every operation that takes a body, and each
answer is checked against the description by schemathesis' conformance checks as well.
"""

from __future__ import annotations

import collections
import json
import logging
import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from werkzeug.serving import make_server

from engine.clock import SimulatedClock
from engine.db import make_engine
from web.api.tokens import create_token
from web.app import create_app, engine_of
from web.extensions import domain_of
from workflows.cards import apply_for_card
from workflows.identity import make_id_number
from workflows.imports import import_people
from workflows.payments import open_renewals
from workflows.people import Registration, register_person

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # busy on both CPUs by itself

EXAMPLES = 500
"""Per operation, in the fuzzing phase (the coverage phase and the stateful sequences add more)."""
STATEFUL_EXAMPLES = 100
STATEFUL_STEPS = 8
SEED = 20261202
MAIN_SCOPES = ["channel", "factory", "tax", "read", "import", "bank:icbc", "clerk:huian"]
CONFORMANCE = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
}
ONE_EXAMPLE = {"GET /admin/tokens", "GET /openapi.json"}
"""Operations that take no input: one example says all."""
RULE_REFUSALS = ["2xx", "401", "403", "404", "409", "413", "422"]
"""What a schema-valid request may be answered with (see above)."""
REQUEST_CHECK_CODES = {
    "invalid_request",
    "invalid_characters",
    "malformed_json",
    "too_deep",
    "not_json",
    "bad_idempotency_key",
}


def code_of(body: bytes | None) -> str | None:
    try:
        found = json.loads(body or b"{}")
    except ValueError:
        return None
    return str(found.get("code")) if isinstance(found, dict) else None


@schemathesis.check
def description_is_honest(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request the description calls valid is never refused by the request checks."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    code = code_of(response.content)
    if code in REQUEST_CHECK_CODES:
        raise AssertionError(f"a schema-valid request was refused with {code}: {response.text}")
    return None


NOW = datetime(2022, 10, 10, 2, tzinfo=UTC)  # huian-2023's payment period is open


def seed(url: str) -> None:
    """Something in every state: cards at a teller, insured people with renewed years, and
    registrations waiting for a clerk."""
    app = create_app({"SHEBAO_DATABASE_URL": url, "TESTING": True}, clock=SimulatedClock(NOW))
    engine, domain = engine_of(app), domain_of(app)
    people = [make_id_number("350521", date(1960 + i, 3, 3), 1 + i) for i in range(8)]
    for person in people:
        card = apply_for_card(
            engine,
            domain.regions,
            id_number=person,
            channel="online",
            bank="icbc",
            region_code="350521",
            actor="seed",
        )
        engine.fire(card.instance_id, "produce")
        engine.fire(card.instance_id, "notify_holder")  # a teller's task at ICBC
    rows = [(i, {"id_number": p, "name": "张三", "region": "huian"}) for i, p in enumerate(people)]
    assert import_people(engine, domain, rows, actor="seed").rejected == []
    policy = domain.regions.policy("huian-2023")
    assert policy is not None
    open_renewals(engine, policy, [{"id_number": p, "region": "huian"} for p in people])
    for n in range(3):
        newcomer = make_id_number("350521", date(1990, 1, 1 + n), 7 + 2 * n)
        register_person(
            engine,
            domain,
            Registration(id_number=newcomer, name="李四", region="huian"),
            actor="seed",
        )
    engine.db.dispose()


def serve(url: str, log_path: str, ports: Any) -> None:
    """The service in a process of its own (the fuzzer and the service then use both CPUs),
    logging to a file the parent scans for resident ID numbers."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(logging.FileHandler(log_path, encoding="utf-8"))
    root.setLevel(logging.INFO)
    app = create_app({"SHEBAO_DATABASE_URL": url, "TESTING": True}, clock=SimulatedClock(NOW))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    ports.put(server.server_port)
    server.serve_forever()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(database URL, the service's address, its log file)."""
    from web.migrate import upgrade_database

    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'fuzz.db'}"
    upgrade_database(url)
    seed(url)
    log_path = folder / "service.log"
    context = multiprocessing.get_context("fork")
    ports = context.Queue()
    process = context.Process(target=serve, args=(url, str(log_path), ports), daemon=True)
    process.start()
    try:
        yield url, f"http://127.0.0.1:{ports.get(timeout=60)}", log_path
    finally:
        process.terminate()
        process.join(10)


def token_for(url: str, name: str, scopes: list[str]) -> str:
    db = make_engine(url)
    try:
        return create_token(db, name, scopes)
    finally:
        db.dispose()


def scan_log(log_path: Path, scan: Any) -> int:
    """Hand every line the service logged to the session's scan; how many there were."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines:
        scan.check(line, "log of the fuzzed service")
    return len(lines)


def run_schemathesis(base: str, token: str, *, paths: str, scan: Any) -> dict[str, Any]:
    """One schemathesis run with every phase and check; its figures and its findings."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
            "checks": {
                "enabled": True,
                # 413 is a refusal the description documents (a body over the limit)
                "negative_data_rejection": {
                    "expected-statuses": ["400", "401", "403", "404", "406", "413", "422"]
                },
                "positive_data_acceptance": {"expected-statuses": RULE_REFUSALS},
            },
            "phases": {
                "stateful": {
                    "enabled": True,
                    "max-steps": STATEFUL_STEPS,
                    "generation": {"max-examples": STATEFUL_EXAMPLES},
                }
            },
            "workers": 1,
        }
    )
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", config=config)
    schema = schema.include(path_regex=paths)
    findings: list[dict[str, Any]] = []
    cases: collections.Counter[str] = collections.Counter()
    fuzzed: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[int] = collections.Counter()
    errors: list[str] = []
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases[event.phase.value] += len(event.recorder.cases)
            if event.phase.value == "fuzzing":
                fuzzed[event.recorder.label] += len(event.recorder.cases)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[interaction.response.status_code] += 1
                    scan.check(
                        interaction.response.content.decode("utf-8", "replace"),
                        f"response to {interaction.request.method} {interaction.request.uri}",
                    )
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    interaction = event.recorder.interactions.get(case_id)
                    response = interaction.response if interaction else None
                    request = interaction.request if interaction else None
                    findings.append(
                        {
                            "check": check.name,
                            "operation": event.recorder.label,
                            "title": check.failure_info.failure.title,
                            "status": response.status_code if response else None,
                            "body": response.content[:300] if response else None,
                            "request": f"{request.method} {request.uri}" if request else None,
                        }
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(repr(getattr(event, "value", None) or getattr(event, "exception", None)))
    return {
        "seconds": round(time.monotonic() - started, 1),
        "cases": dict(cases),
        "requests": sum(statuses.values()),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "findings": findings,
        "errors": errors,
        "operations": len(list(schema.get_all_operations())),
        "fuzzed": dict(fuzzed),
    }


def judge(figures: dict[str, Any]) -> None:
    assert figures["errors"] == [], figures["errors"][:5]
    assert figures["server_errors"] == 0
    assert not [f for f in figures["findings"] if f["check"] in CONFORMANCE]
    assert figures["findings"] == [], figures["findings"][:5]


def run_apart(base: str, token: str, groups: dict[str, str], scan: Any) -> dict[str, Any]:
    """``run_schemathesis`` for each group of operations in a process of its own, all at once
    (the fuzzer is the busy side: two processes use both CPUs); the figures added up."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def one(label: str, paths: str) -> None:
        with scan.expecting_a_leak() as leaks:
            figures = run_schemathesis(base, token, paths=paths, scan=scan)
        figures["leaks"] = list(leaks)
        results.put((label, figures))

    processes = [context.Process(target=one, args=item) for item in groups.items()]
    for process in processes:
        process.start()
    found = dict(results.get(timeout=1800) for _ in processes)
    for process in processes:
        process.join(30)
    total: dict[str, Any] = {"seconds": max(f["seconds"] for f in found.values())}
    for figures in found.values():
        for key in ("requests", "server_errors", "operations"):
            total[key] = total.get(key, 0) + figures[key]
        for key in ("findings", "errors", "leaks"):
            total.setdefault(key, []).extend(figures[key])
        for key in ("cases", "fuzzed"):
            for name, count in figures[key].items():
                total.setdefault(key, {})[name] = total.get(key, {}).get(name, 0) + count
    scan.findings.extend(total.pop("leaks"))
    return total


GROUPS = {
    "cards and people": r"^/(cards|registrations|imports|processes)",
    "years and tasks": r"^/(enrollments|payments|people|tasks)",
}
"""The operations in two groups that keep each link inside its group (for the stateful phase)."""


def test_schemathesis_every_check_stateful_500_examples(
    served: tuple[str, str, Path], bench_report: Any, personal_data_scan: Any
) -> None:
    url, base, log_path = served
    started = time.monotonic()
    fuzzer = token_for(url, "fuzzer", MAIN_SCOPES)
    main = run_apart(base, fuzzer, GROUPS, personal_data_scan)
    for name in ("a-decoy", "b-decoy"):  # the list's first token is what a revoke link takes
        token_for(url, name, ["read"])
    admin_token = token_for(url, "z-admin", ["admin"])
    admin = run_schemathesis(base, admin_token, paths="^/admin", scan=personal_data_scan)
    main["log_lines"] = scan_log(log_path, personal_data_scan)
    for label, figures in (("main", main), ("admin", admin)):
        summary = {k: v for k, v in figures.items() if k not in ("findings", "errors")}
        summary["findings"] = len(figures["findings"])
        bench_report(f"schemathesis {label}", json.dumps(summary, sort_keys=True))
    bench_report("schemathesis total seconds", f"{time.monotonic() - started:.0f}")
    judge(main)
    judge(admin)
    # the admin operations: tokens (list, revoke), incidents (list, retry and resolve one, retry
    # and resolve by filter)
    assert main["operations"] >= 15 and admin["operations"] == 7
    assert main["cases"].get("stateful", 0) > 0  # the links were followed
    # every operation with inputs got its 500 examples (one without inputs has only one)
    for label, count in [*main["fuzzed"].items(), *admin["fuzzed"].items()]:
        assert count >= EXAMPLES or label in ONE_EXAMPLE, (label, count)


def hostile_bodies() -> list[tuple[str, bytes]]:
    return [
        ("deep", b"[" * 20_000 + b"]" * 20_000),
        ("surrogate", b'{"id_number": "\\ud800", "amount": "360", "event": "produce"}'),
        ("nul", b'{"id_number": "44060419900517021\\u0000", "name": "a\\u0000", "event": "x"}'),
        ("paid_at", b'{"id_number": "440604199005170211", "amount": "360", "paid_at": "x"}'),
        ("oversized", b'{"outlet": "' + b"x" * 2_000_000 + b'"}'),
    ]


def test_the_inputs_of_the_issue_answer_4xx_as_described_on_every_operation(
    served: tuple[str, str, Path], personal_data_scan: Any
) -> None:
    url, base, log_path = served
    token = token_for(url, "hostile", [*MAIN_SCOPES, "admin"])
    config = SchemathesisConfig.from_dict({"headers": {"Authorization": f"Bearer {token}"}})
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", config=config)
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.body is None or not list(operation.body):
            continue
        path = operation.path
        for name in ("card_id", "enrollment_id", "task_id"):
            path = path.replace("{" + name + "}", "1")
        for label, raw in hostile_bodies():
            for key in (None, "hostile-1"):
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                if key:
                    headers["Idempotency-Key"] = key
                answer = requests.request(
                    operation.method.upper(), f"{base}/api/v1{path}", data=raw, headers=headers
                )
                personal_data_scan.check(answer.text, f"response to {operation.label}")
                assert 400 <= answer.status_code < 500, (label, operation.label, answer.text[:200])
                assert answer.status_code in (400, 413, 422), (label, operation.label)
                case = operation.Case(
                    path_parameters={"card_id": 1, "enrollment_id": 1, "task_id": 1}
                    if "{" in operation.path
                    else None
                )
                case.validate_response(
                    answer,
                    checks=[
                        schemathesis.checks.not_a_server_error,
                        schemathesis.specs.openapi.checks.status_code_conformance,
                        schemathesis.specs.openapi.checks.content_type_conformance,
                        schemathesis.specs.openapi.checks.response_schema_conformance,
                    ],
                )
                checked += 1
    assert checked >= 8 * 5 * 2
    scan_log(log_path, personal_data_scan)
