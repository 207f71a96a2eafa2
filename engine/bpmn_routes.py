"""Orthogonal routes for the exported BPMN diagram, on the grid ``engine.bpmn_layout`` lays out.

Owns how a flow runs, as abstract points (coordinates come once the gaps between columns are sized):
out of a node's right side, along a vertical *track* in the gap between two columns, into the
target's left side; a flow that skips columns or goes back (a refused event returning to its state)
runs along a *band* between two rows, where no shape ever is. Flows that fan out of one node share
its track, flows that converge on one node share their last track and band segment: lines only
ever merge where they begin or end at the same element. Tracks in a gap are ordered so that no
stub runs into another flow's entry, and share an x where their extents are far apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.bpmn_model import ProcessModel, SeqFlow


@dataclass
class Grid:
    """The (column, row) cell of every node but boundary events, and the nodes' sizes."""

    column: dict[str, int]
    row: dict[str, int]
    size: dict[str, tuple[float, float]]


Ref = tuple[Any, ...]
"""An abstract coordinate: ("gap", column, key), ("node-x", node), ("row", row) or
("band", band, key, from-column, to-column)."""
Plan = list[tuple[str, Any]]
"""A route: ends ("exit"/"entry"/"bottom"/"top"/"boundary", node) and corners ("xy", (x, y))."""


class Router:
    """Routes every flow on the grid as abstract points (tracks and bands are named by a key;
    coordinates come once the gaps are sized). Flows that fan out of one node share its track,
    flows that converge on one node share their last track and band: lines only ever merge where
    they end or begin at the same element."""

    def __init__(self, model: ProcessModel, grid: Grid, sides: dict[str, str]) -> None:
        self.model = model
        self.g = grid
        self.sides = sides
        self.plans: dict[str, Plan] = {}
        self.straight: dict[int, list[tuple[int, int]]] = {}
        self.verticals: dict[int, dict[str, tuple[set[int], set[int]]]] = {}
        self.fans = {n for n in model.nodes if len(model.outgoing(n)) > 1}
        self.meets = {n for n in model.nodes if len(model.incoming(n)) > 1}

    def host(self, node: str) -> str:
        return self.model.nodes[node].attached_to or node

    def free_row(self, row: int, first: int, last: int) -> bool:
        if any(self.g.row[n] == row and first <= c <= last for n, c in self.g.column.items()):
            return False
        return all(b < first or a > last for a, b in self.straight.get(row, []))

    def free_column(self, column: int, low: int, high: int) -> bool:
        return not any(
            c == column and low <= self.g.row[n] <= high for n, c in self.g.column.items()
        )

    def vertical(self, gap: int, key: str, left: int | None, right: int | None) -> Ref:
        lefts, rights = self.verticals.setdefault(gap, {}).setdefault(key, (set(), set()))
        if left is not None:
            lefts.add(left)
        if right is not None:
            rights.add(right)
        return ("gap", gap, key)

    def key(self, flow: SeqFlow) -> str:
        if flow.source in self.fans:
            return f"from:{flow.source}"
        if flow.target in self.meets:
            return f"to:{flow.target}"
        return f"flow:{flow.id}"

    def plan(self, flow: SeqFlow) -> Plan:
        """The route: ("exit"/"entry"/"bottom"/"top"/"boundary", node) ends and ("xy", (x, y))
        corners, x a gap track or a node's centre, y a row or a band track."""
        source, target = flow.source, flow.target
        u = self.host(source)
        cu, cw = self.g.column[u], self.g.column[target]
        if cw <= cu:
            return self.back(flow, u)
        if source != u:
            return self.from_boundary(flow, u)
        ru, rw = self.g.row[u], self.g.row[target]
        if cw == cu + 1 or (ru == rw and self.free_row(ru, cu + 1, cw - 1)):
            if ru == rw:
                if cw > cu + 1:
                    self.straight.setdefault(ru, []).append((cu + 1, cw - 1))
                return [("exit", source), ("entry", target)]
            t = self.vertical(cu, self.key(flow), ru, rw)
            return self.bend(source, target, t, ru, rw)
        if self.free_row(ru, cu + 1, cw - 1):
            self.straight.setdefault(ru, []).append((cu + 1, cw - 1))
            t = self.vertical(cw - 1, f"to:{target}", ru, rw)
            return self.bend(source, target, t, ru, rw)
        if self.free_row(rw, cu + 1, cw - 1):
            self.straight.setdefault(rw, []).append((cu + 1, cw - 1))
            return self.bend(source, target, self.vertical(cu, self.key(flow), ru, rw), ru, rw)
        band = ("band", rw - 1 if ru < rw else rw, f"to:{target}", cu + 0.5, cw - 0.5)
        t1 = self.vertical(cu, self.key(flow), ru, None)
        t2 = self.vertical(cw - 1, f"to:{target}", None, rw)
        return [
            ("exit", source),
            ("xy", (t1, ("row", ru))),
            ("xy", (t1, band)),
            ("xy", (t2, band)),
            ("xy", (t2, ("row", rw))),
            ("entry", target),
        ]

    @staticmethod
    def bend(source: str, target: str, t: Ref, ru: int, rw: int) -> Plan:
        return [
            ("exit", source),
            ("xy", (t, ("row", ru))),
            ("xy", (t, ("row", rw))),
            ("entry", target),
        ]

    def from_boundary(self, flow: SeqFlow, host: str) -> Plan:
        """Down (or up) from a boundary event to the band beside its task, along it to the gap
        before the target, into the target's side."""
        cu, cw = self.g.column[host], self.g.column[flow.target]
        ru, rw = self.g.row[host], self.g.row[flow.target]
        below = self.sides[flow.source] == "bottom"
        band = ("band", ru if below else ru - 1, f"flow:{flow.id}", cu, cw - 0.5)
        t = self.vertical(cw - 1, f"to:{flow.target}", None, rw)
        return [
            ("boundary", flow.source),
            ("xy", (("node-x", flow.source), band)),
            ("xy", (t, band)),
            ("xy", (t, ("row", rw))),
            ("entry", flow.target),
        ]

    def back(self, flow: SeqFlow, u: str) -> Plan:
        """A flow to a column at or before its source's (a refused event returning to its state):
        out of the source's bottom (or its boundary event), along the bands between rows, into the
        target's bottom (or top)."""
        source, target = flow.source, flow.target
        cu, cw = self.g.column[u], self.g.column[target]
        ru, rw = self.g.row[u], self.g.row[target]
        key = f"back:{target}"
        if source != u:
            first = ru if self.sides[source] == "bottom" else ru - 1
            start: Plan = [("boundary", source)]
        else:
            first = ru
            start = [("bottom", source)]
        down = rw <= first
        low, high = (rw + 1, first) if down else (first + 1, rw - 1)
        end = "bottom" if down else "top"
        if self.free_column(cw, low, high):
            band = ("band", first, key, cw, cu)
            return start + [
                ("xy", (("node-x", source), band)),
                ("xy", (("node-x", target), band)),
                (end, target),
            ]
        b1 = ("band", first, key, cw + 0.5, cu)
        b2 = ("band", rw if down else rw - 1, key, cw, cw + 0.5)
        t = self.vertical(cw, key, None, None)
        return start + [
            ("xy", (("node-x", source), b1)),
            ("xy", (t, b1)),
            ("xy", (t, b2)),
            ("xy", (("node-x", target), b2)),
            (end, target),
        ]


def order_tracks(
    verticals: dict[str, tuple[set[int], set[int]]], extents: dict[str, tuple[float, float]]
) -> dict[str, int]:
    """Tracks in one gap, left to right: a track whose flows leave a row towards the left comes
    before one whose flows enter that row on the right, so no stub runs into another's entry;
    tracks whose vertical spans do not meet share an x."""
    before: dict[str, set[str]] = {k: set() for k in verticals}
    for key, (lefts, _) in verticals.items():
        for other, (_, rights) in verticals.items():
            if other != key and lefts & rights:
                before[other].add(key)
    order: list[str] = []
    pending = sorted(verticals, key=lambda k: (extents.get(k, (0.0, 0.0)), k))
    while pending:
        ready = [k for k in pending if not (before[k] & set(pending))] or pending[:1]
        order.append(ready[0])
        pending.remove(ready[0])
    track: dict[str, int] = {}
    taken: list[list[tuple[float, float]]] = []
    for key in order:
        lo, hi = extents.get(key, (0.0, 0.0))
        i = max((track[k] + 1 for k in before[key] if k in track), default=0)
        while i < len(taken) and any(not (hi + 1.1 < a or lo - 1.1 > b) for a, b in taken[i]):
            i += 1
        if i == len(taken):
            taken.append([])
        taken[i].append((lo, hi))
        track[key] = i
    return track


def spans(plans: dict[str, Plan]) -> dict[int, dict[str, tuple[float, float]]]:
    """Per gap, each track's vertical extent in row units (a band between rows r and r+1 is
    r + 0.5)."""
    found: dict[int, dict[str, tuple[float, float]]] = {}
    for points in plans.values():
        for kind, value in points:
            if kind != "xy":
                continue
            x, y = value
            if not (isinstance(x, tuple) and x[0] == "gap" and isinstance(y, tuple)):
                continue
            at = float(y[1]) + (0.5 if y[0] == "band" else 0.0)
            lo, hi = found.setdefault(x[1], {}).get(x[2], (at, at))
            found[x[1]][x[2]] = (min(lo, at), max(hi, at))
    return found


def bands(plans: dict[str, Plan]) -> dict[tuple[int, str], int]:
    """Each band segment's track in its band: a key's spans are joined, keys whose spans overlap
    get different tracks."""
    joined: dict[int, dict[str, tuple[float, float]]] = {}
    for points in plans.values():
        for kind, value in points:
            if kind != "xy":
                continue
            _, y = value
            if isinstance(y, tuple) and y[0] == "band":
                _, band, key, a, b = y
                lo, hi = joined.setdefault(band, {}).get(key, (min(a, b), max(a, b)))
                joined[band][key] = (min(lo, a, b), max(hi, a, b))
    tracks: dict[tuple[int, str], int] = {}
    for band, keyed in joined.items():
        used: list[list[tuple[float, float]]] = []
        for key, (a, b) in sorted(keyed.items(), key=lambda item: (item[1], item[0])):
            for i, taken in enumerate(used):
                if all(b + 0.6 < x or a - 0.6 > y for x, y in taken):
                    taken.append((a, b))
                    tracks[(band, key)] = i
                    break
            else:
                used.append([(a, b)])
                tracks[(band, key)] = len(used) - 1
    return tracks


def place_boundaries(model: ProcessModel, size: dict[str, tuple[float, float]]) -> dict[str, str]:
    sides: dict[str, str] = {}
    for node in model.nodes.values():
        for i, boundary in enumerate(model.boundaries(node.id)):
            sides[boundary.id] = "bottom" if i % 2 == 0 else "top"
    return sides
