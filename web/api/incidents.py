"""API endpoints for incidents (scope ``admin``): list them, retry the failed step once its cause
is fixed, or resolve them without running the step again (``engine.incidents``)."""

from __future__ import annotations

from typing import Any

from flask import request

from engine import field_words
from engine.incidents import list_incidents, resolve_incident, retry_incident
from web.api.answer_models import IncidentList, IncidentOut
from web.api.common import answer, as_id, bp, caller, int_param, run
from web.api.query_args import refused
from web.api.spec import endpoint
from web.extensions import engine_of

_STATUSES = ("open", "closed")


@endpoint(
    bp,
    "GET",
    "/admin/incidents",
    summary="Incidents, newest first: open ones unless `status=closed`; `process` narrows them",
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
            "name": "process",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,63}$"},
        },
    ),
)
def admin_incidents() -> Any:
    status = request.args.get("status", "open")
    process = request.args.get("process")
    if status not in _STATUSES:
        raise refused([("status", field_words.one_of(["open", "closed"], ["open", "closed"]))])
    if process is not None and process not in engine_of().processes:
        raise refused([("process", field_words.FieldWords("未知流程", "no such process"))])
    rows = list_incidents(engine_of(), status=status, process=process)
    return answer(IncidentList(incidents=[IncidentOut(**r.as_dict()) for r in rows]))


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
    return answer(IncidentOut(**done.as_dict()))


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
    return answer(IncidentOut(**done.as_dict()))
