"""Live process diagrams: one cached layout per process, recoloured with the figures of now.

Owns the live layout (``LiveLayout``, cached per process, version, file and language by
``live_layout``): ``dot`` runs once with placeholder colours and text slots, and every render after
that fills the slots instead of running ``dot`` again. Also owns the transitions per flow it shows
(``flow_counts``, one ``GROUP BY`` query; instances per state are ``engine.process_counts``'s),
and ``live_svg``: counts per state and flow, states coloured by a heat (``engine.diagram_heat``) and
linked to their instances. The graph, its DOT text and ``dot`` come from ``engine.diagram``; looks
from ``engine.diagram_styles``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from html import escape

from sqlalchemy import Engine, func, select

from engine import diagram, diagram_heat
from engine import diagram_styles as ds
from engine import statements as st
from engine.definition import ProcessDefinition

COUNT_SLOT = ds.COUNT_SLOT  # reserves the width of a count in the cached live layout
HEAT_SLOT = ds.HEAT_SLOT  # and of a state's heat line (overdue, age, incidents)
_SENTINELS = {  # placeholder colours of the live layout -> the slot each becomes
    'fill="#0a0b0c"': "fill",
    'stroke="#0a0b0d"': "stroke",
    'stroke="#0a0b0e"': "edge_stroke",
    'fill="#0a0b0e"': "edge_fill",
    f">{COUNT_SLOT}<": "count",
    f">{HEAT_SLOT}<": "heat",
}
_SENTINEL_RE = re.compile("(" + "|".join(re.escape(s) for s in _SENTINELS) + ")")
_GROUP_RE = re.compile(r'(<g id="[^"]+" class="(?:node|edge)">.*?</g>)', re.DOTALL)


class LiveLayout:
    """A laid-out live diagram whose colours and counts are slots: filling them runs no ``dot``."""

    def __init__(self, definition: ProcessDefinition, lang: str) -> None:
        self.definition = definition
        self.lang = lang
        flows = diagram.flows_of(definition)
        dot_text = diagram.to_dot(
            definition,
            lang,
            state_styles={
                s: {"fillcolor": "#0a0b0c", "color": "#0a0b0d"} for s in definition.states
            },
            flow_styles={f.id: {"color": "#0a0b0e"} for f in flows},
            state_rows={s: [COUNT_SLOT, HEAT_SLOT] for s in definition.states},
            flow_rows={f.id: [COUNT_SLOT] for f in flows},
        )
        self.parts: list[str] = []
        self.slots: list[tuple[int, str, str]] = []  # (index in parts, kind, element id)
        for chunk in _GROUP_RE.split(diagram.svg_of(dot_text).decode("utf-8")):
            element = chunk[7 : chunk.index('"', 7)] if chunk.startswith('<g id="') else ""
            link = element.startswith("state_") and 'class="node"' in chunk[: len(element) + 30]
            if link:  # a state's group goes inside a link to its instances (when given one)
                self.slots.append((len(self.parts), "link_open", element))
                self.parts.append("")
            for piece in _SENTINEL_RE.split(chunk) if element else [chunk]:
                if element and piece in _SENTINELS:
                    self.slots.append((len(self.parts), _SENTINELS[piece], element))
                self.parts.append(piece)
            if link:
                self.slots.append((len(self.parts), "link_close", element))
                self.parts.append("")

    def render(
        self,
        state_counts: Mapping[str, int],
        flow_counts: Mapping[str, int],
        incidents: Mapping[str, int] | None = None,
        *,
        heat_mode: str = "count",
        heat: Mapping[str, float] | None = None,
        state_link: str | None = None,
    ) -> bytes:
        """The SVG with ``state_counts`` (per state name) and ``flow_counts`` (per flow id).

        States are coloured by ``heat`` (per state name; ``state_counts`` when None) as
        ``heat_mode`` reads it (``engine.diagram_heat``), with the heat under the count; a state
        with open ``incidents`` is drawn in the trouble colours with ``⚠`` and their number on
        that line. ``state_link``: a URL with ``__STATE__`` for the state's name, each state then
        a link (the instances in it).
        """
        final = set(self.definition.final_states)
        values_of = heat if heat is not None else {s: float(n) for s, n in state_counts.items()}
        drawn = [s for s in self.definition.states if s not in final]
        hottest = max((values_of.get(s, 0.0) for s in drawn), default=0.0)
        busiest_flow = max(flow_counts.values(), default=0)
        values: dict[str, dict[str, str]] = {}
        for state in self.definition.states:
            n = state_counts.get(state, 0)
            value = values_of.get(state, 0.0)
            if state in final:
                _, _, fill, stroke = ds.ENDED
                line = ""
            else:
                _, fill, stroke = diagram_heat.colour(heat_mode, value, hottest)
                line = diagram_heat.heat_text(heat_mode, value, self.lang)
            trouble = (incidents or {}).get(state, 0)
            if trouble:
                fill, stroke = ds.INCIDENT
                line = f"{line} ⚠{ds.compact(trouble, 5)}".strip()
            href = state_link.replace("__STATE__", state) if state_link else None
            values[diagram.state_id(state)] = {
                "fill": f'fill="{fill}"',
                "stroke": f'stroke="{stroke}"',
                "count": f">{ds.compact(n)}<",
                "heat": f">{escape(line)}<",
                "link_open": f'<a href="{escape(href)}" class="state-link">' if href else "",
                "link_close": "</a>" if href else "",
            }
        low, high = ds.FLOW_WIDTH
        for flow in diagram.flows_of(self.definition):
            n = flow_counts.get(flow.id, 0)
            stroke = ds.load_colour(n, busiest_flow)[3]
            width = low + (high - low) * n / max(busiest_flow, 1)
            values[flow.id] = {
                "edge_stroke": f'stroke="{stroke}" stroke-width="{width:.1f}"',
                "edge_fill": f'fill="{stroke}"',
                "count": f">{ds.compact(n)}<",
            }
        parts = list(self.parts)
        for index, kind, element in self.slots:
            parts[index] = values[element][kind]
        return "".join(parts).encode("utf-8")


_LAYOUTS: dict[tuple[str, int, str, str], LiveLayout] = {}


def live_layout(definition: ProcessDefinition, lang: str = "zh") -> LiveLayout:
    """The cached live layout of ``definition`` (keyed by process, version, file and language)."""
    key = (definition.key, definition.version, definition.source, lang)
    if key not in _LAYOUTS:
        _LAYOUTS[key] = LiveLayout(definition, lang)
    return _LAYOUTS[key]


def flow_counts(
    db: Engine, definition: ProcessDefinition, since: datetime | None = None
) -> dict[str, int]:
    """Transitions per flow id, from one ``GROUP BY`` over history.

    History rows of the process are matched to the definition's flows by event and source state
    (a start by its target state); the query reads the ``ix_wf_history_flow`` index alone.

    Args:
        db: the engine's database.
        definition: the process.
        since: count only transitions at or after this moment (all of history when ``None``).
    """
    h = st.history
    query = select(h.c.event, h.c.from_state, h.c.to_state, func.count()).where(
        h.c.process == definition.key
    )
    if since is not None:
        query = query.where(h.c.occurred_at >= since)
    ids = {flow.id for flow in diagram.flows_of(definition)}
    found: dict[str, int] = {}
    with db.connect() as conn:
        for event, source, target, n in conn.execute(
            query.group_by(h.c.event, h.c.from_state, h.c.to_state)
        ):
            flow = diagram.history_flow(event, source, target)
            if flow in ids:
                found[flow] = found.get(flow, 0) + int(n)
    return found


def live_svg(
    definition: ProcessDefinition,
    states: Mapping[str, int],
    flows: Mapping[str, int] | None = None,
    lang: str = "zh",
    incidents: Mapping[str, int] | None = None,
    *,
    heat_mode: str = "count",
    heat: Mapping[str, float] | None = None,
    state_link: str | None = None,
) -> bytes:
    """The live diagram on the cached layout: counts per state and per flow, states coloured by
    the chosen heat (load by default); states with open incidents in the trouble colours.

    Args:
        definition: the process.
        states: instances per state name (``engine.process_counts``).
        flows: transitions per flow id (``flow_counts``); flows into end events default to the
            final states' counts.
        lang: ``zh`` or ``en``.
        incidents: open incidents per state name (``engine.incidents.open_counts``).
        heat_mode: ``count``, ``overdue`` or ``age`` (``engine.diagram_heat.HEAT_MODES``).
        heat: the figure per state name that colours it (``diagram_heat.heat_of``).
        state_link: a URL with ``__STATE__``: every state links to its instances.
    """
    flows = dict(flows or {})
    for state in definition.final_states:
        flows.setdefault(f"flow_end__{state}", states.get(state, 0))
    return live_layout(definition, lang).render(
        states, flows, incidents, heat_mode=heat_mode, heat=heat, state_link=state_link
    )
