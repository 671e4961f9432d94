"""The first lineage after a start against the same lineage warm, on a daemon's store.

    .venv/bin/python bench/lineage_bench.py [--size 100000] [--roots 15] [--store DIR]

A simulator world of ``--size`` entities is written through the daemon's own normalizers
and ``Writer`` (``enrichment_bench.preload``; ``--store`` keeps it for the next run). Then,
for ``--roots`` roots of each kind below, the store is opened afresh (RocksDB's block cache
and the interval caches empty, the OS page cache warm: a daemon that just started) and
``queries.lineage`` answers through the daemon's metered view, as a read worker does; the
same lineage again is the warm time. The socket and JSON encoding are not counted.
Target: the first lineage <= 15 ms at 100k entities.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from enrichment_bench import preload

from mdsd import facts as F
from mdsd.reads import queries
from mdsd.reads.cost import Meter, MeteredDb, ReadLimits
from simulator import World
from store import FactStore

RESULTS = Path(__file__).resolve().parent / "results" / "lineage.json"
#: (entity type, direction): the lineages people ask for
ASKED = (
    ("Dataset", "downstream"),
    ("Model", "upstream"),
    ("ModelInstance", "upstream"),
    ("AbTest", "upstream"),
)
TARGET_MS = 15.0


def roots(path: Path, per_kind: int, seed: int) -> dict[tuple[str, str], list[str]]:
    """``per_kind`` ids of each asked type, drawn with ``seed``."""
    by_type: dict[str, list[str]] = {}
    with FactStore(path) as store:
        for e, kind in store.db().entities_with(F.TYPE):
            xid = store.xid_of(e)
            if xid is not None:
                by_type.setdefault(kind, []).append(xid)
    rng = random.Random(seed)
    return {
        (kind, direction): rng.sample(by_type[kind], min(per_kind, len(by_type[kind])))
        for kind, direction in ASKED
    }


def lineage_ms(store: FactStore, xid: str, direction: str) -> tuple[float, float, int]:
    """Milliseconds of one lineage through the metered view (wall, and CPU: on a machine
    shared with other work the wall time mostly measures the wait for a core), and its
    node count."""
    started, cpu = time.perf_counter(), time.process_time()
    answer = queries.lineage(MeteredDb(store.db(), Meter(ReadLimits())), xid, direction)
    wall, spent = time.perf_counter() - started, time.process_time() - cpu
    return wall * 1000, spent * 1000, len(answer["nodes"])


def measure(path: Path, asked: dict[tuple[str, str], list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (kind, direction), xids in asked.items():
        first, first_cpu, warm, nodes = [], [], [], []
        for xid in xids:
            with FactStore(path) as store:
                took, spent, reached = lineage_ms(store, xid, direction)
                first.append(took)
                first_cpu.append(spent)
                nodes.append(reached)
                warm.append(min(lineage_ms(store, xid, direction)[0] for _ in range(3)))
        out[f"{kind} {direction}"] = {
            "first_ms": {"p50": statistics.median(first), "max": max(first)},
            "first_cpu_ms": {"p50": statistics.median(first_cpu), "max": max(first_cpu)},
            "warm_ms": {"p50": statistics.median(warm), "max": max(warm)},
            "nodes": {"p50": statistics.median(nodes), "max": max(nodes)},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="entities in the world")
    parser.add_argument("--roots", type=int, default=15, help="roots per kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", type=Path, help="keep the written store here, reuse it")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lineage-bench-") as tmp:
        path = args.store or Path(tmp) / "facts"
        if not path.exists():
            units, seconds = preload(World.generate(size=args.size, seed=args.seed), path)
            print(f"wrote {units:,} units in {seconds:.0f} s", flush=True)
        result = measure(path, roots(path, args.roots, args.seed))
    print(
        f"{'lineage':<24} {'first p50':>10} {'cpu p50':>9} {'first max':>10} {'warm p50':>9} "
        f"{'nodes':>6}"
    )
    for name, row in result.items():
        print(
            f"{name:<24} {row['first_ms']['p50']:>8.1f}ms {row['first_cpu_ms']['p50']:>7.1f}ms "
            f"{row['first_ms']['max']:>8.1f}ms {row['warm_ms']['p50']:>7.1f}ms "
            f"{row['nodes']['p50']:>6.0f}"
        )
    worst = max(row["first_ms"]["p50"] for row in result.values())
    worst_cpu = max(row["first_cpu_ms"]["p50"] for row in result.values())
    print(
        f"first lineage p50, worst kind: {worst:.1f} ms wall, {worst_cpu:.1f} ms CPU "
        f"(target <= {TARGET_MS:g} ms)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"size": args.size, "lineages": result}, indent=2))


if __name__ == "__main__":
    main()
