"""Path: the shortest chain of relationships between two entities."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.format import badge, name_of
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row


class PathScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("step", "type", "edge to next")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        assert self.entity_id is not None
        target = self.location.params["to"]
        answer = await self.client.path(self.entity_id, target, **self.moments)
        self.note_as_of(answer)
        path = answer.get("path", [])
        edges = answer.get("edges", [])
        rows = []
        for index, node in enumerate(path):
            edge_label = ""
            if index + 1 < len(path):
                nxt = path[index + 1]["id"]
                for edge in edges:
                    if edge.get("source") == node["id"] and edge.get("target") == nxt:
                        edge_label = f"─{edge.get('type')}→"
                    elif edge.get("source") == nxt and edge.get("target") == node["id"]:
                        edge_label = f"←{edge.get('type')}─"
            rows.append(
                Row(
                    (
                        Text.assemble(badge(node.get("entity_type")), " ", name_of(node)),
                        str(node.get("entity_type", "")),
                        edge_label,
                    ),
                    group=str(index),
                    target=node.get("id"),
                )
            )
        self.show_rows(rows)
        if path:
            self.location.title = f"{name_of(path[0])} → {name_of(path[-1])}"
        self.query_one("#summary", Static).update(
            Text.assemble(
                ("Path ", "bold"),
                f"{len(path) - 1 if path else 0} hops from ",
                (self.location.title, "bold"),
                ("  only through owners and teams", "yellow") if answer.get("via_people") else "",
            )
        )
