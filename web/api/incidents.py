"""API endpoints for incidents (scope ``admin``): list them (narrowed by status, kind and
process, as ``shebao incidents list`` and the supervisors' page narrow them), retry the failed
step once its cause is fixed, or resolve them without running the step again
(``engine.incidents``): one at a time, or every open one a filter selects (``POST
/admin/incidents/retry|resolve``, after a receiver's outage), through the same statements, so
each step is put back once. Each incident carries its step and a notice's error in words
(``web.incident_words``) beside the keys."""

from __future__ import annotations

from typing import Any, Literal

from flask import request
from pydantic import Field

from engine import field_words
from engine.incidents import (
    KINDS,
    IncidentRow,
    Matching,
    list_incidents,
    resolve_incident,
    resolve_incidents,
    retry_incident,
    retry_incidents,
)
from web.api.answer_models import IncidentList, IncidentOut, IncidentsClosed
from web.api.common import answer, as_id, bp, caller, int_param, run
from web.api.errors import ApiError
from web.api.model_types import Code, Label, StrictModel
from web.api.query_args import refused
from web.api.spec import endpoint
from web.extensions import engine_of
from web.incident_words import error_label, step_label

_STATUSES = ("open", "closed")


class IncidentSelection(StrictModel):
    """Which open incidents a bulk retry or resolve takes: every one the fields given select
    (all of them with an empty body)."""

    kind: Literal["timer", "notice"] | None = None
    process: Code | None = None
    step: Code | None = Field(
        default=None, description="a timer's event or a notice's kind (`collection_reminder`)"
    )
    up_to: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="only incidents with an id up to this one (those a listing showed, not "
        "those opened since)",
    )


def incident_out(row: IncidentRow) -> IncidentOut:
    """An incident as the API answers it: its keys, and its step and error in words."""
    step = step_label(engine_of().processes, row)
    failure = error_label(row)
    return IncidentOut(
        **row.as_dict(),
        step_label=Label(zh=step.zh, en=step.en),
        error_label=Label(zh=failure.zh, en=failure.en) if failure else None,
    )


@endpoint(
    bp,
    "GET",
    "/admin/incidents",
    summary="Incidents, newest first: open ones unless `status=closed`; `kind` (`timer` or "
    "`notice`) and `process` narrow them",
    scopes=("admin",),
    response=IncidentList,
    links={
        "RetryIncident": ("admin_retry_incident", {"incident_id": "$response.body#/incidents/0/id"})
    },
    parameters=(
        {
            "name": "status",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(_STATUSES)},
        },
        {
            "name": "kind",
            "in": "query",
            "required": False,
            "description": "only the timers' incidents or only the notices' (the outbox's)",
            "schema": {"type": "string", "enum": list(KINDS)},
        },
        {
            "name": "process",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,63}$"},
        },
    ),
)
def admin_incidents() -> Any:
    status = request.args.get("status", "open")
    kind = request.args.get("kind")
    process = request.args.get("process")
    problems = []
    if status not in _STATUSES:
        problems.append(("status", field_words.one_of(_STATUSES, _STATUSES)))
    if kind is not None and kind not in KINDS:
        problems.append(("kind", field_words.one_of(KINDS, KINDS)))
    if problems:
        raise refused(problems)
    if process is not None and process not in engine_of().processes:
        raise _unknown_process()
    rows = list_incidents(engine_of(), status=status, process=process, matching=Matching(kind=kind))
    return answer(IncidentList(incidents=[incident_out(r) for r in rows]))


@endpoint(
    bp,
    "POST",
    "/admin/incidents/{incident_id}/retry",
    summary="Put the failed step back: it runs again at the scheduler's next sweep",
    scopes=("admin",),
    response=IncidentOut,
    parameters=(int_param("incident_id"),),
    idempotent=False,
)
def admin_retry_incident(incident_id: str) -> Any:
    ident = as_id(incident_id, "incident")
    done = run(lambda: retry_incident(engine_of(), ident, actor=f"api:{caller().name}"))
    return answer(incident_out(done))


@endpoint(
    bp,
    "POST",
    "/admin/incidents/{incident_id}/resolve",
    summary="Close the incident without running the step again",
    scopes=("admin",),
    response=IncidentOut,
    parameters=(int_param("incident_id"),),
    idempotent=False,
)
def admin_resolve_incident(incident_id: str) -> Any:
    ident = as_id(incident_id, "incident")
    done = run(lambda: resolve_incident(engine_of(), ident, actor=f"api:{caller().name}"))
    return answer(incident_out(done))


def _unknown_process() -> ApiError:
    """A well-formed process name the service does not run: a rule's refusal (which processes
    exist is the deployment's, not the request's shape), 422 ``unknown_process`` naming the
    field and the processes there are."""
    known = ", ".join(sorted(engine_of().processes))
    words = field_words.FieldWords(
        f"未知流程（可选：{known}）", f"no such process (one of: {known})"
    )
    return ApiError(
        422,
        "unknown_process",
        f"process：{words.zh}",
        f"process: {words.en}",
        details=[{"field": "process", "message_zh": words.zh, "message_en": words.en}],
    )


def _bulk(body: IncidentSelection, retry: bool) -> Any:
    if body.process is not None and body.process not in engine_of().processes:
        raise _unknown_process()
    matching = Matching(kind=body.kind, process=body.process, step=body.step, up_to=body.up_to)
    work = retry_incidents if retry else resolve_incidents
    closed = work(engine_of(), matching, actor=f"api:{caller().name}")
    return answer(
        IncidentsClosed(closed=closed.count, by_kind=closed.by_kind, ids=list(closed.ids))  # type: ignore[arg-type]
    )


@endpoint(
    bp,
    "POST",
    "/admin/incidents/retry",
    summary="Put back the failed step of every open incident the body selects (after a "
    'receiver\'s outage: `{"kind": "notice"}`); each runs again once, at the next sweep',
    scopes=("admin",),
    body=IncidentSelection,
    response=IncidentsClosed,
    idempotent=False,
)
def admin_retry_incidents(body: IncidentSelection) -> Any:
    return _bulk(body, retry=True)


@endpoint(
    bp,
    "POST",
    "/admin/incidents/resolve",
    summary="Close every open incident the body selects without running its step again",
    scopes=("admin",),
    body=IncidentSelection,
    response=IncidentsClosed,
    idempotent=False,
)
def admin_resolve_incidents(body: IncidentSelection) -> Any:
    return _bulk(body, retry=False)
