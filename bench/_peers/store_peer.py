"""The fact store itself, loaded through its public API exactly as the daemon writes.

Reads are measured warm (the decoded-interval cache already holds what the query touches),
cold (that cache emptied before every query; RocksDB's block cache and the OS page cache
stay warm, so "cold" is the cost of scanning and decoding, not of the disk) and on first
touch (each query on a store opened just for it: RocksDB's block cache empty too, only
the OS page cache warm, as after a daemon starts).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from _peers.common import (
    HOPS,
    Config,
    first_touch,
    length_checksum,
    measure,
    peak_rss_mb,
    pull_checksum,
    reach_checksum,
    summary,
    timed,
)
from _peers.dataset import BATCH_ENTITIES, Dataset, Entity
from store import Add, Attribute, Cardinality, FactStore, Op, Retract, ValueType

UPSTREAM = "bench/upstream"
SCHEMA = [
    Attribute("bench/name", ValueType.STRING, indexed=True),
    Attribute("bench/kind", ValueType.STRING, indexed=True),
    Attribute("bench/owner", ValueType.STRING),
    Attribute("bench/description", ValueType.STRING),
    Attribute("bench/created", ValueType.INSTANT),
    Attribute("bench/size", ValueType.INT),
    Attribute("bench/score", ValueType.FLOAT),
    Attribute("bench/active", ValueType.BOOL),
    Attribute("bench/tags", ValueType.STRING, Cardinality.MANY),
    Attribute("bench/config", ValueType.JSON),
    Attribute(UPSTREAM, ValueType.REF, Cardinality.MANY),
]


def entity_ops(entity: Entity, xids: list[str]) -> list[Op]:
    x = entity.xid
    ops: list[Op] = [
        Add(x, "bench/name", entity.name),
        Add(x, "bench/kind", entity.kind),
        Add(x, "bench/owner", entity.owner),
        Add(x, "bench/description", entity.description),
        Add(x, "bench/created", entity.created),
        Add(x, "bench/size", entity.size),
        Add(x, "bench/score", entity.score),
        Add(x, "bench/active", entity.active),
        Add(x, "bench/config", entity.config),
    ]
    ops += [Add(x, "bench/tags", tag) for tag in entity.tags]
    ops += [Add(x, UPSTREAM, xids[p]) for p in entity.parents]
    return ops


def load(store: FactStore, data: Dataset) -> dict[str, Any]:
    """Write the initial load and the churn; time only ``transact`` (not building ops)."""
    xids = [e.xid for e in data.entities]
    store.install(SCHEMA)
    spent, cpu, datoms = 0.0, 0.0, 0
    for lo in range(0, len(data.entities), BATCH_ENTITIES):
        ops = [op for e in data.entities[lo : lo + BATCH_ENTITIES] for op in entity_ops(e, xids)]
        started, started_cpu = time.perf_counter(), time.thread_time()
        report = store.transact(ops, {"batch": lo // BATCH_ENTITIES})
        spent += time.perf_counter() - started
        cpu += time.thread_time() - started_cpu
        assert report is not None and report.tx == data.created_tx[lo]
        datoms += len(report.datoms)
    by_tx: dict[int, list[Op]] = {}
    for edit in data.edits:
        x = xids[edit.entity]
        by_tx.setdefault(edit.tx, []).extend(
            [
                Retract(x, UPSTREAM, xids[edit.old]),
                Add(x, UPSTREAM, xids[edit.new]),
                Add(x, "bench/score", edit.score),
            ]
        )
    churn_spent, churn_datoms = 0.0, 0
    for tx, ops in sorted(by_tx.items()):
        started = time.perf_counter()
        report = store.transact(ops, {"churn": tx})
        churn_spent += time.perf_counter() - started
        assert report is not None and report.tx == tx
        churn_datoms += len(report.datoms)
    assert store.last_tx == data.last_tx
    return {
        "datoms": datoms,
        "seconds": spent,
        "datoms_per_s": datoms / spent,
        # The calling thread's CPU time only: what a machine busy with other work hides.
        "cpu_datoms_per_s": datoms / cpu,
        "batch_datoms": datoms / len(range(0, len(data.entities), BATCH_ENTITIES)),
        "churn_datoms_per_s": churn_datoms / churn_spent if churn_spent else 0.0,
    }


def pulled_checksum(answers: list[dict[str, Any]]) -> list[float]:
    """``pull_checksum`` of the store's pulls: values (``_in`` sources included), score."""
    counted = []
    for p in answers:
        values = 0
        for key, value in p.items():
            if key == "_in":
                values += sum(len(sources) for sources in value.values())
            elif key != "db/id":
                values += len(value) if isinstance(value, list) else 1
        counted.append((values, p["bench/score"]))
    return pull_checksum(counted)


def run(config: Config) -> dict[str, Any]:
    data, asked = config.load()
    path = Path(config.workdir) / "store"
    started = time.perf_counter()
    with FactStore(path) as store:
        transact = load(store, data)
    load_s = time.perf_counter() - started

    opens = []
    for _ in range(3):
        started = time.perf_counter()
        store = FactStore(path)
        opens.append((time.perf_counter() - started) * 1e6)
        store.close()
    store = FactStore(path)
    eid: dict[int, int] = {}
    for i in asked.entities + asked.starts:
        found = store.lookup_xid(data.entities[i].xid)
        assert found is not None
        eid[i] = found
    entities = [eid[i] for i in asked.entities]
    starts = [eid[i] for i in asked.starts]
    steps = [(UPSTREAM, "in")]
    store.close()

    def on_fresh_store(read: Any) -> Any:
        def each(arg: int) -> tuple[float, Any]:
            with FactStore(path) as fresh:
                started = time.perf_counter()
                answer = read(fresh.db(), arg)
                return (time.perf_counter() - started) * 1e6, answer

        return each

    first = {
        "pull_first": first_touch(
            on_fresh_store(lambda db, e: db.pull(e)), entities, pulled_checksum
        ),
        "traverse_first": first_touch(
            on_fresh_store(lambda db, s: len(db.traverse([s], steps, HOPS).depth)),
            starts,
            reach_checksum,
        ),
    }
    store = FactStore(path)
    now, then = store.db(), store.as_of(data.t0)

    def cold(fn: Any, args: list[int], checksum: Any) -> dict[str, Any]:
        def each(arg: int) -> Any:
            store.drop_caches()
            return fn(arg)

        latencies, answers = timed(each, args)
        return summary(latencies, checksum(answers))

    def walk(view: Any) -> Any:
        return lambda s: len(view.traverse([s], steps, HOPS).depth)

    ops = {
        "pull": measure(now.pull, entities, pulled_checksum),
        "pull_asof": measure(then.pull, entities, pulled_checksum),
        "refs_in": measure(now.refs_in, entities, length_checksum),
        "traverse": measure(walk(now), starts, reach_checksum),
        "traverse_asof": measure(walk(then), starts, reach_checksum),
        "pull_cold": cold(now.pull, entities, pulled_checksum),
        "pull_asof_cold": cold(then.pull, entities, pulled_checksum),
        "refs_in_cold": cold(now.refs_in, entities, length_checksum),
        "traverse_cold": cold(walk(now), starts, reach_checksum),
        "traverse_asof_cold": cold(walk(then), starts, reach_checksum),
        **first,
    }
    store.close()
    return {
        "load_s": load_s,
        "transact": transact,
        "open_us": statistics.median(opens),
        "ops": ops,
        "peak_rss_mb": peak_rss_mb(),
    }
