"""Ladybug: the maintained fork of Kuzu, an embedded graph database with Cypher.

Entities are nodes, upstream edges are relationships carrying their validity interval
``[start, stop)``, and scores are versioned nodes. Data goes in through ``COPY FROM`` CSV
(its bulk path); walks are ``SHORTEST 1..6`` patterns with the interval as a recursive
relationship predicate, so current and as-of walks are the same query.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any, cast

import ladybug

from _peers.common import (
    HOPS,
    Config,
    length_checksum,
    measure,
    peak_rss_mb,
    pull_checksum,
    reach_checksum,
)
from _peers.dataset import OPEN

LB_OPEN = 1 << 62  # INT64 columns: the "still true" end
SCHEMA = [
    "CREATE NODE TABLE Entity(id INT64 PRIMARY KEY, xid STRING, name STRING, kind STRING, "
    "owner STRING, description STRING, created TIMESTAMP, size INT64, active BOOLEAN, "
    "tags STRING[], config STRING)",
    "CREATE NODE TABLE Score(id INT64 PRIMARY KEY, v DOUBLE, start INT64, stop INT64)",
    "CREATE REL TABLE HasScore(FROM Entity TO Score)",
    "CREATE REL TABLE Upstream(FROM Entity TO Entity, start INT64, stop INT64)",
]
#: A pull is four small queries: one combined query with OPTIONAL MATCHes measured ~10x
#: slower here, and a peer gets its best formulation.
PULL = [
    "MATCH (n:Entity) WHERE n.id = $id RETURN n.xid, n.name, n.kind, n.owner, n.description, "
    "n.created, n.size, n.active, n.tags, n.config",
    "MATCH (n:Entity)-[:HasScore]->(s:Score) WHERE n.id = $id AND s.start <= $t AND $t < s.stop "
    "RETURN s.v",
    "MATCH (n:Entity)-[u:Upstream]->(p:Entity) WHERE n.id = $id AND u.start <= $t AND $t < u.stop "
    "RETURN p.xid",
    "MATCH (c:Entity)-[d:Upstream]->(n:Entity) WHERE n.id = $id AND d.start <= $t AND $t < d.stop "
    "RETURN c.xid",
]
REFS_IN = """
MATCH (c:Entity)-[d:Upstream]->(n:Entity)
WHERE n.id = $id AND d.start <= $t AND $t < d.stop
RETURN c.id
"""
WALK = f"""
MATCH (a:Entity)<-[r:Upstream* SHORTEST 1..{HOPS} (e, n | WHERE e.start <= $t AND $t < e.stop)]-(b:Entity)
WHERE a.id = $id
RETURN count(*)
"""


def write_csv(path: Path, rows: Any) -> str:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    return str(path)


def run(config: Config) -> dict[str, Any]:
    data, asked = config.load()
    work = Path(config.workdir)
    started = time.perf_counter()
    db = ladybug.Database(work / "ladybug", buffer_pool_size=2 << 30)
    conn = ladybug.Connection(db)
    for statement in SCHEMA:
        conn.execute(statement)
    entities = write_csv(
        work / "entities.csv",
        (
            (
                i,
                e.xid,
                e.name,
                e.kind,
                e.owner,
                e.description,
                e.created.strftime("%Y-%m-%d %H:%M:%S"),
                e.size,
                str(e.active).lower(),
                "[" + ",".join(e.tags) + "]",
                json.dumps(e.config),
            )
            for i, e in enumerate(data.entities)
        ),
    )
    versions = [
        (i, v, s, min(end, LB_OPEN))
        for i, history in data.score_intervals().items()
        for v, s, end in history
    ]
    scores = write_csv(
        work / "scores.csv", ((k, v, s, e) for k, (_, v, s, e) in enumerate(versions))
    )
    has_score = write_csv(work / "has_score.csv", ((i, k) for k, (i, *_) in enumerate(versions)))
    upstream = write_csv(
        work / "upstream.csv",
        ((c, p, s, min(end, LB_OPEN)) for c, p, s, end in data.edge_intervals()),
    )
    conn.execute(f"COPY Entity FROM '{entities}' (header=false)")
    conn.execute(f"COPY Score FROM '{scores}' (header=false)")
    conn.execute(f"COPY HasScore FROM '{has_score}' (header=false)")
    conn.execute(f"COPY Upstream FROM '{upstream}' (header=false)")
    load_s = time.perf_counter() - started
    assert OPEN > LB_OPEN > data.last_tx

    def rows(query: str, params: dict[str, Any]) -> list[list[Any]]:
        result = conn.execute(query, params)
        assert not isinstance(result, list)
        return cast(list[list[Any]], result.get_all())

    def pull(i: int, t: int) -> dict[str, Any]:
        node, score, upstream, incoming = (rows(q, {"id": i, "t": t}) for q in PULL)
        return {"node": node[0], "score": score[0][0], "upstream": upstream, "_in": incoming}

    def pulled(answers: list[dict[str, Any]]) -> list[float]:
        counted = []
        for p in answers:
            values = sum(len(v) if isinstance(v, list) else 1 for v in p["node"])
            values += 1 + len(p["upstream"]) + len(p["_in"])
            counted.append((values, p["score"]))
        return pull_checksum(counted)

    def walk(t: int) -> Any:
        return lambda s: rows(WALK, {"id": s, "t": t})[0][0] + 1

    now, t0 = data.last_tx, data.t0
    ops = {
        "pull": measure(lambda i: pull(i, now), asked.entities, pulled),
        "pull_asof": measure(lambda i: pull(i, t0), asked.entities, pulled),
        "refs_in": measure(
            lambda i: rows(REFS_IN, {"id": i, "t": now}), asked.entities, length_checksum
        ),
        "traverse": measure(walk(now), asked.starts, reach_checksum),
        "traverse_asof": measure(walk(t0), asked.starts, reach_checksum),
    }
    conn.close()
    db.close()
    return {"load_s": load_s, "ops": ops, "peak_rss_mb": peak_rss_mb()}
