"""The lineage graph drawn in the terminal, moved through node by node from the keyboard.

A ``ScrollView`` on Textual's line API: only the rows on screen are rendered, each from
the laid-out cells, so a graph of hundreds of nodes scrolls as cheaply as a small one.
The selected node's label is reversed and its edges lit; inferred edges are drawn in
their own colour, so what enrichment concluded never reads as what a source declared.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mds.graph.layout import Drawing, Place

LINE = Style(color="#64748b")
INFERRED = Style(color="#d97706")
LIT = Style(color="#22d3ee", bold=True)


class GraphView(ScrollView, can_focus=True):
    """Shows a ``Drawing``; arrows move between nodes, Enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(0, -1)", "Up a layer", show=False, id="graph_up"),
        Binding("down,j", "move(0, 1)", "Down a layer", show=False, id="graph_down"),
        Binding("left", "move(-1, 0)", "Upstream node", show=False, id="graph_upstream"),
        Binding("right", "move(1, 0)", "Downstream node", show=False, id="graph_downstream"),
        Binding("home", "select_root", "The graph's entity", show=False, id="graph_root"),
        Binding("enter", "open", "Open", id="graph_open"),
    ]

    selected: reactive[str | None] = reactive(None, init=False)

    class Opened(Message):
        """Enter on a node."""

        def __init__(self, node: str) -> None:
            super().__init__()
            self.node = node

    class Moved(Message):
        """The selection moved to ``node``."""

        def __init__(self, node: str) -> None:
            super().__init__()
            self.node = node

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drawing = Drawing()
        self.labels: dict[str, Text] = {}
        self.root: str | None = None
        self._rows: dict[int, list[tuple[int, str]]] = {}
        self._cells: dict[int, list[int]] = {}
        self._lit = 0  # the selected node's edges, as a bit set (``Drawing.through``)
        self._inferred = 0

    def show(
        self, drawing: Drawing, labels: dict[str, Text], root: str, selected: str | None
    ) -> None:
        """Draw ``drawing`` (``labels`` by node id), selecting ``selected`` or the root."""
        self.drawing, self.labels, self.root = drawing, labels, root
        self._rows = {}
        for node, place in drawing.places.items():
            self._rows.setdefault(place.row, []).append((place.col, node))
        self._inferred = sum(1 << i for i, e in enumerate(drawing.edges) if e.inferred)
        self._cells = {}
        for row, col in sorted(set(drawing.lines) | set(drawing.arrows)):
            self._cells.setdefault(row, []).append(col)
        self.virtual_size = Size(drawing.width, drawing.height + 1)
        chosen = selected if selected in drawing.places else root
        self.set_reactive(GraphView.selected, None)
        self.selected = chosen
        # the new size lays the view out again (a scrollbar comes or goes): scrolled to the
        # selection once more after that, so the scrollbar shows where the view is
        self.call_after_refresh(self.on_resize)
        self.refresh()

    def watch_selected(self, node: str | None) -> None:
        self._lit = sum(
            1 << i
            for i, e in enumerate(self.drawing.edges)
            if node is not None and node in (e.upstream, e.downstream)
        )
        place = self.place(node)
        if place is not None:
            if self.size.area:  # else not laid out yet: on_resize scrolls once it is
                self._show_place(place)
            self.post_message(self.Moved(node))  # type: ignore[arg-type]
        self.refresh()

    def on_resize(self) -> None:
        """Keep the selected node in view: when first laid out (a graph drawn before the
        page's first paint), and when the terminal is resized."""
        place = self.place(self.selected)
        if place is not None:
            self._show_place(place)
        # Textual moves a scrollbar with the scroll only while the bar shows: one that
        # came with this layout stays where the view was scrolled before it came
        if self.show_horizontal_scrollbar:
            self.horizontal_scrollbar.position = self.scroll_x
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = self.scroll_y

    def _show_place(self, place: Place) -> None:
        self.scroll_to_region(
            Region(max(place.col - 2, 0), place.row, place.width + 4, 1), animate=False, force=True
        )

    def place(self, node: str | None) -> Place | None:
        return None if node is None else self.drawing.places.get(node)

    # -- drawing --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.size.width
        segments = self._row_segments(row)
        return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width)

    def _row_segments(self, row: int) -> list[Segment]:
        drawing = self.drawing
        segments: list[Segment] = []
        at = 0
        labels = sorted(self._rows.get(row, []))
        label_index = 0
        for col in self._cells.get(row, []):
            while label_index < len(labels) and labels[label_index][0] <= col:
                label_col, node = labels[label_index]
                if label_col >= at:
                    if label_col > at:
                        segments.append(Segment(" " * (label_col - at)))
                    segments += self._label(node)
                    at = label_col + drawing.places[node].width
                label_index += 1
            if col < at:
                continue
            if col > at:
                segments.append(Segment(" " * (col - at)))
            glyph = drawing.glyph((row, col)) or " "
            segments.append(Segment(glyph, self._line_style((row, col))))
            at = col + 1
        for label_col, node in labels[label_index:]:
            if label_col > at:
                segments.append(Segment(" " * (label_col - at)))
            segments += self._label(node)
            at = label_col + drawing.places[node].width
        return segments

    def _label(self, node: str) -> list[Segment]:
        text = self.labels.get(node) or Text(node)
        if node == self.selected:
            text = text.copy()
            text.stylize("reverse")
        if node == self.root:
            text = text.copy()
            text.stylize("underline")
        return list(text.render(self.app.console))

    def _line_style(self, cell: tuple[int, int]) -> Style:
        through = self.drawing.through.get(cell, 0)
        if through & self._lit:
            return LIT
        if through and not through & ~self._inferred:
            return INFERRED
        return LINE

    # -- moving ---------------------------------------------------------------------------

    def action_move(self, across: int, along: int) -> None:
        place = self.place(self.selected)
        if place is None or self.selected is None:
            return
        if along:
            layer = self.drawing.layers[place.rank]
            index = layer.index(self.selected) + along
            if 0 <= index < len(layer):
                self.selected = layer[index]
            return
        target = self._neighbour(self.selected, place, across)
        if target is not None:
            self.selected = target

    def _neighbour(self, node: str, place: Place, across: int) -> str | None:
        """The node one step up- or downstream: a linked one if any (nearest rank, then
        nearest row), else the nearest row of the next layer that way."""
        places = self.drawing.places
        linked = [
            e.upstream if across < 0 else e.downstream
            for e in self.drawing.edges
            if (e.downstream if across < 0 else e.upstream) == node
        ]
        linked = [n for n in linked if (places[n].rank - place.rank) * across > 0]
        if linked:
            return min(
                linked,
                key=lambda n: (abs(places[n].rank - place.rank), abs(places[n].row - place.row)),
            )
        rank = place.rank + across
        while 0 <= rank < len(self.drawing.layers):
            layer = self.drawing.layers[rank]
            if layer:
                return min(layer, key=lambda n: abs(places[n].row - place.row))
            rank += across
        return None

    def action_select_root(self) -> None:
        self.selected = self.root

    def action_open(self) -> None:
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))
