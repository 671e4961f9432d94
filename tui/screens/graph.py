"""The lineage graph: what feeds an entity and what it feeds, drawn as one layered picture.

Where the lineage tree (``l``) reads one path at a time, this draws the whole
neighbourhood, data flowing left to right: upstream on the left of the entity,
downstream on its right, inferred edges in their own colour. The depth and direction
are the page's own, and a node can be folded away with everything only it leads to.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from mds.graph.flow import FlowGraph
from mds.graph.labels import kind_label
from mds.graph.layout import LABEL_MAX, Drawing, lay_out
from mds.wire import JSON
from tui.format import BADGE_STYLES, TITLE_WIDTH, clip, name_of
from tui.nav import Location
from tui.screens.base import PageScreen
from tui.widgets.graph_view import GraphView

DIRECTIONS = ("both", "upstream", "downstream")
DEPTH_DEFAULT, DEPTH_MAX = 2, 8


def label(node: JSON, hidden: int = 0) -> Text:
    """``KIND name`` in the kind's colours, cut to fit; ``+N`` when N nodes are folded
    behind it."""
    entity_type = str(node.get("entity_type") or "")
    kind, style = kind_label(entity_type), BADGE_STYLES.get(entity_type, "reverse")
    folded = f" +{hidden}" if hidden else ""
    room = LABEL_MAX - len(kind) - 2 - len(folded)
    text = Text.assemble((f" {kind} ", style), (f"{clip(name_of(node), room)}", "bold"))
    if folded:
        text.append(folded, style="italic yellow")
    return text


class GraphScreen(PageScreen):
    AUTO_FOCUS = "#graph"
    CONTENT = "#graph"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "direction", "Direction", id="graph_direction"),
        Binding("plus,equals_sign", "depth(1)", "Deeper", key_display="+", id="graph_deeper"),
        Binding("minus", "depth(-1)", "Shallower", key_display="-", id="graph_shallower"),
        Binding("c", "fold", "Fold", id="graph_fold"),
        Binding("f", "focus_node", "Focus", id="graph_focus"),
    ]

    def __init__(self, location: Location) -> None:
        super().__init__(location)
        #: the graph last loaded, before folding
        self.graph = FlowGraph(location.id or "")

    def compose_body(self) -> ComposeResult:
        yield Static(id="summary")
        yield GraphView(id="graph")

    @property
    def view(self) -> GraphView:
        return self.query_one("#graph", GraphView)

    @property
    def direction(self) -> str:
        found = self.location.state.get("direction") or self.location.params.get("direction")
        return str(found) if found in DIRECTIONS else "both"

    @property
    def depth(self) -> int:
        return int(self.location.state.get("depth", DEPTH_DEFAULT))

    @property
    def folded(self) -> set[str]:
        found: set[str] = self.location.state.setdefault("folded", set())
        return found

    async def load(self) -> None:
        assert self.entity_id is not None
        directions = ("upstream", "downstream") if self.direction == "both" else (self.direction,)
        answers = await asyncio.gather(
            *(
                self.client.lineage(self.entity_id, direction=d, depth=self.depth, **self.moments)
                for d in directions
            )
        )
        self.note_as_of(answers[0])
        self.graph = FlowGraph.from_answers(self.entity_id, answers)
        graph = self.graph.collapsed(self.folded)
        labels = {
            node: label(item, graph.hidden.get(node, 0)) for node, item in graph.nodes.items()
        }
        drawing = await asyncio.to_thread(lay_out, graph, lambda n: labels[n].cell_len)
        for node, item in graph.nodes.items():
            if item.get("name"):
                self.mds.names[node] = str(item["name"])
        root = graph.nodes[self.entity_id]
        self.location.title = name_of(root)
        self.view.show(drawing, labels, self.entity_id, self.location.state.get("selected"))
        truncated = any(a.get("truncated") for a in answers)
        self._summarize(root, drawing, truncated)

    def _summarize(self, root: JSON, drawing: Drawing, truncated: bool) -> None:
        inferred = sum(1 for e in drawing.edges if e.inferred)
        summary = Text.assemble(
            ("graph", "bold"),
            " of ",
            (clip(name_of(root), TITLE_WIDTH), "bold"),
            f"  ·  {self.direction}  ·  depth {self.depth}  ·  ",
            f"{len(drawing.places)} nodes, {len(drawing.edges)} edges",
        )
        if inferred:
            summary.append(f" ({inferred} inferred)", style="#d97706")
        if truncated:
            summary.append("  ·  cut at the walk's node limit", style="yellow")
        summary.append(
            "\n←→ up/downstream · ↑↓ within a layer · enter open · c fold · f focus", style="dim"
        )
        self.query_one("#summary", Static).update(summary)

    def pointed_id(self) -> str | None:
        return self.view.selected

    def touches(self, entity_ids: set[str]) -> bool:
        return bool(set(self.view.drawing.places) & entity_ids)

    def save_state(self) -> None:
        self.location.state["selected"] = self.view.selected

    # -- actions --------------------------------------------------------------------------

    def on_graph_view_opened(self, event: GraphView.Opened) -> None:
        event.stop()
        self.mds.open_entity(event.node)

    def on_graph_view_moved(self, event: GraphView.Moved) -> None:
        event.stop()
        self.location.state["selected"] = event.node

    def action_direction(self) -> None:
        self.location.state["direction"] = DIRECTIONS[
            (DIRECTIONS.index(self.direction) + 1) % len(DIRECTIONS)
        ]
        self.reload()

    def action_depth(self, step: int) -> None:
        depth = min(max(self.depth + step, 1), DEPTH_MAX)
        if depth != self.depth:
            self.location.state["depth"] = depth
            self.reload()

    def action_fold(self) -> None:
        node = self.view.selected
        if node is None or node == self.entity_id:
            self.notify("The entity the graph is about cannot be folded.", severity="warning")
            return
        if node in self.folded:
            self.folded.discard(node)
        elif self.graph.behind(node):
            self.folded.add(node)
        else:
            self.notify(f"Nothing lies behind {self.mds.names.get(node, node)} to fold.")
            return
        self.reload(quiet=True)

    def action_focus_node(self) -> None:
        node = self.view.selected
        if node is not None and node != self.entity_id:
            self.mds.go(Location("graph", node))
