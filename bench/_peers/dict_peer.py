"""The floor: plain Python dicts and lists, everything in memory, no persistence.

Nothing real can beat this at its own game; it tells how much of a contender's time is the
walk itself and how much is its machinery. As-of answers filter each edge's interval.
"""

from __future__ import annotations

import time
from typing import Any

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

Intervals = list[tuple[int, int, int]]  # (other entity, start tx, end tx)


def run(config: Config) -> dict[str, Any]:
    data, asked = config.load()
    started = time.perf_counter()
    n = len(data.entities)
    xids = [e.xid for e in data.entities]
    attrs = [
        {
            "name": e.name,
            "kind": e.kind,
            "owner": e.owner,
            "description": e.description,
            "created": e.created,
            "size": e.size,
            "active": e.active,
            "tags": list(e.tags),
            "config": e.config,
        }
        for e in data.entities
    ]
    scores = data.score_intervals()
    parents: list[Intervals] = [[] for _ in range(n)]
    children: list[Intervals] = [[] for _ in range(n)]
    current_children: list[list[int]] = [[] for _ in range(n)]
    for child, parent, start, end in data.edge_intervals():
        parents[child].append((parent, start, end))
        children[parent].append((child, start, end))
        if end == OPEN:
            current_children[parent].append(child)
    load_s = time.perf_counter() - started

    def pull(i: int, t: int) -> dict[str, Any]:
        out: dict[str, Any] = dict(attrs[i])
        out["xid"] = xids[i]
        out["score"] = next(v for v, s, e in scores[i] if s <= t < e)
        out["upstream"] = [xids[p] for p, s, e in parents[i] if s <= t < e]
        out["_in"] = [xids[c] for c, s, e in children[i] if s <= t < e]
        return out

    def walk_current(start: int) -> int:
        depth = {start: 0}
        frontier = [start]
        for level in range(1, HOPS + 1):
            following = []
            for node in frontier:
                for child in current_children[node]:
                    if child not in depth:
                        depth[child] = level
                        following.append(child)
            frontier = following
        return len(depth)

    def walk_as_of(start: int, t: int) -> int:
        depth = {start: 0}
        frontier = [start]
        for level in range(1, HOPS + 1):
            following = []
            for node in frontier:
                for child, s, e in children[node]:
                    if s <= t < e and child not in depth:
                        depth[child] = level
                        following.append(child)
            frontier = following
        return len(depth)

    now, t0 = data.last_tx, data.t0
    ops = {
        "pull": measure(lambda i: pull(i, now), asked.entities, flat_pull_checksum),
        "pull_asof": measure(lambda i: pull(i, t0), asked.entities, flat_pull_checksum),
        "refs_in": measure(
            lambda i: [c for c, s, e in children[i] if s <= now < e],
            asked.entities,
            length_checksum,
        ),
        "traverse": measure(walk_current, asked.starts, reach_checksum),
        "traverse_asof": measure(lambda s: walk_as_of(s, t0), asked.starts, reach_checksum),
    }
    return {"load_s": load_s, "ops": ops, "peak_rss_mb": peak_rss_mb()}
