"""Diagram interchange (DI) for the exported BPMN: shapes on a grid, orthogonal flows, label bounds.

Owns where things go. Graphviz (``dot``, through ``engine.diagram.run_dot``) ranks the flow nodes
into columns and orders them to keep crossings few, each state's elements in one cluster so a state
reads as a block; the grid is ours: every node at the centre of a (column, row) cell on a 10-point
grid, on its predecessors' row where the order allows and a fan in the middle of its fan, boundary
events on their task's lower or upper border. Columns are as wide as their shapes and labels, gaps
as wide as their tracks, rows as high as what they hold. The routes are ``engine.bpmn_routes``'s,
the labels ``engine.bpmn_labels``'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from engine.bpmn_labels import FLOW_LABEL_WIDTH, LABEL_WIDTH, Box, LabelPlacer, Point, text_size
from engine.bpmn_model import Node, ProcessModel
from engine.bpmn_routes import Grid, Router, bands, order_tracks, place_boundaries, spans
from engine.diagram import run_dot

SIZES = {
    "userTask": (100.0, 80.0),
    "receiveTask": (100.0, 80.0),
    "exclusiveGateway": (50.0, 50.0),
    "eventBasedGateway": (50.0, 50.0),
}
EVENT = 36.0
STEP = 10.0  # track to track
MARGIN = 40.0
BOUNDARY_SPACING = 84.0


@dataclass(frozen=True)
class Layout:
    """Bounds of every shape, waypoints of every flow and bounds of every label, by element id."""

    shapes: dict[str, Box]
    edges: dict[str, list[Point]]
    labels: dict[str, Box]


def _size(node: Node, boundaries: int) -> tuple[float, float]:
    if node.kind == "userTask":
        per_side = (boundaries + 1) // 2
        return max(100.0, per_side * BOUNDARY_SPACING + 16), 80.0
    return SIZES.get(node.kind, (EVENT, EVENT))


def _has_outer_label(node: Node) -> bool:
    return node.name is not None and node.kind not in ("userTask", "receiveTask")


def _dot_text(model: ProcessModel, size: dict[str, tuple[float, float]]) -> str:
    """The flow nodes as a DOT graph: each state's elements (its join first, its element, its catch
    events and gateways) in a cluster, so that a state reads as one block; a flow back into its
    own state (a refused event, an event that keeps the state) does not rank the graph."""
    lines = [
        "digraph g {",
        "  graph [rankdir=LR nodesep=0.5 ranksep=0.6 splines=false]",
        '  node [shape=box fixedsize=true label=""]',
    ]
    blocks: dict[str | None, list[str]] = {}
    ordered = sorted(model.nodes.values(), key=lambda n: n.role != "join")
    for node in ordered:
        if node.attached_to is None:
            w, h = size[node.id]
            spec = f'"{node.id}" [width={w / 72:.3f} height={h / 72:.3f}]'
            blocks.setdefault(node.state if node.role != "done" else None, []).append(spec)
    for state, specs in blocks.items():
        if state is None:
            lines += [f"  {spec}" for spec in specs]
            continue
        lines.append(f'  subgraph "cluster_{state}" {{')
        lines += [f"    {spec}" for spec in specs]
        lines.append("  }")
    for flow in model.flows:
        source = model.nodes[flow.source].attached_to or flow.source
        state = model.nodes[flow.source].state
        back = flow.target in (f"join_{state}", f"state_{state}") and model.nodes[
            flow.source
        ].role not in ("initial", "auto", "join")
        attrs = " [constraint=false]" if back else ""
        lines.append(f'  "{source}" -> "{flow.target}"{attrs}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _cells(model: ProcessModel, size: dict[str, tuple[float, float]]) -> Grid:
    """Columns from Graphviz's ranks; rows from its order, each node on the row of its
    predecessors where the order allows (so chains run straight), no two nodes in one cell."""
    graph = json.loads(run_dot(_dot_text(model, size), "json"))
    pos: dict[str, Point] = {}
    for obj in graph.get("objects", []):
        if "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            pos[obj["name"]] = (x, -y)
    xs = sorted({round(x) for x, _ in pos.values()})
    column = {n: xs.index(round(x)) for n, (x, _) in pos.items()}
    top = min(y for _, y in pos.values())
    preds: dict[str, list[str]] = {n: [] for n in pos}
    for flow in model.flows:
        source = model.nodes[flow.source].attached_to or flow.source
        if column[source] < column[flow.target]:
            preds[flow.target].append(source)
    succs: dict[str, list[str]] = {n: [] for n in pos}
    for target, sources in preds.items():
        for source in sources:
            succs[source].append(target)
    row: dict[str, int] = {}

    def assign(col: int, wanted: dict[str, int]) -> None:
        above = -1
        for name in sorted((n for n in pos if column[n] == col), key=lambda n: pos[n][1]):
            row[name] = max(wanted[name], above + 1)
            above = row[name]

    for col in range(len(xs)):  # left to right: each node on its predecessors' row
        wanted = {}
        for name in (n for n in pos if column[n] == col):
            placed = sorted(row[p] for p in preds[name] if p in row)
            estimate = round((pos[name][1] - top) / 110)
            wanted[name] = placed[(len(placed) - 1) // 2] if placed else estimate
        assign(col, wanted)
    for col in reversed(range(len(xs))):  # right to left: a fan in the middle of its fan
        wanted = {}
        for name in (n for n in pos if column[n] == col):
            after = sorted(row[t] for t in succs[name])
            chain = len(after) == 1 and len(preds[succs[name][0]]) == 1
            wanted[name] = after[(len(after) - 1) // 2] if len(after) > 1 or chain else row[name]
        assign(col, wanted)
    used = sorted(set(row.values()))
    row = {n: used.index(r) for n, r in row.items()}
    return Grid(column, row, size)


def layout(model: ProcessModel, lang: str = "zh") -> Layout:
    """Lay out ``model``: shapes, orthogonal waypoints and label bounds (labels in ``lang``)."""
    size = {
        n.id: _size(n, len(model.boundaries(n.id))) if n.attached_to is None else (EVENT, EVENT)
        for n in model.nodes.values()
    }
    grid = _cells(model, size)
    router = Router(model, grid, place_boundaries(model, size))
    for flow in model.flows:
        router.plans[flow.id] = router.plan(flow)
    band_tracks = bands(router.plans)
    extents = spans(router.plans)
    gap_order = {gap: order_tracks(v, extents.get(gap, {})) for gap, v in router.verticals.items()}
    return _Placer(model, grid, router, band_tracks, gap_order, size, lang).run()


class _Placer:
    """Turns the grid and the abstract routes into coordinates, then places the labels."""

    def __init__(
        self,
        model: ProcessModel,
        grid: Grid,
        router: Router,
        band_tracks: dict[tuple[int, str], int],
        gap_order: dict[int, dict[str, int]],
        size: dict[str, tuple[float, float]],
        lang: str,
    ) -> None:
        self.model, self.grid, self.router = model, grid, router
        self.band_tracks, self.gap_order, self.size, self.lang = band_tracks, gap_order, size, lang
        self.text: dict[str, tuple[float, float]] = {}
        for node in model.nodes.values():
            if _has_outer_label(node):
                assert node.name is not None
                self.text[node.id] = text_size(node.name.get(lang), LABEL_WIDTH)
        for flow in model.flows:
            if flow.name is not None:
                self.text[flow.id] = text_size(flow.name.get(lang), FLOW_LABEL_WIDTH)

    def run(self) -> Layout:
        self.columns()
        self.rows()
        shapes = self.shapes()
        self.boxes = shapes
        edges = {f.id: self.points(f.id) for f in self.model.flows}
        labels = LabelPlacer(self.model, shapes, edges, self.text).place()
        return _normalise(shapes, edges, labels)

    def columns(self) -> None:
        count = max(self.grid.column.values()) + 1
        width = [0.0] * count
        label_room = [0.0] * count
        for name, col in self.grid.column.items():
            w = self.size[name][0]
            if name in self.text:
                w = max(w, self.text[name][0])
            width[col] = max(width[col], w)
        for flow in self.model.flows:
            if flow.id in self.text:
                col = self.grid.column[self.router.host(flow.source)]
                label_room[col] = max(label_room[col], self.text[flow.id][0])
        self.col_center: list[float] = []
        self.gap_start: list[float] = []
        x = 0.0
        for col in range(count):  # on a 10-point grid: centres, gaps and tracks
            half = _grid(width[col] / 2)
            self.col_center.append(x + half)
            right = x + 2 * half
            tracks = len(set(self.gap_order.get(col, {}).values()))
            self.gap_start.append(right + 20 + _grid(label_room[col]))
            x = self.gap_start[-1] + tracks * STEP + 40

    def rows(self) -> None:
        """Each row as high as what it holds: shapes, the labels above and below them, boundary
        events and theirs; then the band below it, as wide as its tracks."""
        count = max(self.grid.row.values()) + 1
        top, bottom = [30.0] * count, [30.0] * count
        for name, r in self.grid.row.items():
            h = self.size[name][1]
            label = self.text[name][1] + 6 if name in self.text else 0.0
            top[r] = max(top[r], h / 2 + label)
            bottom[r] = max(bottom[r], h / 2 + label)
            for boundary in self.model.boundaries(name):
                extent = h / 2 + EVENT / 2 + self.text.get(boundary.id, (0, 0))[1] + 6
                if self.router.sides[boundary.id] == "bottom":
                    bottom[r] = max(bottom[r], extent)
                else:
                    top[r] = max(top[r], extent)
        tracks: dict[int, int] = {}
        for (band, _), k in self.band_tracks.items():
            tracks[band] = max(tracks.get(band, 0), k + 1)
        top, bottom = [_grid(t) for t in top], [_grid(b) for b in bottom]
        self.row_y: list[float] = [0.0]
        for r in range(1, count):
            between = 20 + tracks.get(r - 1, 0) * STEP + 20
            self.row_y.append(self.row_y[-1] + bottom[r - 1] + between + top[r])
        self.band_top = {r: self.row_y[r] + bottom[r] + 20 for r in range(count)}
        self.band_top[-1] = -top[0] - 20 - tracks.get(-1, 0) * STEP

    def shapes(self) -> dict[str, Box]:
        shapes: dict[str, Box] = {}
        for name, col in self.grid.column.items():
            w, h = self.size[name]
            cx, cy = self.col_center[col], self.row_y[self.grid.row[name]]
            shapes[name] = (cx - w / 2, cy - h / 2, w, h)
        for host in list(shapes):
            x, y, w, h = shapes[host]
            bottom = [b for b in self.model.boundaries(host) if self.router.sides[b.id] == "bottom"]
            top = [b for b in self.model.boundaries(host) if self.router.sides[b.id] == "top"]
            for group, edge_y in ((bottom, y + h), (top, y)):
                for i, boundary in enumerate(group):
                    cx = x + w / 2 + (i - (len(group) - 1) / 2) * BOUNDARY_SPACING
                    shapes[boundary.id] = (cx - EVENT / 2, edge_y - EVENT / 2, EVENT, EVENT)
        return shapes

    def x_of(self, ref: object) -> float:
        if isinstance(ref, tuple) and ref[0] == "gap":
            _, gap, flow = ref
            return self.gap_start[gap] + self.gap_order[gap][flow] * STEP
        assert isinstance(ref, tuple) and ref[0] == "node-x"
        x, _, w, _ = self.boxes[ref[1]]
        return x + w / 2

    def y_of(self, ref: object) -> float:
        assert isinstance(ref, tuple)
        if ref[0] == "row":
            return self.row_y[ref[1]]
        _, band, key, _, _ = ref
        return self.band_top[band] + self.band_tracks[(band, key)] * STEP

    def points(self, flow_id: str) -> list[Point]:
        out: list[Point] = []
        for kind, value in self.router.plans[flow_id]:
            if kind == "xy":
                xr, yr = value
                out.append((self.x_of(xr), self.y_of(yr)))
                continue
            x, y, w, h = self.boxes[str(value)]
            if kind == "exit":
                out.append((x + w, y + h / 2))
            elif kind == "entry":
                out.append((x, y + h / 2))
            elif kind == "bottom":
                out.append((x + w / 2, y + h))
            elif kind == "top":
                out.append((x + w / 2, y))
            else:  # a boundary event: leave on the side away from its task
                side = self.router.sides[str(value)]
                out.append((x + w / 2, y + h if side == "bottom" else y))
        return _simplify(out)


def _grid(value: float) -> float:
    """``value`` rounded up to the 10-point grid."""
    return float(-(-value // 10) * 10)


def _simplify(points: list[Point]) -> list[Point]:
    out: list[Point] = []
    for p in points:
        p = (round(p[0], 1), round(p[1], 1))
        if out and out[-1] == p:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
            continue
        out.append(p)
    return out


def _normalise(
    shapes: dict[str, Box], edges: dict[str, list[Point]], labels: dict[str, Box]
) -> Layout:
    xs = [b[0] for b in shapes.values()] + [b[0] for b in labels.values()]
    ys = [b[1] for b in shapes.values()] + [b[1] for b in labels.values()]
    xs += [p[0] for pts in edges.values() for p in pts]
    ys += [p[1] for pts in edges.values() for p in pts]
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)
    dx, dy = round(dx / 10) * 10 + 10, round(dy / 10) * 10 + 10

    def box(b: Box) -> Box:
        return (round(b[0] + dx, 1), round(b[1] + dy, 1), b[2], b[3])

    return Layout(
        {k: box(b) for k, b in shapes.items()},
        {k: [(round(x + dx, 1), round(y + dy, 1)) for x, y in pts] for k, pts in edges.items()},
        {k: box(b) for k, b in labels.items()},
    )
