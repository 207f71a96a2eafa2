"""The supervisors' incidents page (``/processes/incidents``, added by ``add_to`` to the process
pages' blueprint, behind its supervisors-only check): the open (or closed) incidents, newest first, narrowed by kind
and process, each step and notice error in words (``web.incident_words``), with Retry and Resolve
per incident and for all of them at once.

"All at once" takes every open incident of the filter shown that existed when the page was
rendered (ids up to the newest one it counted: not one opened since), older ones past the page's
200 rows included: after a receiver's outage the supervisor fixes the receiver and retries the
thousands of notices in one action. It runs ``engine.incidents.retry_incidents`` (or
``resolve_incidents``, which asks for a ticked confirmation), the statements of a single retry, so
each step is put back once; every incident records the supervisor as a single retry does.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from engine import incidents
from engine.errors import IncidentNotFound, IncidentNotOpen
from engine.incidents import IncidentRow, Matching
from web import i18n
from web.extensions import engine_of
from web.incident_words import error_label, step_label

log = logging.getLogger(__name__)

SHOWN = 200
"""Incidents a page lists (the count above it says how many match)."""


def add_to(bp: Blueprint) -> None:
    """Add the incident pages to ``bp`` (endpoints ``<bp>.incident_list``, ...), and to its
    templates the incident words (the instance page lists an instance's incidents too)."""
    bp.context_processor(_incident_words)
    bp.add_url_rule("/incidents", view_func=incident_list, methods=["GET"])
    bp.add_url_rule(
        "/incidents/<int:incident_id>/retry", view_func=incident_retry, methods=["POST"]
    )
    bp.add_url_rule(
        "/incidents/<int:incident_id>/resolve", view_func=incident_resolve, methods=["POST"]
    )
    bp.add_url_rule("/incidents/retry", view_func=incidents_retry_all, methods=["POST"])
    bp.add_url_rule("/incidents/resolve", view_func=incidents_resolve_all, methods=["POST"])


def _incident_words() -> dict[str, Any]:
    return {"incident_step": incident_step, "incident_failure": incident_failure}


def incident_step(incident: IncidentRow) -> str:
    """The incident's step in the page's language."""
    return step_label(engine_of().processes, incident).get(i18n.current_lang())


def incident_failure(incident: IncidentRow) -> str | None:
    """What a notice incident's error means, in the page's language (None: no sentence)."""
    label = error_label(incident)
    return label.get(i18n.current_lang()) if label else None


def _matching(args: MultiDict[str, str]) -> Matching:
    """The filter a request names (``kind``, ``process``; empty: all); 400 for an unknown one."""
    kind = args.get("kind", "")
    process = args.get("process", "")
    if kind not in ("", *incidents.KINDS) or (process and process not in engine_of().processes):
        abort(400)
    return Matching(kind=kind or None, process=process or None)


def incident_list() -> ResponseReturnValue:
    """Open incidents (``?status=closed``: the closed ones), newest first, with Retry/Resolve."""
    status = "closed" if request.args.get("status") == "closed" else "open"
    engine = engine_of()
    matching = _matching(request.args)
    rows = incidents.list_incidents(engine, status=status, matching=matching, limit=SHOWN)
    return render_template(
        "processes/incidents.html",
        incidents=rows,
        total=incidents.count_incidents(engine, matching, status) if rows else 0,
        up_to=max((row.id for row in rows), default=None),
        matching=matching,
        kinds=incidents.KINDS,
        status=status,
        processes=engine.processes,
    )


def incident_retry(incident_id: int) -> ResponseReturnValue:
    """Put the incident's step back (it runs at the scheduler's next sweep)."""
    return incident_action(incident_id, "retry")


def incident_resolve(incident_id: int) -> ResponseReturnValue:
    """Close the incident without running its step again."""
    return incident_action(incident_id, "resolve")


def incident_action(incident_id: int, action: str) -> ResponseReturnValue:
    """Retry the incident's step or resolve it; the supervisor's name is recorded."""
    engine, who = engine_of(), f"staff:{current_user.username}"
    work = incidents.retry_incident if action == "retry" else incidents.resolve_incident
    try:
        work(engine, incident_id, who)
    except IncidentNotFound:
        abort(404)
    except IncidentNotOpen as exc:  # someone else was faster
        flash(i18n.message(exc.message_zh, exc.message_en), "error")
        return redirect(url_for(".incident_list"), 303)
    flash(i18n.t(f"incident_{action}"), "success")
    return redirect(url_for(".incident_list"), 303)


def incidents_retry_all() -> ResponseReturnValue:
    """Retry every open incident of the filter the page showed (see the module)."""
    return incidents_bulk("retry")


def incidents_resolve_all() -> ResponseReturnValue:
    """Resolve every open incident of the filter the page showed, once confirmed."""
    return incidents_bulk("resolve")


def incidents_bulk(action: str) -> ResponseReturnValue:
    """Close the incidents a bulk form names: its filter, up to the newest id the page counted."""
    matching = _matching(request.form)
    up_to = request.form.get("up_to", "")
    if not up_to.isdigit() or not 0 < int(up_to) < 2**63:
        abort(400)
    back = redirect(url_for(".incident_list", kind=matching.kind, process=matching.process), 303)
    if action == "resolve" and request.form.get("confirm") != "1":
        flash(i18n.t("incidents_confirm_needed"), "error")
        return back
    selected = Matching(kind=matching.kind, process=matching.process, up_to=int(up_to))
    work = incidents.retry_incidents if action == "retry" else incidents.resolve_incidents
    who = f"staff:{current_user.username}"
    closed = work(engine_of(), selected, who)
    log.info(
        "incidents: %s of %d by %s (kind=%s, process=%s, up to #%s)",
        action,
        closed.count,
        who,
        matching.kind or "any",
        matching.process or "any",
        up_to,
    )
    if not closed.count:
        flash(i18n.t("incidents_none_matched"), "error")
        return back
    words = i18n.t("incidents_retried" if action == "retry" else "incidents_resolved")
    flash(words.format(count=closed.count, **closed.by_kind), "success")
    return back
