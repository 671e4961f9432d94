"""Benchmark of the two time axes: valid-time and combined reads against the current read,
and importing a graph with its history against importing it without.

    .venv/bin/python bench/time_bench.py [--entities 100000] [--quick]

One generated lineage graph (the store benchmark's: layered datasets -> features ->
pipelines -> models -> instances -> tests, each entity created at its own past instant,
then churn that re-parents some), loaded twice: once as today's facts only (every datom
valid from its transaction) and once with its history (each entity ``Created`` at its own
instant, its facts valid from then, churn valid from a later date). On the store with
history, the same pulls and 6-hop downstream walks run in four views: current, as of a
valid time inside the history (three quarters of the entities exist then, so walks are
smaller), that valid time as known at the end of the initial load (system time), and a
valid time after the whole history ("late": the same answers as current, through the
valid-time path). Warm and first touch (the
decoded cache emptied before each query) side by side.

Targets (issue 17): a valid-time read within 1.5x of the current read, a combined one
within 2x; importing with history within 1.3x of importing without. Results in
bench/results/time.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from _peers.common import HOPS, measure, reach_checksum, summary, timed
from _peers.dataset import BATCH_ENTITIES, Dataset, generate, queries
from _peers.store_peer import SCHEMA, UPSTREAM, entity_ops

from store import Add, Created, Db, FactStore, Op, Replace, Retract

RESULTS = Path(__file__).resolve().parent / "results" / "time.json"
#: how long after an entity's creation the churn that re-parents it happened
CHURN_AFTER = timedelta(days=30)
TARGETS = {"valid": 1.5, "combined": 2.0, "import": 1.3}


def with_history(ops: list[Op], created: Any) -> list[Op]:
    """The same ops, valid from the entity's creation, which the first one states."""
    out: list[Op] = [Created(ops[0].e, created)]
    for op in ops:
        assert isinstance(op, Add)
        out.append(Add(op.e, op.attr, op.value, created))
    return out


def load(store: FactStore, data: Dataset, history: bool) -> float:
    """Seconds spent in ``transact`` for the initial load and the churn."""
    xids = [e.xid for e in data.entities]
    store.install(SCHEMA)
    spent = 0.0
    for lo in range(0, len(data.entities), BATCH_ENTITIES):
        ops: list[Op] = []
        for e in data.entities[lo : lo + BATCH_ENTITIES]:
            mine = entity_ops(e, xids)
            ops += with_history(mine, e.created) if history else mine
        started = time.perf_counter()
        store.transact(ops)
        spent += time.perf_counter() - started
    by_tx: dict[int, list[Op]] = {}
    for edit in data.edits:
        x = xids[edit.entity]
        when = data.entities[edit.entity].created + CHURN_AFTER if history else None
        by_tx.setdefault(edit.tx, []).extend(
            [
                Retract(x, UPSTREAM, xids[edit.old], when),
                Add(x, UPSTREAM, xids[edit.new], when),
                Replace(x, "bench/score", [edit.score], when),
            ]
        )
    for _, ops in sorted(by_tx.items()):
        started = time.perf_counter()
        store.transact(ops)
        spent += time.perf_counter() - started
    return spent


def reads(
    store: FactStore, views: dict[str, Db], starts: list[int], entities: list[int]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    steps = [(UPSTREAM, "in")]
    for name, view in views.items():

        def walk(s: int, view: Db = view) -> int:
            return len(view.traverse([s], steps, HOPS).depth)

        def pull(e: int, view: Db = view) -> int:
            return len(view.pull(e))

        def cold(fn: Any, args: list[int]) -> dict[str, Any]:
            def each(arg: int) -> Any:
                store.drop_caches()
                return fn(arg)

            latencies, answers = timed(each, args)
            return summary(latencies, reach_checksum(answers))

        out[name] = {
            "pull": measure(pull, entities, reach_checksum),
            "traverse": measure(walk, starts, reach_checksum),
            "pull_cold": cold(pull, entities),
            "traverse_cold": cold(walk, starts),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="a small graph: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    n = 5_000 if args.quick else args.entities
    data = generate(n)
    asked = queries(data, 100, 300)
    with tempfile.TemporaryDirectory() as work:
        with FactStore(Path(work) / "plain") as plain:
            plain_s = load(plain, data, history=False)
        store = FactStore(Path(work) / "history")
        history_s = load(store, data, history=True)
        ids = [store.lookup_xid(e.xid) for e in data.entities]
        moment = data.entities[int(n * 0.75)].created
        late = data.entities[-1].created + 2 * CHURN_AFTER
        views = {
            "current": store.db(),
            "valid": store.valid_at(moment),
            "combined": store.as_of(data.t0).valid_at(moment),
            "valid_late": store.valid_at(late),
        }
        existing = [i for i in asked.entities if data.entities[i].created <= moment]
        measured = reads(
            store,
            views,
            [ids[i] for i in asked.starts],  # type: ignore[misc]
            [ids[i] for i in existing],  # type: ignore[misc]
        )
        store.close()
    ratios = {"import": history_s / plain_s}
    for view in ("valid", "combined", "valid_late"):
        for op in ("pull", "traverse", "pull_cold", "traverse_cold"):
            ratios[f"{view} {op}"] = (
                measured[view][op]["p50_us"] / measured["current"][op]["p50_us"]
            )
    print(f"{n:,} entities; import {plain_s:.2f} s without history, {history_s:.2f} s with")
    print(f"{'read (p50)':<16}{'current':>12}{'valid':>12}{'combined':>12}{'valid, late':>14}")
    for op in ("pull", "traverse", "pull_cold", "traverse_cold"):
        row = [measured[v][op]["p50_us"] for v in ("current", "valid", "combined", "valid_late")]
        print(f"{op:<16}" + "".join(f"{us:>10.1f}us" for us in row[:3]) + f"{row[3]:>12.1f}us")
    print()
    for name, ratio in ratios.items():
        target = TARGETS["import" if name == "import" else name.split()[0].split("_")[0]]
        verdict = "ok" if ratio <= target else "OVER"
        print(f"{name:<26}{ratio:>6.2f}x  (target <= {target}x) {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "entities": n,
                "import_s": {"plain": plain_s, "history": history_s},
                "reads": measured,
                "ratios": ratios,
                "targets": TARGETS,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
