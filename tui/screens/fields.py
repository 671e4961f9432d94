"""A dataset's field: what it is, the fields it is computed from and the fields it feeds.

Both directions on one page, each the whole closure of the field's column lineage
(``GET /v1/lineage?field=``), nearest first, with how each step transforms (``DIRECT/
AGGREGATION``, a filter of the whole dataset). Enter opens the highlighted field's own
page, ``d`` the highlighted field's dataset (this field's when none is).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from mds.wire import JSON
from mds.wire.columns import FIELD_TYPE, how
from tui.format import TITLE_WIDTH, badge, clip, name_of
from tui.nav import Location
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row

#: (direction asked, the group its fields are listed under)
SIDES = (("upstream", "⬆ from"), ("downstream", "⬇ to"))


def field_name(node: JSON) -> str:
    """``dataset.field``: a field is read with its dataset's name."""
    return f"{node.get('dataset_name') or name_of({'id': node.get('dataset')})}.{node.get('field')}"


def steps(answer: JSON, direction: str) -> dict[str, str]:
    """Field id -> how it is reached from the field one step nearer the root."""
    far = "target" if direction == "upstream" else "source"
    found: dict[str, list[str]] = {}
    for edge in answer.get("edges", []):
        found.setdefault(str(edge.get(far)), []).append(how(edge))
    return {node: ", ".join(dict.fromkeys(labels)) for node, labels in found.items()}


def side_rows(answer: JSON, direction: str, group: str) -> list[Row]:
    reached = steps(answer, direction)
    nodes = [n for n in answer.get("nodes", []) if n.get("id") != answer.get("root")]
    nodes.sort(key=lambda n: (int(n.get("depth") or 0), field_name(n)))
    return [
        Row(
            cells=(
                Text(clip(field_name(node), 34), style="bold"),
                Text(clip(reached.get(str(node.get("id")), ""), 31), style="italic"),
                Text(f"d{node.get('depth')}", style="dim"),
            ),
            group=group,
            target=str(node.get("id")),
            data=node,
        )
        for node in nodes
    ]


class FieldScreen(ListScreen):
    """One field of a dataset (``Location("field", DATASET, {"field": NAME})``)."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("field", "how", "")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "open_dataset", "Dataset", id="open_dataset"),
    ]

    @property
    def field(self) -> str:
        return self.location.params["field"]

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    async def load(self) -> None:
        assert self.entity_id is not None
        up, down = await asyncio.gather(
            *(
                self.client.lineage(
                    self.entity_id, field=self.field, direction=direction, **self.moments
                )
                for direction, _ in SIDES
            )
        )
        self.note_as_of(up)
        root: JSON = next((n for n in up.get("nodes", []) if n.get("id") == up.get("root")), {})
        title = field_name({**root, "dataset": self.entity_id, "field": self.field})
        self.location.title = title
        rows = [
            *side_rows(up, "upstream", SIDES[0][1]),
            *side_rows(down, "downstream", SIDES[1][1]),
        ]
        self.show_rows(rows)
        summary = Text.assemble(badge(FIELD_TYPE), " ", (clip(title, TITLE_WIDTH), "bold"))
        if root.get("type"):
            summary.append(f"  {root['type']}", style="cyan")
        summary.append(f"\n{root.get('description') or 'no description'}", style="dim")
        counts = [sum(r.group == group for r in rows) for _, group in SIDES]
        summary.append(f"\n{counts[0]} upstream · {counts[1]} downstream", style="bold")
        if not rows:
            summary.append("  (no column lineage names this field)", style="dim italic")
        summary.append("   enter open field · o dataset", style="dim")
        self.query_one("#summary", Static).update(summary)

    def activate(self, row: Row) -> None:
        """Enter on a field: its own page, where it comes from and where it goes."""
        node = row.data
        if isinstance(node, dict) and node.get("dataset") and node.get("field"):
            self.mds.go(Location("field", str(node["dataset"]), {"field": str(node["field"])}))

    def action_open_dataset(self) -> None:
        row = self.table.current
        node = row.data if row is not None else None
        dataset = node.get("dataset") if isinstance(node, dict) else None
        self.mds.open_entity(str(dataset or self.entity_id))

    def touches(self, entity_ids: set[str]) -> bool:
        """A change to this field's dataset, or to the dataset of a field listed."""
        if super().touches(entity_ids):
            return True
        shown = {row.data.get("dataset") for row in self.table.rows_shown if row.data}
        return bool(shown & entity_ids)
