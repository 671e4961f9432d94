"""The lineage tree: upstream or downstream of an entity, expanded lazily one level at a time.

Expanding a node asks the daemon for that node's lineage at depth 1, so even a huge
graph opens instantly and only the paths someone looks at are fetched.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from mds.wire import JSON
from tui.errors import describe_failure
from tui.format import TITLE_WIDTH, badge, clip, name_of
from tui.screens.base import PageScreen
from tui.widgets.lists import NavTree

NodeData = dict[str, Any]


def edge_type(answer: JSON, a: str, b: str) -> str:
    for edge in answer.get("edges", []):
        if {edge.get("source"), edge.get("target")} == {a, b}:
            return str(edge.get("type", ""))
    return ""


def node_label(node: JSON, via: str, level: int, cycle: bool = False) -> Text:
    text = Text.assemble(badge(node.get("entity_type")), " ", (name_of(node), "bold"))
    if via:
        text.append(f"  {via}", style="italic dim")
    text.append(f"  d{level}", style="dim")
    if cycle:
        text.append("  (cycle)", style="yellow")
    return text


class LineageScreen(PageScreen):
    AUTO_FOCUS = "#tree"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "toggle_direction", "Up/downstream", key_display="tab", id="lineage_toggle"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static(id="summary")
        yield NavTree("lineage", id="tree")

    @property
    def direction(self) -> str:
        return str(
            self.location.state.get("direction")
            or self.location.params.get("direction")
            or "upstream"
        )

    @property
    def lineage_tree(self) -> NavTree:
        return self.query_one("#tree", NavTree)

    async def load(self) -> None:
        assert self.entity_id is not None
        answer = await self.client.lineage(
            self.entity_id, direction=self.direction, depth=1, **self.moments
        )
        self.note_as_of(answer)
        root = next((n for n in answer.get("nodes", []) if n.get("id") == self.entity_id), None)
        root = root or {"id": self.entity_id, "name": self.mds.names.get(self.entity_id)}
        self.location.title = name_of(root)
        tree = self.lineage_tree
        tree.reset(
            node_label(root, "", 0),
            {"id": self.entity_id, "loaded": True, "level": 0, "path": {self.entity_id}},
        )
        count = self._graft(tree.root, answer)
        tree.root.expand()
        arrow = "⬆ upstream" if self.direction == "upstream" else "⬇ downstream"
        summary = Text.assemble(
            (arrow, "bold"),
            " of ",
            (clip(name_of(root), TITLE_WIDTH), "bold"),
            f"  ·  {count} direct",
        )
        summary.append("   tab/l toggle · → expand · ← collapse · enter open", style="dim")
        self.query_one("#summary", Static).update(summary)

    def _graft(self, node: TreeNode[NodeData], answer: JSON) -> int:
        data = node.data or {}
        parent_id = str(data.get("id"))
        level = int(data.get("level", 0)) + 1
        children = [
            n
            for n in answer.get("nodes", [])
            if n.get("id") != parent_id and int(n.get("depth", 1)) == 1
        ]
        children.sort(key=lambda n: (str(n.get("entity_type")), name_of(n).lower()))
        for child in children:
            child_id = str(child["id"])
            self.mds.names[child_id] = name_of(child)
            cycle = child_id in data.get("path", set())
            node.add(
                node_label(child, edge_type(answer, parent_id, child_id), level, cycle),
                {
                    "id": child_id,
                    "loaded": False,
                    "level": level,
                    "path": data.get("path", set()) | {child_id},
                },
                allow_expand=not cycle,
            )
        if not children:
            node.allow_expand = False
            if node.is_root:
                node.add_leaf(Text(f"no {self.direction} lineage", style="dim italic"))
        return len(children)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and not data.get("loaded"):
            data["loaded"] = True
            self._expand(event.node)

    @work(group="expand", exit_on_error=False)
    async def _expand(self, node: TreeNode[NodeData]) -> None:
        data = node.data or {}
        try:
            answer = await self.client.lineage(
                str(data["id"]), direction=self.direction, depth=1, **self.moments
            )
        except Exception as exc:
            data["loaded"] = False
            failure = describe_failure(exc, self.mds.said_moments)
            node.collapse()
            self.notify(failure.message, severity=failure.severity)
            return
        self._graft(node, answer)

    def on_tree_node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data and data.get("id"):
            self.mds.open_entity(str(data["id"]))

    def pointed_id(self) -> str | None:
        node = self.lineage_tree.cursor_node
        found = node.data.get("id") if node is not None and node.data else None
        return str(found) if found else self.entity_id

    def touches(self, entity_ids: set[str]) -> bool:
        shown: set[str] = set()
        stack = [self.lineage_tree.root]
        while stack:
            node = stack.pop()
            if node.data and node.data.get("id"):
                shown.add(str(node.data["id"]))
            stack.extend(node.children)
        return bool(shown & entity_ids)

    def save_state(self) -> None:
        self.location.state["direction"] = self.direction

    def action_toggle_direction(self) -> None:
        self.location.state["direction"] = (
            "downstream" if self.direction == "upstream" else "upstream"
        )
        self.reload()

    def action_lineage(self) -> None:
        self.action_toggle_direction()
