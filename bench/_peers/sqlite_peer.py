"""SQLite: the embedded database a Python team already has.

A relational schema with history: static attributes in ``entity``, scores and edges with
their validity intervals ``[start, end)``. Walks run as a recursive CTE and, as a second
variant, as one query per hop. Beside it, the plain schema a team without history would
write (``plain_edge``: the current edges only, no intervals to check), walked both ways
too. SQLite gets a page cache big enough to hold the database, so its warm numbers are
in-memory numbers too; its first-touch numbers run each walk on a connection opened for
it (an empty page cache; the OS page cache warm), as the store's run on a fresh store.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from _peers.common import (
    HOPS,
    Config,
    first_touch,
    flat_pull_checksum,
    length_checksum,
    measure,
    peak_rss_mb,
    reach_checksum,
)
from _peers.dataset import OPEN

SQL_OPEN = 1 << 62  # SQLite integers are signed 64-bit: the "still true" end, in SQL
SCHEMA = """
CREATE TABLE entity (
    id INTEGER PRIMARY KEY, xid TEXT NOT NULL, name TEXT, kind TEXT, owner TEXT,
    description TEXT, created TEXT, size INTEGER, active INTEGER, tags TEXT, config TEXT
);
CREATE TABLE score (e INTEGER NOT NULL, v REAL, start INTEGER, "end" INTEGER);
CREATE TABLE edge (child INTEGER NOT NULL, parent INTEGER NOT NULL, start INTEGER, "end" INTEGER);
CREATE TABLE plain_edge (child INTEGER NOT NULL, parent INTEGER NOT NULL);
"""
INDEXES = """
CREATE INDEX score_e ON score (e, start);
CREATE INDEX edge_parent ON edge (parent, start, "end", child);
CREATE INDEX edge_child ON edge (child, start, "end", parent);
CREATE INDEX plain_edge_parent ON plain_edge (parent, child);
"""
WALK = """
WITH RECURSIVE walk(node, depth) AS (
    SELECT ?1, 0
    UNION
    SELECT edge.child, walk.depth + 1 FROM edge JOIN walk ON edge.parent = walk.node
    WHERE walk.depth < ?3 AND edge.start <= ?2 AND ?2 < edge."end"
)
SELECT node, min(depth) FROM walk GROUP BY node
"""
PLAIN_WALK = """
WITH RECURSIVE walk(node, depth) AS (
    SELECT ?1, 0
    UNION
    SELECT plain_edge.child, walk.depth + 1 FROM plain_edge JOIN walk
        ON plain_edge.parent = walk.node
    WHERE walk.depth < ?2
)
SELECT node, min(depth) FROM walk GROUP BY node
"""
PULL = """
SELECT xid, name, kind, owner, description, created, size, active, tags, config,
    (SELECT v FROM score WHERE e = ?1 AND start <= ?2 AND ?2 < "end") AS score
FROM entity WHERE id = ?1
"""
UPSTREAM = """
SELECT entity.xid FROM edge JOIN entity ON entity.id = edge.parent
WHERE edge.child = ?1 AND edge.start <= ?2 AND ?2 < edge."end"
"""
INCOMING = """
SELECT entity.xid FROM edge JOIN entity ON entity.id = edge.child
WHERE edge.parent = ?1 AND edge.start <= ?2 AND ?2 < edge."end"
"""
HOP = 'SELECT child FROM edge WHERE parent IN ({}) AND start <= ? AND ? < "end"'
PLAIN_HOP = "SELECT child FROM plain_edge WHERE parent IN ({})"
REFS_IN = 'SELECT child FROM edge WHERE parent = ?1 AND start <= ?2 AND ?2 < "end"'


def run(config: Config) -> dict[str, Any]:
    data, asked = config.load()
    path = Path(config.workdir) / "bench.sqlite"
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -1048576")  # 1 GiB: the whole database stays cached
    db.executescript(SCHEMA)
    with db:
        db.executemany(
            "INSERT INTO entity VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    i,
                    e.xid,
                    e.name,
                    e.kind,
                    e.owner,
                    e.description,
                    e.created.isoformat(),
                    e.size,
                    e.active,
                    ",".join(e.tags),
                    repr(e.config),
                )
                for i, e in enumerate(data.entities)
            ),
        )
        db.executemany(
            "INSERT INTO score VALUES (?, ?, ?, ?)",
            (
                (i, v, s, min(end, SQL_OPEN))
                for i, versions in data.score_intervals().items()
                for v, s, end in versions
            ),
        )
        db.executemany(
            "INSERT INTO edge VALUES (?, ?, ?, ?)",
            ((c, p, s, min(end, SQL_OPEN)) for c, p, s, end in data.edge_intervals()),
        )
        db.executemany(
            "INSERT INTO plain_edge VALUES (?, ?)",
            ((c, p) for c, p, _, end in data.edge_intervals() if end == OPEN),
        )
    db.executescript(INDEXES)
    db.execute("ANALYZE")
    load_s = time.perf_counter() - started
    assert OPEN > SQL_OPEN > data.last_tx

    def pull(i: int, t: int) -> dict[str, Any]:
        cursor = db.execute(PULL, (i, t))
        names = [d[0] for d in cursor.description]
        out = dict(zip(names, cursor.fetchone(), strict=True))
        out["tags"] = out["tags"].split(",")
        out["upstream"] = [x for (x,) in db.execute(UPSTREAM, (i, t))]
        out["_in"] = [x for (x,) in db.execute(INCOMING, (i, t))]
        return out

    def walk_cte(t: int, on: sqlite3.Connection = db) -> Any:
        return lambda s: len(on.execute(WALK, (s, t, HOPS)).fetchall())

    def walk_plain_cte(on: sqlite3.Connection = db) -> Any:
        return lambda s: len(on.execute(PLAIN_WALK, (s, HOPS)).fetchall())

    def walk_per_hop(hop: str, *bound: int, on: sqlite3.Connection = db) -> Any:
        """One query per hop: ``hop`` selects the children of the ``?`` marks it is
        given, with ``bound`` after them."""

        def walk(start: int) -> int:
            depth = {start: 0}
            frontier = [start]
            for level in range(1, HOPS + 1):
                following = []
                for lo in range(0, len(frontier), 500):
                    chunk = frontier[lo : lo + 500]
                    rows = on.execute(hop.format(",".join("?" * len(chunk))), (*chunk, *bound))
                    for (child,) in rows:
                        if child not in depth:
                            depth[child] = level
                            following.append(child)
                frontier = following
            return len(depth)

        return walk

    def on_fresh_connection(make: Any) -> Any:
        """``make(connection)`` is a walk; each runs on a connection opened for it."""

        def each(start: int) -> tuple[float, int]:
            fresh = sqlite3.connect(path)
            try:
                fresh.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the schema
                started = time.perf_counter()
                reached = make(fresh)(start)
                return (time.perf_counter() - started) * 1e6, reached
            finally:
                fresh.close()

        return each

    now, t0 = data.last_tx, data.t0
    ops = {
        "pull": measure(lambda i: pull(i, now), asked.entities, flat_pull_checksum),
        "pull_asof": measure(lambda i: pull(i, t0), asked.entities, flat_pull_checksum),
        "refs_in": measure(
            lambda i: db.execute(REFS_IN, (i, now)).fetchall(), asked.entities, length_checksum
        ),
        "traverse": measure(walk_cte(now), asked.starts, reach_checksum),
        "traverse_asof": measure(walk_cte(t0), asked.starts, reach_checksum),
        "traverse@per hop": measure(walk_per_hop(HOP, now, now), asked.starts, reach_checksum),
        "traverse_asof@per hop": measure(walk_per_hop(HOP, t0, t0), asked.starts, reach_checksum),
        "traverse@plain": measure(walk_plain_cte(), asked.starts, reach_checksum),
        "traverse@plain per hop": measure(walk_per_hop(PLAIN_HOP), asked.starts, reach_checksum),
    }
    first = {
        "traverse_first": lambda on: walk_cte(now, on),
        "traverse_first@per hop": lambda on: walk_per_hop(HOP, now, now, on=on),
        "traverse_first@plain": walk_plain_cte,
        "traverse_first@plain per hop": lambda on: walk_per_hop(PLAIN_HOP, on=on),
    }
    for op, make in first.items():
        ops[op] = first_touch(on_fresh_connection(make), asked.starts, reach_checksum)
    db.close()
    return {"load_s": load_s, "ops": ops, "peak_rss_mb": peak_rss_mb()}
