"""Staff search and the person page.

The search box of every page posts its query (``POST /search``): an ID number travels in the
request body, never in a URL. The query is kept server-side (``web_search_query``) under an opaque
token tied to the login session, and the answer redirects to ``GET /search/results/<token>``
(post/redirect/get: Back shows the results again without posting the form again). Results are
the people, cards, years and open tasks the user may see (``web.pages.search_queries``), ID and card
numbers masked; each links to a page by instance id: ``/people/<id>`` (a person's cards, years,
payments, open tasks and histories on one screen) or ``/records/<id>`` (one card or year). Every
search and every person page opened is a security event (who, which kind of key, how many found;
never the query itself). A medical-insurance clerk of the person's region files a reduction claim
from the person page (``POST /people/<id>/reduction-claims``, ``web.pages.reduction_claims``):
the ID number is the record's, never the URL's.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Table, delete, insert, select

from engine.errors import WorkflowError
from web import i18n, security_log, sessions
from web.auth import Staff, abort_hidden, add_error_pages
from web.extensions import domain_of, engine_of
from web.log_masking import ID_LIKE
from web.models import SearchQuery
from web.pages import person_file as pf
from web.pages import reduction_claims as rc
from web.pages import search_queries as sq
from workflows import card_collection
from workflows.identity import mask_id_number
from workflows.service_date import service_today

bp = Blueprint("search", __name__)
add_error_pages(bp)


def _me() -> Staff:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _audit(kind: str, **detail: Any) -> None:
    security_log.record(
        engine_of().db,
        kind,
        actor=_me().username,
        remote_addr=request.remote_addr,
        at=sessions.security_now(),
        **detail,
    )


def shown_query(query: sq.Query) -> str:
    """The query as the page may repeat it: a card number masked whole, an ID number in any
    other kind of key masked."""
    if query.kind == "card_number":
        return mask_id_number(query.text)
    return ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), query.text)


def _page(status: int = 200, **context: Any) -> ResponseReturnValue:
    engine = engine_of()
    return (
        render_template(
            "search/results.html",
            processes=engine.processes,
            mask=mask_id_number,
            now=engine.clock.now(),
            sees_people=sq.sees_people(_me()),
            **context,
        ),
        status,
    )


@bp.get("/search")
def search_page() -> ResponseReturnValue:
    """The search page without a query (where a language switch after a search lands)."""
    return _page()


kept_queries: Table = SearchQuery.__table__  # type: ignore[assignment]
KEPT_PER_SESSION = 20
"""A login session's latest searches whose results pages still open (older ones: search again)."""


@bp.post("/search")
def search() -> ResponseReturnValue:
    """Classify the query and keep it server-side under an opaque token, then redirect to its
    results page (post/redirect/get: Back shows the results without posting the form again, and
    the query never goes into the URL). 400 for a query the search cannot take: empty, too
    long, control characters."""
    raw = request.form.get("q", "")
    try:
        query = sq.classify(raw, _today())
    except sq.BadQuery as exc:
        return _page(400, problem=i18n.t(exc.word))
    login = sessions.current()
    if login is None:  # not through a login session (cannot happen for staff pages): answer
        return _results(query)
    token = _keep(int(login.id), query.text)
    return redirect(url_for(".results", token=token), 303)


@bp.get("/search/results/<token>")
def results(token: str) -> ResponseReturnValue:
    """The results of a search this login session made (a token of another session, or one too
    old: 404 with the search box, as for an unknown one)."""
    login = sessions.current()
    text = _kept(int(login.id), token) if login is not None else None
    if text is None:
        return _page(404, problem=i18n.t("search_expired"))
    return _results(sq.classify(text, _today()))


def _today() -> date:
    """The service clock's date: what an ID number typed in the search box is born by."""
    return service_today(engine_of().clock.now())


def _keep(session_id: int, text: str) -> str:
    """Keep ``text`` for ``session_id`` under a new token; forget what no live session can use
    (the searches of ended sessions go at logout and login too: ``web.sessions``)."""
    token, now = secrets.token_urlsafe(24), sessions.security_now()
    table, c = kept_queries, kept_queries.c
    with engine_of().db.begin() as conn:
        conn.execute(delete(table).where(c.created_at < now - sessions.limits().max_age))
        sessions.forget_ended_searches(conn, now, sessions.limits())
        newest = (
            select(c.id)
            .where(c.session_id == session_id)
            .order_by(c.id.desc())
            .limit(KEPT_PER_SESSION - 1)
        )
        conn.execute(
            delete(table).where(c.session_id == session_id, c.id.not_in(newest.scalar_subquery()))
        )
        conn.execute(
            insert(table).values(token=token, session_id=session_id, query=text, created_at=now)
        )
    return token


def _kept(session_id: int, token: str) -> str | None:
    """The query kept under ``token`` for ``session_id`` (None: unknown, another's, too old)."""
    c = kept_queries.c
    since = sessions.security_now() - sessions.limits().max_age
    with engine_of().db.connect() as conn:
        found = conn.execute(
            select(c.query).where(
                c.token == token[:64], c.session_id == session_id, c.created_at >= since
            )
        ).scalar_one_or_none()
    return None if found is None else str(found)


def _results(query: sq.Query) -> ResponseReturnValue:
    """Find what the user may see for ``query``, record the search, render the results."""
    found = sq.search(engine_of().db, domain_of().regions, _me(), query)
    _audit(
        "staff_search",
        key=query.kind,
        people=len(found.people),
        cards=len(found.cards),
        enrollments=len(found.enrollments),
        tasks=len(found.tasks),
    )
    refill = query.text if query.kind == "name" else ""  # never an ID number back into a form
    return _page(found=found, shown=shown_query(query), search_text=refill)


@bp.get("/people/<int:person_id>")
def person(person_id: int) -> ResponseReturnValue:
    """A person's record, cards, years with payments, open tasks and histories."""
    return _person_page(person_id)


def _person_page(
    person_id: int, status: int = 200, claim: dict[str, str] | None = None
) -> ResponseReturnValue:
    """The person page; ``claim``: a refused reduction claim's typed values, shown again."""
    engine = engine_of()
    try:
        found = pf.person_file(
            engine.db,
            domain_of().regions,
            _me(),
            person_id,
            enrollment=engine.definition(sq.ENROLLMENT),
            now=engine.clock.now(),
        )
    except pf.NotAllowed:
        abort_hidden()
    if found is None:
        abort(404)
    if status == 200:
        _audit("person_viewed", instance_id=person_id)
    definition = engine.definition(found.person["process"], found.person["definition_version"])
    offered, closed = rc.offer(domain_of(), _me(), found.person, definition)
    return (
        render_template(
            "search/person.html",
            file=found,
            processes=engine.processes,
            definition_of=engine.definition,
            mask=mask_id_number,
            now=engine.clock.now(),
            claim_categories=offered,
            claim_closed=closed,
            claim=claim or {},
        ),
        status,
    )


@bp.post("/people/<int:person_id>/reduction-claims")
def claim_reduction_view(person_id: int) -> ResponseReturnValue:
    """File a reduction claim for the person at the counter (``claim_reduction``, as the API):
    a refusal answers 422 on the person page in words, the typed values kept, nothing changed."""
    engine, user = engine_of(), _me()
    try:
        row = pf.record(engine.db, user, person_id) if sq.sees_people(user) else None
    except pf.NotAllowed:
        abort_hidden()
    if row is None or row["process"] != sq.PERSON:
        abort(404)
    variables = row["variables"] or {}
    if not rc.may_claim(user, variables):
        abort(403)
    typed = {k: request.form.get(k, "") for k in ("category", "evidence")}
    try:
        rc.claim(engine, domain_of(), user, variables, typed["category"], typed["evidence"])
    except WorkflowError as exc:
        flash(i18n.message(exc.message_zh, exc.message_en), "error")
        return _person_page(person_id, 422, typed)
    flash(i18n.t("claim_filed"), "success")
    return redirect(url_for(".person", person_id=person_id), 303)


@bp.get("/records/<int:instance_id>")
def record(instance_id: int) -> ResponseReturnValue:
    """One card, year or review; a person's record is the person page."""
    engine, user = engine_of(), _me()
    try:
        row = pf.record(engine.db, user, instance_id)
    except pf.NotAllowed:
        abort_hidden()
    if row is None:
        abort(404)
    if row["process"] == sq.PERSON and sq.sees_people(user):
        return redirect(url_for(".person", person_id=instance_id))
    person_id = _person_of(row) if sq.sees_people(user) else None
    _audit("record_viewed", instance_id=instance_id, process=row["process"])
    definition = engine.definition(row["process"], row["definition_version"])
    return render_template(
        "search/record.html",
        row=row,
        definition=definition,
        collection_place=card_collection.collection_place(
            definition, domain_of().regions, row["state"], row["variables"] or {}
        ),
        history=row["history"],
        person_id=person_id,
        processes=engine.processes,
        mask=mask_id_number,
        now=engine.clock.now(),
    )


def _person_of(row: dict[str, Any]) -> int | None:
    """The id of the person record of the instance's ID number, if there is one."""
    number = (row["variables"] or {}).get("id_number")
    if not number:
        return None
    with engine_of().db.connect() as conn:
        people = [r for r in sq.by_keys(conn, [str(number)]) if r["process"] == sq.PERSON]
    return people[-1]["id"] if people else None
