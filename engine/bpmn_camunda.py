"""The Camunda 7 dialect of the export (``--dialect camunda7``): what Camunda Modeler and Camunda
Platform 7 read, so the file opens as a Camunda 7 diagram with nothing to fix.

Owns the Camunda attributes: ``modeler:executionPlatform`` and its version on the definitions,
``camunda:historyTimeToLive`` on the process, and on each user task ``camunda:candidateGroups``,
``camunda:dueDate`` (a JUEL date expression built from the task's ``due`` duration) and
``camunda:formData`` (the task's fields, plus an ``outcome`` enum when the task ends in several
ways). Conditions are JUEL (``engine.bpmn_expr``). Reading ``camunda:dueDate`` back is here too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from engine.durations import Duration, parse_duration
from engine.specs import EventSpec, FormField, TaskSpec

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
MODELER = "http://camunda.org/schema/modeler/1.0"
PLATFORM = "Camunda Platform"
PLATFORM_VERSION = "7.21.0"
HISTORY_TIME_TO_LIVE = "P3650D"
"""How long Camunda keeps a finished instance's history (ten years: our own history table is the
record of what happened; this is the copy in Camunda's history service)."""
ET.register_namespace("camunda", CAMUNDA)
ET.register_namespace("modeler", MODELER)

_ISO = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_DUE = re.compile(r"^\$\{dateTime\(\)((?:\.plus[A-Z][a-z]+\(\d+\))+)\.toDate\(\)\}$")
_PLUS = re.compile(r"\.plus([A-Z][a-z]+)\((\d+)\)")
_FIELD_TYPES = {
    "text": "string",
    "choice": "enum",
    "boolean": "boolean",
    "amount": "string",
    "integer": "long",
    "date": "date",
    "datetime": "date",
    "reference": "long",
    "id_number": "string",
}
_DATE_PATTERNS = {"date": "yyyy-MM-dd", "datetime": "yyyy-MM-dd'T'HH:mm:ssXXX"}


def c(name: str) -> str:
    return f"{{{CAMUNDA}}}{name}"


def m(name: str) -> str:
    return f"{{{MODELER}}}{name}"


def definitions_attrs() -> dict[str, str]:
    return {m("executionPlatform"): PLATFORM, m("executionPlatformVersion"): PLATFORM_VERSION}


def process_attrs(history_ttl: Duration | None = None) -> dict[str, str]:
    """The process's ``historyTimeToLive``: its definition's ``history_ttl`` in days, else ten
    years."""
    days = f"P{history_ttl.delta.days}D" if history_ttl is not None else HISTORY_TIME_TO_LIVE
    return {c("historyTimeToLive"): days}


def due_date(due: Duration) -> str:
    """``P1Y2M10DT2H`` -> ``${dateTime().plusYears(1).plusMonths(2).plusDays(10).plusHours(2)
    .toDate()}`` (Joda-Time, as Camunda's ``dateTime()`` returns)."""
    found = _ISO.match(due.text)
    assert found, due.text
    names = ("Years", "Months", "Weeks", "Days", "Hours", "Minutes", "Seconds")
    calls = "".join(f".plus{n}({v})" for n, v in zip(names, found.groups(), strict=True) if v)
    return "${dateTime()" + calls + ".toDate()}"


def parse_due_date(text: str) -> Duration:
    """A ``camunda:dueDate`` written by ``due_date`` (or an ISO 8601 duration), as a duration.

    Raises:
        ValueError: neither.
    """
    found = _DUE.match(text.strip())
    if not found:
        return parse_duration(text)
    parts = dict((unit, int(n)) for unit, n in _PLUS.findall(found.group(1)))
    date = "".join(
        f"{parts[n]}{s}" for n, s in (("Years", "Y"), ("Months", "M"), ("Weeks", "W")) if n in parts
    )
    date += f"{parts['Days']}D" if "Days" in parts else ""
    time = "".join(
        f"{parts[n]}{s}"
        for n, s in (("Hours", "H"), ("Minutes", "M"), ("Seconds", "S"))
        if n in parts
    )
    return parse_duration("P" + date + (f"T{time}" if time else ""))


def task_attrs(task: TaskSpec, policy_due: str | None = None) -> dict[str, str]:
    """A user task's ``candidateGroups`` and ``dueDate``: its own duration, or the policy's value
    its ``due_policy`` names (``policy_due``: a duration, or an instant written as it is), when the
    export was given a policy."""
    attrs = {c("candidateGroups"): task.candidate_group}
    if task.due is not None:
        attrs[c("dueDate")] = due_date(task.due)
    elif policy_due:
        try:
            attrs[c("dueDate")] = due_date(parse_duration(policy_due))
        except ValueError:  # a date of the policy: the same instant for every task
            attrs[c("dueDate")] = policy_due
    return attrs


def form_data(
    parent: ET.Element, task: TaskSpec, outcomes: list[EventSpec], lang: str
) -> ET.Element:
    """``camunda:formData`` of a user task: an ``outcome`` choice when it ends in several ways,
    then its form fields with Camunda's types (an amount or an ID number as a string)."""
    form = ET.SubElement(parent, c("formData"))
    if len(outcomes) > 1:
        field = ET.SubElement(
            form,
            c("formField"),
            {"id": "outcome", "label": "办理结果" if lang == "zh" else "Outcome", "type": "enum"},
        )
        _required(field)
        for event in outcomes:
            ET.SubElement(field, c("value"), {"id": event.name, "name": event.label.get(lang)})
    for f in task.form:
        _form_field(form, f, lang)
    return form


def _form_field(form: ET.Element, f: FormField, lang: str) -> None:
    attrs = {"id": f.name, "label": f.label.get(lang), "type": _FIELD_TYPES.get(f.type, "string")}
    if f.type in _DATE_PATTERNS:
        attrs["datePattern"] = _DATE_PATTERNS[f.type]
    field = ET.SubElement(form, c("formField"), attrs)
    if f.required:
        _required(field)
    for value, label in f.options:
        ET.SubElement(field, c("value"), {"id": value, "name": label.get(lang)})


def _required(field: ET.Element) -> None:
    validation = ET.SubElement(field, c("validation"))
    ET.SubElement(validation, c("constraint"), {"name": "required"})
