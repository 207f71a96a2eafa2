"""A resident ID number typed at a task or sent with an event (a clerk's note, a cancellation's
reason, the ID presented at an activation) is kept in the history masked, so the archive that
``shebao history cleanup --archive`` writes when the history's time is up carries it masked too:
through the doors alone.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from tests.journeys.conftest import Journey
from workflows.identity import mask_id_number

PERSON = "440604198003030050"
OTHER = "44060419750707006X"
"""Somebody else's number, quoted in free text (the clerk checked their employee insurance)."""

ELEVEN_YEARS_ON = "2032-11-01T10:00:00+08:00"


def _archived(j: Journey, process: str) -> tuple[str, list[dict[str, Any]]]:
    """Run the cleanup with an archive: the archive file's text and its instances."""
    out = j.tmp / "archive"
    done = j.cli("history", "cleanup", "--archive", str(out))
    assert '"archived": 1' in done.output, done.output
    [path] = [p for p in Path(out).iterdir() if f"-{process}-" in p.name]
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    return text, [json.loads(line) for line in text.splitlines()]


def test_a_clerks_note_quoting_an_id_number_is_archived_masked(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-10-15T10:00:00+08:00")
    j.token("counter", "channel")
    clerk = j.staff("mi_foshan", "medical_insurance_clerk", "foshan")
    j.cli("import", "people", j.file("p.csv", f"id_number,name,region\n{PERSON},陈明,foshan\n"))
    j.api("POST", "/payments", "counter", {"id_number": PERSON, "amount": "320.00"}, expect=200)
    year = j.years(PERSON)["foshan-2022"]["enrollment_id"]
    request = {"employee_insurance_elsewhere": True, "benefits_used": False}
    body = {"event": "request_refund", "data": request}
    j.api("POST", f"/enrollments/{year}/events", "counter", body, expect=200)
    [task] = clerk.task_ids()
    note = f"已核对{OTHER}的职工医保参保记录"
    assert clerk.complete(task, "approve_refund", note=note).status_code == 302
    assert j.years(PERSON)["foshan-2022"]["state"] == "refunded"

    j.at(ELEVEN_YEARS_ON)
    text, [item] = _archived(j, "enrollment")
    assert item["id"] == year
    assert OTHER not in text
    [approved] = [h for h in item["history"] if h["event"] == "approve_refund"]
    assert approved["data"]["note"] == f"已核对{mask_id_number(OTHER)}的职工医保参保记录"


def test_a_cards_reason_and_presented_id_are_archived_masked(journey_factory: Any) -> None:
    j: Journey = journey_factory("2021-06-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("cmb", "bank:cmb")
    card, activate = j.card_at_activation(PERSON, channel="counter", factory="factory", bank="cmb")
    done = {"outcome": "activate", "data": {"presented_id_number": PERSON}}
    j.api("POST", f"/tasks/{activate}/complete", "cmb", done, expect=200)
    reason = {"reason": f"误用{OTHER}的材料申领"}
    j.api(
        "POST",
        f"/cards/{card}/events",
        "counter",
        {"event": "cancel", "data": reason},
        expect=200,
    )
    [close] = j.api("GET", "/tasks", "cmb", expect=200)["tasks"]
    j.api("POST", f"/tasks/{close['id']}/complete", "cmb", {}, expect=200)
    assert j.card(card)["state"] == "bank_account_closed"

    j.at(ELEVEN_YEARS_ON)
    text, [item] = _archived(j, "card")
    assert item["id"] == card and OTHER not in text
    steps = {h["event"]: h["data"] for h in item["history"]}
    assert PERSON not in json.dumps(item["history"], ensure_ascii=False)
    assert steps["activate"] == {"presented_id_number": mask_id_number(PERSON)}
    assert steps["cancel"] == {"reason": f"误用{mask_id_number(OTHER)}的材料申领"}
