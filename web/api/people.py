"""API endpoints for people: registration (参保登记), a person's record, a reduction claimed
after registering, and the batch import of a province's existing people and cards."""

from __future__ import annotations

from typing import Any

from flask import request

from engine import interventions, queries
from web import security_log
from web.api.answer_models import ImportReportOut, PersonOut, Registered, TransitionOut
from web.api.common import (
    answer,
    as_id,
    bp,
    caller,
    idempotency,
    int_param,
    not_found,
    person_number,
    run,
    send_to_instance_of,
    transition_out,
)
from web.api.model_types import Label
from web.api.request_models import (
    EventRequest,
    PeopleImport,
    ReductionClaimRequest,
    RegistrationRequest,
)
from web.api.spec import endpoint
from web.extensions import domain_of, engine_of
from workflows.identity import mask_id_number
from workflows.imports import import_people
from workflows.people import PERSON, Registration, register_person
from workflows.reductions import claim_reduction

IMPORT_BODY = 1024 * 1024
"""A batch of up to 1,000 people fits (the other endpoints take 64 KiB)."""


def _person_out(person_id: int) -> PersonOut:
    engine = engine_of()
    row = queries.instance(engine.db, person_id)
    if row is None or row["process"] != PERSON:
        raise not_found("registration", person_id)
    definition = engine.definition(PERSON, row["definition_version"])
    label = interventions.label_of(definition, row["state"])
    tasks = queries.tasks_of(engine.db, person_id, "open")
    return PersonOut(
        id=row["id"],
        state=row["state"],
        state_label=Label(zh=label.zh, en=label.en),
        id_number_masked=mask_id_number(str(row["variables"].get("id_number", ""))),
        region=row["variables"].get("region"),
        open_tasks=[t["name"] for t in tasks],
    )


@endpoint(
    bp,
    "POST",
    "/registrations",
    summary="Register a person with no record (参保登记); a clerk checks the documents",
    scopes=("channel",),
    body=RegistrationRequest,
    response=Registered,
    status=201,
    links={
        "GetRegistration": ("get_registration", {"person_id": "$response.body#/person/id"}),
    },
)
def register(body: RegistrationRequest) -> Any:
    who = caller()
    person_number(body.id_number)  # 422 as at every endpoint, before the rules
    person = Registration(
        id_number=body.id_number,
        name=body.name,
        region=body.region,
        residence=body.residence,
        household=body.household,
        reduction_categories=tuple(body.reduction_categories),
        flags=tuple(body.flags),
    )
    done = run(
        lambda: register_person(
            engine_of(), domain_of(), person, actor=f"api:{who.name}", idempotency=idempotency(who)
        )
    )
    return answer(
        Registered(transition=transition_out(done), person=_person_out(done.instance_id)), 201
    )


@endpoint(
    bp,
    "GET",
    "/registrations/{person_id}",
    summary="A person's record: in review, insured, rejected",
    scopes=("channel", "read"),
    response=PersonOut,
    parameters=(int_param("person_id"),),
)
def get_registration(person_id: str) -> Any:
    return answer(_person_out(as_id(person_id, "registration")))


@endpoint(
    bp,
    "POST",
    "/registrations/{person_id}/events",
    summary="Send an event to a person's record (leaving the scheme: moved away, employee "
    "insurance)",
    scopes=("channel",),
    body=EventRequest,
    response=TransitionOut,
    parameters=(int_param("person_id"),),
)
def registration_event(person_id: str, body: EventRequest) -> Any:
    ident = as_id(person_id, "registration")
    return send_to_instance_of(PERSON, ident, body, what="registration")


@endpoint(
    bp,
    "POST",
    "/people/reduction-claims",
    summary="An insured person claims a reduction category (资助参保) after registering; a clerk "
    "checks the certificate. The ID number in the body, never in the URL",
    scopes=("channel",),
    body=ReductionClaimRequest,
    response=Registered,
    status=201,
    links={
        "GetRegistration": ("get_registration", {"person_id": "$response.body#/person/id"}),
    },
)
def claim_reduction_of_person(body: ReductionClaimRequest) -> Any:
    who = caller()
    person_number(body.id_number)  # 422 as at every endpoint, before the rules
    done = run(
        lambda: claim_reduction(
            engine_of(),
            domain_of(),
            body.id_number,
            body.category,
            body.evidence,
            actor=f"api:{who.name}",
            idempotency=idempotency(who),
        )
    )
    return answer(
        Registered(transition=transition_out(done), person=_person_out(done.instance_id)), 201
    )


@endpoint(
    bp,
    "POST",
    "/imports/people",
    summary="Bring in existing people and their cards (idempotent; rejected rows listed)",
    scopes=("import",),
    body=PeopleImport,
    response=ImportReportOut,
    max_body=IMPORT_BODY,
)
def import_people_batch(body: PeopleImport) -> Any:
    who = caller()
    rows = [(i, row.model_dump(exclude_none=True)) for i, row in enumerate(body.rows, start=1)]
    report = run(lambda: import_people(engine_of(), domain_of(), rows, actor=f"api:{who.name}"))
    out = ImportReportOut.model_validate(report.as_dict())
    security_log.record(
        engine_of().db,
        "import",
        actor=f"api:{who.name}",
        remote_addr=request.remote_addr,
        what="people",
        rows=len(rows),
        applied=out.applied,
        unchanged=out.unchanged,
        rejected=len(out.rejected),
        reviews_opened=out.reviews_opened,
    )
    return answer(out)
