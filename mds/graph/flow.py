"""The lineage around an entity as a data-flow graph: who feeds whom, whatever way each
relationship points.

A lineage answer lists edges in their relationship's own direction (a run ``reads`` a
dataset, a run ``writes`` one); drawn as they are, arrows would point both ways along one
pipeline. ``LINEAGE_STEPS`` says, per relationship, which end is upstream, so every edge
is turned to run from upstream to downstream before it is laid out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mds.wire.model import LINEAGE_STEPS

#: relationship -> whether its target is upstream of its source
_TARGET_UPSTREAM: dict[str, bool] = {str(rel): o == "out" for rel, o in LINEAGE_STEPS}


@dataclass(frozen=True, slots=True)
class FlowEdge:
    """Data flows from ``upstream`` to ``downstream`` through a ``type`` relationship."""

    upstream: str
    downstream: str
    type: str
    inferred: bool


@dataclass(slots=True)
class FlowGraph:
    """Nodes (id -> the answer's node: entity_type, name, depth) and flow edges around
    ``root``; ``hidden`` are nodes folded away behind a collapsed one."""

    root: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[FlowEdge] = field(default_factory=list)
    hidden: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_answers(cls, root: str, answers: Iterable[Mapping[str, Any]]) -> FlowGraph:
        """Merge lineage answers (upstream, downstream or both) about ``root``."""
        graph = cls(root)
        seen: set[FlowEdge] = set()
        for answer in answers:
            for node in answer.get("nodes", []):
                graph.nodes.setdefault(str(node["id"]), dict(node))
            for edge in answer.get("edges", []):
                flow = flow_edge(edge)
                if flow not in seen:
                    seen.add(flow)
                    graph.edges.append(flow)
        graph.nodes.setdefault(root, {"id": root})
        graph.edges = [
            e for e in graph.edges if e.upstream in graph.nodes and e.downstream in graph.nodes
        ]
        return graph

    def side_of(self, node: str) -> int:
        """-1 upstream of the root, +1 downstream, 0 the root itself (by the walk's
        edges: a node reached from the root going downstream is downstream)."""
        if node == self.root:
            return 0
        return 1 if node in self._reach(self.root, downstream=True) else -1

    def behind(self, node: str) -> set[str]:
        """What collapsing ``node`` hides: the nodes beyond it, away from the root, that
        the root reaches only through it."""
        if node == self.root:
            return set()
        downstream = self.side_of(node) > 0
        beyond = self._reach(node, downstream) - {node}
        without = self._reach(self.root, downstream, avoid=node)
        return beyond - without

    def collapsed(self, folded: Iterable[str]) -> FlowGraph:
        """This graph with the nodes behind each of ``folded`` hidden."""
        hidden: dict[str, int] = {}
        gone: set[str] = set()
        for node in folded:
            if node in self.nodes and node not in gone:
                behind = self.behind(node)
                hidden[node] = len(behind)
                gone |= behind
        return FlowGraph(
            self.root,
            {k: v for k, v in self.nodes.items() if k not in gone},
            [e for e in self.edges if e.upstream not in gone and e.downstream not in gone],
            hidden,
        )

    def _reach(self, start: str, downstream: bool, avoid: str | None = None) -> set[str]:
        nexts: dict[str, list[str]] = {}
        for e in self.edges:
            a, b = (e.upstream, e.downstream) if downstream else (e.downstream, e.upstream)
            nexts.setdefault(a, []).append(b)
        seen = {start}
        stack = [start]
        while stack:
            for other in nexts.get(stack.pop(), []):
                if other not in seen and other != avoid:
                    seen.add(other)
                    stack.append(other)
        return seen


def flow_edge(edge: Mapping[str, Any]) -> FlowEdge:
    """An answer's edge turned to run with the data."""
    source, target, kind = str(edge["source"]), str(edge["target"]), str(edge.get("type", ""))
    up, down = (target, source) if _TARGET_UPSTREAM.get(kind, False) else (source, target)
    return FlowEdge(up, down, kind, bool(edge.get("inferred")))
