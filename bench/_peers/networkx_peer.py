"""networkx: the graph library a Python team would reach for first.

Current walks run on a DiGraph of the current edges (reversed view, BFS with a cutoff);
as-of walks on a view of the full history filtered by each edge's intervals, which is
how networkx expresses "the graph as it was".
"""

from __future__ import annotations

import time
from typing import Any

import networkx as nx

from _peers.common import (
    HOPS,
    Config,
    flat_pull_checksum,
    length_checksum,
    measure,
    peak_rss_mb,
    reach_checksum,
)
from _peers.dataset import OPEN


def run(config: Config) -> dict[str, Any]:
    data, asked = config.load()
    started = time.perf_counter()
    scores = data.score_intervals()
    history = nx.DiGraph()  # child -> parent, with every interval the edge was true
    for i, e in enumerate(data.entities):
        history.add_node(
            i,
            xid=e.xid,
            name=e.name,
            kind=e.kind,
            owner=e.owner,
            description=e.description,
            created=e.created,
            size=e.size,
            active=e.active,
            tags=list(e.tags),
            config=e.config,
            scores=scores[i],
        )
    for child, parent, start, end in data.edge_intervals():
        if history.has_edge(child, parent):
            history[child][parent]["spans"].append((start, end))
        else:
            history.add_edge(child, parent, spans=[(start, end)])
    current = nx.DiGraph()
    current.add_nodes_from(history.nodes)
    current.add_edges_from(
        (c, p) for c, p, spans in history.edges(data="spans") if spans[-1][1] == OPEN
    )
    load_s = time.perf_counter() - started

    def at(t: int) -> Any:
        def alive(u: int, v: int) -> bool:
            return any(s <= t < e for s, e in history[u][v]["spans"])

        return nx.subgraph_view(history, filter_edge=alive)

    def pull(view: Any, t: int, i: int) -> dict[str, Any]:
        node = history.nodes[i]
        out = {k: v for k, v in node.items() if k != "scores"}
        out["score"] = next(v for v, s, e in node["scores"] if s <= t < e)
        out["upstream"] = [history.nodes[p]["xid"] for p in view.successors(i)]
        out["_in"] = [history.nodes[c]["xid"] for c in view.predecessors(i)]
        return out

    now, t0 = data.last_tx, data.t0
    view_now, view_then = at(now), at(t0)
    downstream_now = current.reverse(copy=False)
    downstream_then = view_then.reverse(copy=False)

    def walk(graph: Any) -> Any:
        return lambda s: len(nx.single_source_shortest_path_length(graph, s, cutoff=HOPS))

    ops = {
        "pull": measure(lambda i: pull(view_now, now, i), asked.entities, flat_pull_checksum),
        "pull_asof": measure(lambda i: pull(view_then, t0, i), asked.entities, flat_pull_checksum),
        "refs_in": measure(
            lambda i: list(view_now.predecessors(i)), asked.entities, length_checksum
        ),
        "traverse": measure(walk(downstream_now), asked.starts, reach_checksum),
        "traverse_asof": measure(walk(downstream_then), asked.starts, reach_checksum),
    }
    return {"load_s": load_s, "ops": ops, "peak_rss_mb": peak_rss_mb()}
