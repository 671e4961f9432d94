"""A flow graph laid out in layers, left to right, on a character grid.

grandalf does the Sugiyama work (ranks, dummy vertices for long edges, crossing reduction,
coordinates within a layer); this module turns its answer into terminal cells: each layer
a column of one-line labels, each gap between layers a few vertical tracks (one per node
sending edges across it, so edges from different nodes do not merge into one bus), and
every edge a run of box-drawing cells ending in an arrowhead at its downstream node.

Cells hold the directions of the lines through them (``N``/``E``/``S``/``W`` bits), so
crossings and junctions come out as the right glyph however many edges meet there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mds.graph.flow import FlowEdge, FlowGraph

if TYPE_CHECKING:  # imported where a graph is laid out: grandalf brings numpy (~100 ms)
    from grandalf.graphs import Edge
    from grandalf.layouts import SugiyamaLayout

N, E, S, W = 1, 2, 4, 8
#: the box-drawing glyph of a cell by the directions its lines leave it
GLYPHS: dict[int, str] = {
    E: "─", W: "─", E | W: "─", N: "│", S: "│", N | S: "│",
    E | S: "┌", W | S: "┐", N | E: "└", N | W: "┘",
    N | S | E: "├", N | S | W: "┤", E | W | S: "┬", E | W | N: "┴", N | E | S | W: "┼",
}  # fmt: skip
#: widest label drawn, in cells; longer names are cut with an ellipsis
LABEL_MAX = 30
#: vertical tracks in one gap at most: beyond, sending nodes share them
TRACKS_MAX = 6

Cell = tuple[int, int]  # (row, column)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a node's label sits: ``row``, columns ``col`` to ``col + width``, ``rank``."""

    row: int
    col: int
    width: int
    rank: int


@dataclass(slots=True)
class Drawing:
    """A laid-out graph: label places, line cells and, per cell, the edges through it.

    A cell's edges are an int used as a bit set: lighting a node's edges, or telling
    whether only inferred edges pass a cell, is then one ``&`` per cell drawn."""

    places: dict[str, Place] = field(default_factory=dict)
    lines: dict[Cell, int] = field(default_factory=dict)
    arrows: dict[Cell, str] = field(default_factory=dict)
    #: per cell, the edges through it as a bit set (bit i: ``edges[i]``)
    through: dict[Cell, int] = field(default_factory=dict)
    edges: list[FlowEdge] = field(default_factory=list)
    #: each layer's nodes, top to bottom (for moving between them)
    layers: list[list[str]] = field(default_factory=list)
    height: int = 0
    width: int = 0

    def glyph(self, cell: Cell) -> str | None:
        arrow = self.arrows.get(cell)
        if arrow is not None:
            return arrow
        bits = self.lines.get(cell)
        return None if bits is None else GLYPHS[bits]


class _View:
    """What grandalf reads and writes of a vertex: its size and, once drawn, its place."""

    __slots__ = ("h", "w", "xy")

    def __init__(self) -> None:
        self.w, self.h = 1, 1
        self.xy: tuple[float, float] = (0.0, 0.0)


def lay_out(
    graph: FlowGraph, label_width: Callable[[str], int], widest: int = LABEL_MAX
) -> Drawing:
    """Lay ``graph`` out; ``label_width`` is how many cells a node's label takes, of
    which at most ``widest`` are drawn."""
    from grandalf.graphs import Edge, Graph, Vertex

    vertices = {node: Vertex(node) for node in graph.nodes}
    for vertex in vertices.values():
        vertex.view = _View()
    flow = [e for e in graph.edges if e.upstream != e.downstream]
    edges = [Edge(vertices[e.upstream], vertices[e.downstream]) for e in flow]
    drawing = Drawing(edges=flow)

    def width(node: str) -> int:
        return min(label_width(node), widest)

    top = 0
    for component in Graph(list(vertices.values()), edges).C:
        top = _component(component, flow, edges, width, drawing, top) + 2
    drawing.height = max(top - 2, 0)
    return drawing


def _component(
    component: object,
    flow: list[FlowEdge],
    edges: list[Edge],
    label_width: Callable[[str], int],
    drawing: Drawing,
    top: int,
) -> int:
    """Lay one connected component out below row ``top``; the last row it uses."""
    from grandalf.layouts import SugiyamaLayout

    sugiyama = SugiyamaLayout(component)
    sugiyama.xspace = sugiyama.yspace = 1
    sugiyama.dw = sugiyama.dh = 1
    sugiyama.init_all()
    sugiyama.draw()
    # rows: grandalf's positions within each layer, kept at least one blank row apart
    rows: dict[object, int] = {}
    xs = [v.view.xy[0] for layer in sugiyama.layers for v in layer]
    low = min(xs, default=0.0)
    for layer in sugiyama.layers:
        last = -2
        for vertex in sorted(layer, key=lambda v: v.view.xy[0]):
            rows[vertex] = last = max(round(vertex.view.xy[0] - low) + top, last + 2)
    # columns: each layer as wide as its widest label, then a gap with a track per sender
    ranks = len(sugiyama.layers)
    widths = [
        max((label_width(v.data) for v in layer if not _dummy(v)), default=1)
        for layer in sugiyama.layers
    ]
    senders: list[list[object]] = [[] for _ in range(ranks)]
    routes: list[list[object]] = []
    component_edges = [(i, e) for i, e in enumerate(edges) if e in sugiyama.g.sE]
    for _, edge in component_edges:
        route = _route(sugiyama, edge)
        routes.append(route)
        for vertex in route[:-1]:
            if vertex not in senders[sugiyama.grx[vertex].rank]:
                senders[sugiyama.grx[vertex].rank].append(vertex)
    starts, col = [], 0
    for rank in range(ranks):
        starts.append(col)
        col += widths[rank] + 3 + min(len(senders[rank]), TRACKS_MAX)
    drawing.width = max(drawing.width, col)
    tracks = {
        vertex: starts[rank] + widths[rank] + 1 + i % TRACKS_MAX
        for rank in range(ranks)
        for i, vertex in enumerate(sorted(senders[rank], key=rows.__getitem__))
    }
    while len(drawing.layers) < ranks:
        drawing.layers.append([])
    for rank, layer in enumerate(sugiyama.layers):
        real = sorted((v for v in layer if not _dummy(v)), key=rows.__getitem__)
        for vertex in real:
            width = label_width(vertex.data)
            drawing.places[vertex.data] = Place(rows[vertex], starts[rank], width, rank)
        drawing.layers[rank] += [v.data for v in real]
    for (index, edge), route in zip(component_edges, routes, strict=True):
        backwards = route[0] is not edge.v[0]  # grandalf turned it to break a cycle
        _draw(drawing, index, route, rows, starts, widths, tracks, sugiyama, backwards)
    return max(rows.values(), default=top)


def _dummy(vertex: object) -> bool:
    """A vertex grandalf added to route a long edge (not one of ours, which have a view)."""
    return not isinstance(getattr(vertex, "view", None), _View)


def _route(sugiyama: SugiyamaLayout, edge: Edge) -> list[object]:
    """The vertices an edge passes, by increasing rank (dummies included)."""
    a, b = edge.v
    if sugiyama.grx[a].rank > sugiyama.grx[b].rank:
        a, b = b, a
    ctrl = sugiyama.ctrls.get(edge)
    if not ctrl:
        return [a, b]
    return [ctrl[r] for r in sorted(ctrl)]


def _draw(
    drawing: Drawing,
    index: int,
    route: list[object],
    rows: dict[object, int],
    starts: list[int],
    widths: list[int],
    tracks: dict[object, int],
    sugiyama: SugiyamaLayout,
    backwards: bool,
) -> None:
    """Draw one edge along ``route``: out of each vertex's right side, down or up its
    sender's track, into the next vertex's left side."""

    lines, through, bit = drawing.lines, drawing.through, 1 << index

    def horizontal(row: int, left: int, right: int) -> None:
        for col in range(left, right + 1):
            cell = (row, col)
            lines[cell] = lines.get(cell, 0) | (E if col < right else 0) | (W if col > left else 0)
            through[cell] = through.get(cell, 0) | bit

    def vertical(col: int, a: int, b: int) -> None:
        top, bottom = min(a, b), max(a, b)
        for row in range(top, bottom + 1):
            cell = (row, col)
            lines[cell] = lines.get(cell, 0) | (S if row < bottom else 0) | (N if row > top else 0)
            through[cell] = through.get(cell, 0) | bit

    for here, there in itertools.pairwise(route):
        rank = sugiyama.grx[here].rank
        row, next_row, track = rows[here], rows[there], tracks[here]
        if _dummy(here):  # a long edge passing a layer: a line straight through it
            horizontal(row, starts[rank] - 1, starts[rank] + widths[rank])
            left = starts[rank] + widths[rank]
        else:
            left = drawing.places[here.data].col + drawing.places[here.data].width  # type: ignore[attr-defined]
        horizontal(row, left, track)
        vertical(track, row, next_row)
        horizontal(next_row, track, starts[rank + 1] - 1)
    first, last = route[0], route[-1]
    if backwards:  # the arrow points back at the node the data flows into
        place = drawing.places[first.data]  # type: ignore[attr-defined]
        drawing.arrows[(place.row, place.col + place.width)] = "◀"
    else:
        place = drawing.places[last.data]  # type: ignore[attr-defined]
        drawing.arrows[(place.row, place.col - 1)] = "▶"


def plain(drawing: Drawing, labels: dict[str, str]) -> list[str]:
    """The drawing as lines of text (labels cut to their places), for a log or a test."""
    grid = [[" "] * drawing.width for _ in range(drawing.height + 1)]
    for (row, col), bits in drawing.lines.items():
        grid[row][col] = GLYPHS[bits]
    for (row, col), arrow in drawing.arrows.items():
        grid[row][col] = arrow
    for node, place in drawing.places.items():
        text = labels[node]
        if len(text) > place.width:
            text = text[: place.width - 1] + "…"
        text = text.ljust(place.width)
        grid[place.row][place.col : place.col + place.width] = list(text)
    return ["".join(line).rstrip() for line in grid]
