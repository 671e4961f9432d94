"""What changed about an entity since a moment (``:diff WHEN``): its own facts, and its
lineage up and downstream, then against now (or against the moment the app shows).

"What did this model's lineage look like last Tuesday?" answered as the difference: the
upstream and downstream entities and edges that came or went, and each fact of the entity
that changed, old value beside new. Enter opens the entity of a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mds.client import ApiError
from mds.graph.flow import FlowEdge, FlowGraph
from mds.wire import JSON
from tui.asof import Moments, said_moments
from tui.format import TITLE_WIDTH, badge, clip, name_of, tags_text
from tui.screens.listing import ListScreen
from tui.widgets.lists import Row

#: how far up and downstream the lineage is compared
DIFF_DEPTH = 3
#: the entity's facts compared, as the entity answer names them
FACTS = ("name", "description", "status", "owners", "tags")


def fact_changes(then: JSON | None, now: JSON | None) -> list[tuple[str, str, str]]:
    """(fact, then, now) for each fact of the entity that differs, attributes included."""
    if then is None or now is None:
        return []

    def shown(doc: JSON, key: str) -> str:
        value = doc.get(key)
        if key == "tags":
            return tags_text(value or []).plain
        if isinstance(value, list):
            return ", ".join(str(v).rsplit("/", 1)[-1] for v in value)
        return "" if value is None else clip(value, 50)

    changes = [(key, shown(then, key), shown(now, key)) for key in FACTS]
    before, after = then.get("attributes") or {}, now.get("attributes") or {}
    for key in sorted(set(before) | set(after)):
        changes.append((key, clip(before.get(key, ""), 50), clip(after.get(key, ""), 50)))
    return [(key, old, new) for key, old, new in changes if old != new]


def graph_changes(
    then: FlowGraph, now: FlowGraph
) -> tuple[list[JSON], list[JSON], list[FlowEdge], list[FlowEdge]]:
    """(nodes added, nodes gone, edges added, edges gone) between two lineage graphs."""
    added = [now.nodes[n] for n in now.nodes.keys() - then.nodes.keys()]
    gone = [then.nodes[n] for n in then.nodes.keys() - now.nodes.keys()]
    edges_then, edges_now = set(then.edges), set(now.edges)
    return (
        sorted(added, key=name_of),
        sorted(gone, key=name_of),
        sorted(edges_now - edges_then, key=lambda e: (e.upstream, e.downstream)),
        sorted(edges_then - edges_now, key=lambda e: (e.upstream, e.downstream)),
    )


class DiffScreen(ListScreen):
    COLUMNS: ClassVar[tuple[str, ...]] = ("what", "then", "now")

    def compose_top(self) -> ComposeResult:
        yield Static(id="summary")

    @property
    def since(self) -> str:
        return self.location.params["since"]

    async def load(self) -> None:
        assert self.entity_id is not None
        then_moments: Moments = {"as_of": self.since, "known_at": None}
        (entity_then, graph_then), (entity_now, graph_now) = await asyncio.gather(
            self._side(then_moments), self._side(self.moments)
        )
        name = name_of(entity_now or entity_then or {"id": self.entity_id})
        self.location.title = name
        rows = [
            Row(
                (Text(key, style="bold"), Text(old, style="red"), Text(new, style="green")), "facts"
            )
            for key, old, new in fact_changes(entity_then, entity_now)
        ]
        added, gone, new_edges, old_edges = graph_changes(graph_then, graph_now)
        names = {**graph_then.nodes, **graph_now.nodes}
        rows += [self._node_row(n, "+ lineage now", "", "here") for n in added]
        rows += [self._node_row(n, "- lineage then", "here", "") for n in gone]
        rows += [self._edge_row(e, names, "+ edges now", False) for e in new_edges]
        rows += [self._edge_row(e, names, "- edges then", True) for e in old_edges]
        self.show_rows(rows)
        now_said = said_moments(**self.moments) or "now"
        summary = Text.assemble(
            ("What changed about ", ""),
            (clip(name, TITLE_WIDTH), "bold"),
            f" from {self.since} to {now_said}",
        )
        if entity_then is None:
            summary.append(f"\nIt did not exist as of {self.since}.", style="yellow")
        if not rows:
            summary.append("\nNothing: the same facts and lineage.", style="dim")
        summary.append(
            f"\nits facts, and lineage {DIFF_DEPTH} steps up and downstream", style="dim"
        )
        self.query_one("#summary", Static).update(summary)

    async def _side(self, moments: Moments) -> tuple[JSON | None, FlowGraph]:
        """The entity and its lineage (both ways) at ``moments``; None and an empty graph
        when it did not exist then."""
        assert self.entity_id is not None
        try:
            entity, *answers = await asyncio.gather(
                self.client.entity(self.entity_id, **moments),
                *(
                    self.client.lineage(self.entity_id, direction=d, depth=DIFF_DEPTH, **moments)
                    for d in ("upstream", "downstream")
                ),
            )
        except ApiError as exc:
            if exc.status == 404:
                return None, FlowGraph(self.entity_id)
            raise
        return entity, FlowGraph.from_answers(self.entity_id, answers)

    @staticmethod
    def _node_row(node: JSON, group: str, then: str, now: str) -> Row:
        label = Text.assemble(badge(node.get("entity_type")), " ", clip(name_of(node), 48))
        return Row((label, then, now), group, target=str(node.get("id")))

    @staticmethod
    def _edge_row(edge: FlowEdge, names: Mapping[str, Any], group: str, gone: bool) -> Row:
        ends = f"{name_of(names.get(edge.upstream) or {'id': edge.upstream})} → "
        ends += name_of(names.get(edge.downstream) or {"id": edge.downstream})
        ends = clip(ends, 56)  # the then/now columns stay on an 80-column screen
        style = "red" if gone else "green"
        kind = f"{edge.type}{' (inferred)' if edge.inferred else ''}"
        cells = (
            Text(ends),
            Text(kind, style=style) if gone else "",
            "" if gone else Text(kind, style=style),
        )
        return Row(cells, group, target=edge.downstream)
