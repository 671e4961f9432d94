"""``mds lineage -o graph|dot|mermaid``: the lineage answer as a picture, every edge drawn
with the data (from upstream to downstream, whichever way its relationship points).

``graph`` is the layered drawing mds-tui shows, in plain text for a terminal or a log;
``dot`` (Graphviz) and ``mermaid`` are for documents, inferred edges dashed in both.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from mds.graph.labels import node_label
from mds.wire import JSON

from .spec import Out

if TYPE_CHECKING:
    from mds.graph.flow import FlowGraph


def _graph(doc: JSON) -> FlowGraph:
    # imported when drawing: every command's start would pay for it otherwise (~4 ms)
    from mds.graph.flow import FlowGraph

    return FlowGraph.from_answers(str(doc.get("root")), [doc])


#: the widest label ``-o graph`` draws: wider than the explorer's, as a terminal or a log
#: scrolls sideways less often than a page has room
WIDEST = 48


def graph(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """The layered drawing, data flowing left to right."""
    # grandalf's layout brings numpy (~110 ms to import): only this drawing needs it
    from mds.graph.layout import lay_out, plain

    flow = _graph(doc)
    labels = {node: node_label(item) for node, item in flow.nodes.items()}
    for line in plain(lay_out(flow, lambda n: len(labels[n]), widest=WIDEST), labels):
        out.line(line)


def dot(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """Graphviz: ``mds lineage ID -o dot | dot -Tsvg > lineage.svg``."""
    flow = _graph(doc)
    out.line("digraph lineage {")
    out.line("  rankdir=LR;")
    out.line('  node [shape=box, style=rounded, fontname="Helvetica"];')
    for node, item in flow.nodes.items():
        bold = ", penwidth=2" if node == flow.root else ""
        out.line(f"  {json.dumps(node)} [label={json.dumps(node_label(item))}{bold}];")
    for edge in flow.edges:
        style = ", style=dashed" if edge.inferred else ""
        ends = f"{json.dumps(edge.upstream)} -> {json.dumps(edge.downstream)}"
        out.line(f"  {ends} [label={json.dumps(edge.type)}{style}];")
    out.line("}")


def mermaid(doc: JSON, args: argparse.Namespace, out: Out) -> None:
    """Mermaid (GitHub and most wikis render it): nodes by position, labelled by name."""
    flow = _graph(doc)
    ids = {node: f"n{i}" for i, node in enumerate(flow.nodes)}
    out.line("flowchart LR")
    for node, item in flow.nodes.items():
        text = node_label(item).replace('"', "#quot;")
        out.line(f'  {ids[node]}["{text}"]')
    for edge in flow.edges:
        arrow = "-.->" if edge.inferred else "-->"
        out.line(f"  {ids[edge.upstream]} {arrow}|{edge.type}| {ids[edge.downstream]}")
    out.line(f"  style {ids[flow.root]} stroke-width:3px")


#: ``-o`` format -> how it draws a lineage answer
DRAWINGS: dict[str, Callable[[JSON, argparse.Namespace, Out], None]] = {
    "graph": graph,
    "dot": dot,
    "mermaid": mermaid,
}
