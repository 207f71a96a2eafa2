"""Label bounds for the exported BPMN diagram: how big a label's text is, and where it goes.

Owns the text estimate (an upper bound at bpmn-js's 11 px label font: bpmn-js keeps a label's
centre and top and sizes its box to the text, so the estimate must not be smaller than the text)
and the placement: each label at the first of its candidate spots that meets no other label and no
shape, with the fewest flow lines through it; a flow's label only beside a part of its route that no
other flow shares, so it always names one branch. A task's label is its own box.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from engine.bpmn_model import Node, ProcessModel

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x, y, width, height

LABEL_WIDTH = 90.0  # bpmn-js's external label width
FLOW_LABEL_WIDTH = 110.0
_CJK = 12.0  # conservative glyph widths at bpmn-js's 11px label font
_LINE = 14.0


def text_size(text: str, width: float) -> tuple[float, float]:
    """An upper estimate of ``text``'s box at bpmn-js's label font, wrapped at ``width``."""
    lines: list[float] = []
    current = 0.0
    word = 0.0
    for ch in text + " ":
        wide = unicodedata.east_asian_width(ch) in "WF"
        size = _CJK if wide else 3.6 if ch == " " else 8.0 if ch.isupper() else 6.6
        if ch == " " or wide:
            piece = word + size
            if current + piece > width and current > 0:
                lines.append(current)
                current = 0.0
            current += piece
            word = 0.0
        else:
            word += size
    lines.append(current)
    used = max(min(max(lines), width), 20.0)
    return round(used + 6), len(lines) * _LINE + 4


def _overlap(a: Box, b: Box, pad: float = 2.0) -> bool:
    return not (
        a[0] + a[2] + pad <= b[0]
        or b[0] + b[2] + pad <= a[0]
        or a[1] + a[3] + pad <= b[1]
        or b[1] + b[3] + pad <= a[1]
    )


def _crosses(box: Box, p: Point, q: Point) -> bool:
    x, y, w, h = box
    (ax, ay), (bx, by) = p, q
    if ax == bx:
        return x < ax < x + w and min(ay, by) < y + h and max(ay, by) > y
    return y < ay < y + h and min(ax, bx) < x + w and max(ax, bx) > x


class LabelPlacer:
    """Label bounds: each at the first candidate spot that meets no label and no shape, with the
    fewest flow lines through it."""

    def __init__(
        self,
        model: ProcessModel,
        shapes: dict[str, Box],
        edges: dict[str, list[Point]],
        text: dict[str, tuple[float, float]],
    ) -> None:
        self.model, self.shapes, self.edges, self.text = model, shapes, edges, text
        self.placed: dict[str, Box] = {}
        self.segments = [
            (pts[i], pts[i + 1]) for pts in edges.values() for i in range(len(pts) - 1)
        ]

    def place(self) -> dict[str, Box]:
        for node in self.model.nodes.values():
            if node.kind in ("userTask", "receiveTask") and node.name is not None:
                self.placed[node.id] = self.shapes[node.id]
        for flow in self.model.flows:  # first: a flow's label has fewer places to go
            if flow.id in self.text:
                self.best(flow.id, self.flow_spots(flow.id))
        for node in self.model.nodes.values():
            if node.id in self.text:
                self.best(node.id, self.node_spots(node))
        return self.placed

    def best(self, element: str, spots: Iterable[Box]) -> None:
        scored = []
        for i, spot in enumerate(spots):
            hard = sum(_overlap(spot, b) for b in self.placed.values())
            hard += sum(_overlap(spot, b, 0.0) for k, b in self.shapes.items() if k != element)
            soft = sum(_crosses(spot, p, q) for p, q in self.segments)
            scored.append((hard, soft, i, spot))
        self.placed[element] = min(scored)[3]

    def node_spots(self, node: Node) -> list[Box]:
        x, y, w, h = self.shapes[node.id]
        lw, lh = self.text[node.id]
        cx = x + w / 2
        below = (cx - lw / 2, y + h + 4, lw, lh)
        above = (cx - lw / 2, y - 4 - lh, lw, lh)
        right = (x + w + 4, y + h / 2 - lh / 2, lw, lh)
        left = (x - 4 - lw, y + h / 2 - lh / 2, lw, lh)
        if node.attached_to:
            host = self.shapes[node.attached_to]
            low = y + h / 2 > host[1] + host[3] / 2
            beside = (x + w + 2, y + h + 2, lw, lh) if low else (x + w + 2, y - 2 - lh, lw, lh)
            return [below, beside] if low else [above, beside]
        return [
            below,
            above,
            (cx - lw, y + h + 4, lw, lh),
            (cx - lw, y - 4 - lh, lw, lh),
            right,
            left,
            (x + w + 4, y + h + 2, lw, lh),
            (x + w + 4, y - 2 - lh, lw, lh),
        ]

    def flow_spots(self, flow: str) -> list[Box]:
        """Beside the parts of the flow's route that no other flow shares, so a label always
        names one branch: above or below a horizontal part, right or left of a vertical one."""
        lw, lh = self.text[flow]
        spots: list[Box] = []
        for (ax, ay), (_bx, by), low, high in self.own_parts(flow):
            if ay == by:
                for x in (low + 6, (low + high - lw) / 2, high - 6 - lw):
                    spots += [(x, ay - 3 - lh, lw, lh), (x, ay + 3, lw, lh)]
            else:
                for y in (low + 6, (low + high - lh) / 2, high - 6 - lh):
                    spots += [(ax + 5, y, lw, lh), (ax - 5 - lw, y, lw, lh)]
        return spots

    def own_parts(self, flow: str) -> list[tuple[Point, Point, float, float]]:
        """The flow's segments, each cut to its longest stretch no other flow runs along."""
        pts = self.edges[flow]
        others = [
            (p, q)
            for key, o in self.edges.items()
            if key != flow
            for p, q in zip(o, o[1:], strict=False)
        ]
        parts = []
        for a, b in zip(pts, pts[1:], strict=False):
            axis = 0 if a[1] == b[1] else 1
            fixed = a[1 - axis]
            low, high = sorted((a[axis], b[axis]))
            covered = sorted(
                (min(p[axis], q[axis]), max(p[axis], q[axis]))
                for p, q in others
                if p[1 - axis] == q[1 - axis] == fixed and p[axis] != q[axis]
            )
            free, start = [], low
            for c0, c1 in covered:
                if c1 <= start or c0 >= high:
                    continue
                if c0 > start:
                    free.append((start, c0))
                start = max(start, c1)
            if start < high:
                free.append((start, high))
            if free:
                lo, hi = max(free, key=lambda f: f[1] - f[0])
                parts.append((a, b, lo, hi))
        if parts:
            return parts
        whole = []
        for a, b in zip(pts, pts[1:], strict=False):
            low, high = sorted((a[0], b[0]) if a[1] == b[1] else (a[1], b[1]))
            whole.append((a, b, low, high))
        return whole
