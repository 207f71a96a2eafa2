"""The supervisors' process pages: diagrams with live counts, instances, overdue work (and the
incidents, ``web.pages.process_incidents``, on this blueprint).

Every page here is for supervisors only (403 for anyone else). A process page shows the definition
as an SVG with live counts per state and per flow, coloured by load (``engine.diagram_live``); a
state lists its instances a page at a time; an instance shows its path, history, open tasks and
timers. Instances a supervisor cancelled sit in the engine's reserved state (``CANCELLED``, in no
definition, so not drawn): the process page counts them in a row and a note of their own, and
their state lists them like any other. The diagrams' figures, a state's instances and the overdue work are read from the read
replica when one is configured (``web.replica``); an instance and the incidents from the primary.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup

from engine import (
    deployments,
    diagram,
    diagram_heat,
    diagram_live,
    incidents,
    queries,
    retention,
)
from engine.definition import ProcessDefinition
from engine.errors import UnknownProcess
from engine.outbox_queries import list_notices
from engine.process_counts import ProcessCounts, process_counts
from engine.runtime import Engine
from engine.specs import CANCELLED
from web import i18n
from web.auth import add_error_pages
from web.extensions import engine_of
from web.notices import notice_text
from web.pages import inbox_queries as iq
from web.pages import process_incidents
from web.pages import process_queries as pq
from web.pages.instance_actions import instance_context
from web.replica import read_db

bp = Blueprint("processes", __name__, url_prefix="/processes")
add_error_pages(bp)
process_incidents.add_to(bp)
log = logging.getLogger(__name__)


def inline_svg(svg: bytes) -> Markup:
    """An SVG document as markup to put inside a page (without its XML prologue)."""
    text = svg.decode("utf-8")
    # Graphviz titles each node and edge with its id (a tooltip, read out by screen readers):
    # internal names such as ``state_applied->state_produced``, not words for staff
    text = re.sub(r"<title>[^<]*</title>", "", text[text.find("<svg") :])
    return Markup(text)  # noqa: S704 - Graphviz output, labels escaped by it


def committed_svg(definition: ProcessDefinition, lang: str) -> Markup | None:
    """The committed static diagram under ``diagrams/`` (or a fresh render), None if neither."""
    from web.config import PROJECT_ROOT

    try:
        return inline_svg(diagram.svg_or_committed(definition, lang, PROJECT_ROOT / "diagrams"))
    except (diagram.GraphvizMissing, RuntimeError, OSError):
        return None


def instance_svg(engine: Engine, instance: dict[str, Any], lang: str) -> Markup | None:
    """One instance's path through its process, the current state highlighted."""
    definition = engine.definition(instance["process"], instance["definition_version"])
    try:
        return inline_svg(
            diagram.path_svg(definition, queries.history(engine.db, instance["id"]), lang)
        )
    except (diagram.GraphvizMissing, RuntimeError) as exc:
        log.warning("instance diagram unavailable: %s", exc)
        return committed_svg(definition, lang)


def live_counts(
    engine: Engine, definition: ProcessDefinition, since: timedelta | None = None
) -> tuple[ProcessCounts, dict[str, int]]:
    """Instances per state now (as the API's counts and ``shebao stats`` give them), and
    transitions per flow since the start (an index-only count, the figures the diagram bench
    measures) or over the last ``since``."""
    start = engine.clock.now() - since if since is not None else None
    db = read_db()
    return process_counts(db, definition), diagram_live.flow_counts(db, definition, start)


def open_incidents(engine: Engine, definition: ProcessDefinition) -> dict[str, int]:
    """Open incidents of the process per state (the diagrams' trouble view)."""
    counts = incidents.open_counts(engine, definition.key)
    return {state: n for (_, state), n in counts.items()}


def live_diagram(
    engine: Engine,
    definition: ProcessDefinition,
    lang: str,
    heat_mode: str = "count",
    since: timedelta | None = None,
) -> dict[str, Any]:
    """The live SVG and the figures behind it: instances per state, flows (over ``since``), the
    chosen heat with its legend, the overdue work and open incidents per state. Every state of
    the SVG links to its instances."""
    counts, flows = live_counts(engine, definition, since)
    states = counts.states
    heat = diagram_heat.heat_of(read_db(), definition, heat_mode, engine.clock.now())
    trouble = open_incidents(engine, definition)
    link = url_for("processes.state", key=definition.key, state="__STATE__")
    try:
        svg: Markup | None = inline_svg(
            diagram_live.live_svg(
                definition,
                states,
                flows,
                lang,
                incidents=trouble,
                heat_mode=heat_mode,
                heat=heat.values,
                state_link=link,
            )
        )
    except (diagram.GraphvizMissing, RuntimeError) as exc:
        log.warning("live diagram unavailable: %s", exc)
        svg = committed_svg(definition, lang)
    final = set(definition.final_states)
    return {
        "svg": svg,
        "states": states,
        "flows": flows,
        "incidents": trouble,
        "total": counts.total,
        "ended_by_supervisor": counts.cancelled,
        "heat": heat,
        "legend": diagram_heat.legend(
            heat_mode,
            {s: heat.values.get(s, 0.0) for s in definition.states if s not in final},
            lang,
        ),
    }


def heat_arguments() -> tuple[str, str, timedelta | None]:
    """``?heat=`` and ``?since=`` of the request (400 when either is not one the page offers)."""
    try:
        mode = diagram_heat.parse_heat(request.args.get("heat"))
        since_text = request.args.get("since") or "all"
        return mode, since_text, diagram_heat.parse_since(since_text)
    except diagram_heat.BadHeatArgument as exc:
        abort(400, description=str(exc))


@bp.before_request
def _supervisors_only() -> None:
    if not current_user.is_authenticated or not current_user.is_supervisor:
        abort(403)


def _definition(key: str) -> ProcessDefinition:
    try:
        return engine_of().definition(key)
    except UnknownProcess:
        abort(404)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Every process with its live diagram."""
    engine, lang = engine_of(), i18n.current_lang()
    cards = [
        {"definition": d, **live_diagram(engine, d, lang)}
        for _, d in sorted(engine.processes.items())
    ]
    return render_template("processes/index.html", cards=cards, cancelled_state=CANCELLED)


@bp.get("/<key>")
def process(key: str) -> ResponseReturnValue:
    """One process: the live diagram (states clickable, coloured by ``?heat=count|overdue|age``,
    flows counted over ``?since=7d|30d|365d|all``) and the figures per state."""
    mode, since_text, since = heat_arguments()
    definition = _definition(key)
    engine = engine_of()
    live = live_diagram(engine, definition, i18n.current_lang(), mode, since)
    past_ttl = retention.due_counts(engine, engine.clock.now()).get(key, 0)
    return render_template(
        "processes/process.html",
        definition=definition,
        past_ttl=past_ttl,
        heat_mode=mode,
        heat_modes=diagram_heat.HEAT_MODES,
        since=since_text,
        since_choices=diagram_heat.SINCE_CHOICES,
        age_days=age_days,
        cancelled_state=CANCELLED,
        incident_colours=diagram.ds.INCIDENT,
        versions=deployments.versions(engine.db, key) if deployments.is_ready(engine.db) else [],
        **live,
    )


@bp.get("/<key>/diagram.svg")
def process_svg(key: str) -> ResponseReturnValue:
    """The live diagram alone (same ``?heat=`` and ``?since=`` as the page)."""
    mode, _, since = heat_arguments()
    definition = _definition(key)
    engine = engine_of()
    counts, flows = live_counts(engine, definition, since)
    heat = diagram_heat.heat_of(read_db(), definition, mode, engine.clock.now())
    trouble = open_incidents(engine, definition)
    svg = diagram_live.live_svg(
        definition,
        counts.states,
        flows,
        i18n.current_lang(),
        incidents=trouble,
        heat_mode=mode,
        heat=heat.values,
        state_link=url_for("processes.state", key=key, state="__STATE__"),
    )
    return Response(svg, mimetype="image/svg+xml")


def age_days(seconds: float | None) -> str:
    """An age in whole days for the tables ("" when the state is empty)."""
    return "" if seconds is None else f"{int(seconds // 86400):,}"


@bp.get("/<key>/states/<state>")
def state(key: str, state: str) -> ResponseReturnValue:
    """The instances in one state, the longest waiting first, a page at a time (``?after=`` the
    cursor of the last one shown), optionally only those with overdue work (``?overdue=1``) or
    in the state for N days (``?older=N``)."""
    definition = _definition(key)
    if state not in definition.states and state != CANCELLED:
        abort(404)
    after_text = request.args.get("after")
    after = pq.EnteredCursor.decode(after_text) if after_text else None
    if after_text and after is None:
        abort(400, description="after must be the cursor of a page's next link")
    try:
        filters = pq.StateFilter.parse(request.args.get("overdue"), request.args.get("older"))
    except pq.BadStateFilter as exc:
        abort(400, description=str(exc))
    engine = engine_of()
    rows, next_after = pq.instances_in_state(
        read_db(), key, state, engine.clock.now(), filters, after, limit=pq.PAGE_SIZE
    )
    args = filters.args()
    return render_template(
        "processes/state.html",
        definition=definition,
        state=state,
        rows=rows,
        now=engine.clock.now(),
        filters=filters,
        first_url=url_for(".state", key=key, state=state, **args) if after else None,
        next_url=url_for(".state", key=key, state=state, after=next_after, **args)
        if next_after
        else None,
    )


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int) -> ResponseReturnValue:
    """One instance: its path through the diagram, history, open tasks and pending timers."""
    engine = engine_of()
    row = queries.instance(engine.db, instance_id)
    if row is None:
        abort(404)
    definition = engine.definition(row["process"], row["definition_version"])
    history = queries.history(engine.db, instance_id)
    return render_template(
        "processes/instance.html",
        definition=definition,
        instance=row,
        svg=instance_svg(engine, row, i18n.current_lang()),
        history=history,
        tasks=queries.tasks_of(engine.db, instance_id, "open"),
        timers=queries.timers_of(engine.db, instance_id, "pending"),
        incidents=incidents.list_incidents(engine, instance_id=instance_id, status=None),
        notices=list_notices(engine, instance_ids=[instance_id]),
        notice_text=notice_text,
        now=engine.clock.now(),
        **instance_context(definition, row, history),
    )


@bp.get("/overdue")
def overdue() -> ResponseReturnValue:
    """Open tasks past their due date (days overdue each, and per queue: how many, the oldest),
    and timers that came due but have not fired."""
    from web.pages.inbox_team_queries import overdue_queues

    engine = engine_of()
    now = engine.clock.now()
    groups = sorted(
        {
            spec.task.candidate_group
            for d in engine.processes.values()
            for spec in d.states.values()
            if spec.task
        }
    )
    db = read_db()
    timers, missed = iq.missed_timers(db, now)
    return render_template(
        "processes/overdue.html",
        tasks=iq.overdue_tasks(db, groups, now),
        queues=overdue_queues(db, groups, now),
        days_overdue=iq.days_overdue,
        timers=timers,
        missed=missed,
        processes=engine.processes,
        now=now,
    )
