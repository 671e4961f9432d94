"""Benchmark of the fact store against the obvious alternatives, on two graphs.

    .venv/bin/python bench/store_bench.py [--entities 200000] [--graphs lineage,random]
        [--quick]

Generates a layered ML lineage graph (raw datasets -> derived datasets -> features ->
pipelines -> models -> instances -> A/B tests, ~5 parents each, ~10 attributes per entity,
then churn that re-parents and rescores some entities) and, beside it, an independently
generated one (a preferential-attachment DAG, ``dataset.generate_random_dag``); loads each
into each contender and asks each the same questions: pull an entity (current and as of
the end of the initial load), its reverse references, and a 6-hop downstream walk from 100
starts (current and as-of). Contenders: the store, a dict-of-lists BFS (the floor),
networkx, SQLite (its temporal schema and a plain one without history, each walked by a
recursive CTE and by one query per hop) and Ladybug (the Kuzu fork), each in its own
process so memory and caches do not interfere. Answers are checksummed and compared
across contenders.

Reads are timed warm and, for the store and SQLite, on first touch: each walk on a store
or connection opened for it (only the OS page cache warm). Prints, per graph, a table of
p50/p90 latencies with ratios to the floor and the store's targets, and writes everything
to bench/results/store.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peers.dataset import GRAPHS  # noqa: E402  (bench/ is not a package)

RESULTS = HERE / "results" / "store.json"
#: contender -> the module under bench/_peers that runs it
PEERS = {
    "dict": "dict_peer",
    "store": "store_peer",
    "networkx": "networkx_peer",
    "sqlite": "sqlite_peer",
    "ladybug": "ladybug_peer",
}
OPS = {
    "pull": "pull (~20 datoms)",
    "pull_asof": "pull, as of",
    "refs_in": "reverse refs",
    "traverse": "6-hop downstream",
    "traverse_asof": "6-hop downstream, as of",
    "pull_first": "pull, first touch",
    "traverse_first": "6-hop downstream, first touch",
}
#: suffixes of the ops that answer what the op without them answers, measured otherwise
VARIANTS = ("_cold", "_first")
FLOOR = "dict"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument(
        "--graphs", default="lineage,random", help="comma-separated graphs: lineage, random"
    )
    parser.add_argument("--graph", choices=list(GRAPHS), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="a small graph: a smoke test")
    parser.add_argument("--starts", type=int, default=100, help="walks (start nodes)")
    parser.add_argument("--pulls", type=int, default=300, help="entities pulled")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated contenders")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--peer", choices=list(PEERS), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.entities, args.starts, args.pulls = 5_000, 20, 100
    if args.peer:
        run_peer(args)
    else:
        orchestrate(args)


def run_peer(args: argparse.Namespace) -> None:
    """In a child process: run one contender and write its results as JSON."""
    from _peers.common import Config

    module = importlib.import_module(f"_peers.{PEERS[args.peer]}")
    config = Config(args.entities, args.starts, args.pulls, args.workdir, args.graph)
    args.result.write_text(json.dumps(module.run(config)))


def orchestrate(args: argparse.Namespace) -> None:
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        raise SystemExit(f"unknown contenders: {sorted(unknown)}; known: {list(PEERS)}")
    graphs = [g.strip() for g in args.graphs.split(",") if g.strip()]
    if set(graphs) - set(GRAPHS):
        raise SystemExit(f"unknown graphs: {graphs}; known: {list(GRAPHS)}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "graphs": {}}
    for graph in graphs:
        report["graphs"][graph] = run_graph(args, graph, peers)
    report["machine"]["load_average"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten to {args.out}")


def run_graph(args: argparse.Namespace, graph: str, peers: list[str]) -> dict[str, Any]:
    """Every contender on one graph; its report (shape, results, checks), printed."""
    from _peers.common import edge_count

    data = GRAPHS[graph](args.entities)
    shape = {
        "graph": graph,
        "entities": args.entities,
        "edges": edge_count(data),
        "transactions": data.last_tx,
        "as_of_tx": data.t0,
        "churn_edits": len(data.edits),
        "walks": args.starts,
        "pulls": args.pulls,
    }
    print(
        f"\n{graph} graph: {shape['entities']:,} entities, {shape['edges']:,} edges, "
        f"{shape['transactions']} transactions (as-of = tx {shape['as_of_tx']}, before "
        f"{shape['churn_edits']:,} re-parentings); {args.starts} walks, {args.pulls} pulls",
        flush=True,
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        for peer in peers:
            results[peer] = run_child(args, peer, graph, Path(tmp))
    report = {"shape": shape, "results": results, "checks": checks(results)}
    print_report(report)
    return report


def run_child(args: argparse.Namespace, peer: str, graph: str, tmp: Path) -> dict[str, Any]:
    workdir = tmp / peer
    workdir.mkdir()
    result = workdir / "result.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--peer", peer, "--graph", graph, "--workdir", str(workdir), "--result", str(result)),
        *("--entities", str(args.entities), "--starts", str(args.starts)),
        *("--pulls", str(args.pulls)),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not result.exists():
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  {peer}: FAILED ({error})", flush=True)
        return {"error": error, "stderr": done.stderr[-4000:]}
    print(f"  {peer}: done in {elapsed:.1f} s", flush=True)
    loaded: dict[str, Any] = json.loads(result.read_text())
    return loaded


def columns(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Contender column -> op -> measurement (a peer may report variants, ``op@variant``)."""
    out: dict[str, dict[str, Any]] = {}
    for peer, result in results.items():
        for key, measured in result.get("ops", {}).items():
            op, _, variant = key.partition("@")
            column = f"{peer} ({variant})" if variant else peer
            out.setdefault(column, {})[op] = measured
    return out


def base(op: str) -> str:
    """The op a variant (cold, first touch) measures otherwise."""
    for suffix in VARIANTS:
        op = op.removesuffix(suffix)
    return op


def checks(results: dict[str, Any]) -> dict[str, Any]:
    """The store's targets, and whether every contender gave the floor's answers."""
    cols = columns(results)
    floor, store = cols.get(FLOOR, {}), cols.get("store", {})
    mismatches = [
        f"{column}: {op}"
        for column, ops in cols.items()
        for op, measured in ops.items()
        if base(op) in floor and measured["checksum"] != floor[base(op)]["checksum"]
    ]
    out: dict[str, Any] = {"answers_differ_from_floor": mismatches}
    if not store:
        return out

    def p50(column: str, op: str) -> float | None:
        measured = cols.get(column, {}).get(op)
        return None if measured is None else float(measured["p50_us"])

    walk, walk_then = p50("store", "traverse"), p50("store", "traverse_asof")
    pull, pull_then = p50("store", "pull"), p50("store", "pull_asof")
    first_walk, cold_pull = p50("store", "traverse_first"), p50("store", "pull_cold")
    floor_walk = p50(FLOOR, "traverse")
    sqlite = [c for c in cols if c.split(" ")[0] == "sqlite"]
    targets: dict[str, tuple[float | None, str, bool | None]] = {}
    if walk is not None and floor_walk:
        targets["warm walk <= 2x floor"] = (walk / floor_walk, "x", walk / floor_walk <= 2)
    if first_walk is not None and floor_walk:
        ratio = first_walk / floor_walk
        targets["first-touch walk <= 3x floor"] = (ratio, "x", ratio <= 3)
    for column in sqlite:
        for op, label in (("traverse_first", "first touch"), ("traverse", "warm")):
            rival = p50(column, op)
            if first_walk is not None and rival:
                name = f"first-touch walk faster than {column}, {label}"
                targets[name] = (rival / first_walk, "x", first_walk < rival)
    for column in cols:
        rival = p50(column, "traverse")
        if column.split(" ")[0] == "ladybug" and walk is not None and rival:
            targets[f"warm walk faster than {column}"] = (rival / walk, "x", walk < rival)
    if walk and walk_then is not None:
        targets["as-of walk <= 2x current"] = (walk_then / walk, "x", walk_then <= 2 * walk)
    if pull is not None:
        targets["pull p50 <= 60 us"] = (pull, "us", pull <= 60)
    if cold_pull is not None:
        targets["cold pull p50 <= 20 us"] = (cold_pull, "us", cold_pull <= 20)
    if pull and pull_then is not None:
        targets["as-of pull <= 1.5x current"] = (pull_then / pull, "x", pull_then <= 1.5 * pull)
    transact = results["store"].get("transact", {}).get("datoms_per_s")
    if transact is not None:
        targets["transact >= 100k datoms/s"] = (transact, "datoms/s", transact >= 100_000)
    opened = results["store"].get("open_us")
    if opened is not None:
        targets["open < 1 s"] = (opened / 1000, "ms", opened < 1_000_000)
    out["store_targets"] = {
        name: {"value": value, "unit": unit, "met": met}
        for name, (value, unit, met) in targets.items()
    }
    return out


def cell(measured: dict[str, Any] | None, floor: dict[str, Any] | None) -> str:
    if measured is None:
        return "-"
    text = f"{fmt_us(measured['p50_us'])} / {fmt_us(measured['p90_us'])}"
    if floor and floor["p50_us"]:
        text += f" ({measured['p50_us'] / floor['p50_us']:.1f}x)"
    return text


def fmt_us(us: float) -> str:
    if us >= 100_000:
        return f"{us / 1000:.0f}ms"
    if us >= 1_000:
        return f"{us / 1000:.1f}ms"
    return f"{us:.0f}us" if us >= 10 else f"{us:.1f}us"


def print_report(report: dict[str, Any]) -> None:
    results = report["results"]
    cols = columns(results)
    floor = cols.get(FLOOR, {})
    names = list(cols)
    print(
        "\nreads: p50 / p90 over the queries (p50 / the dict floor's p50); warm: caches "
        "filled, each query's best of up to 3 runs"
    )
    rows = [["operation", *names]]
    for op, label in OPS.items():
        rows.append([label, *(cell(cols[n].get(op), floor.get(base(op))) for n in names)])
    for op, label in OPS.items():
        if f"{op}_cold" in cols.get("store", {}):
            rows.append(
                [
                    f"{label}, cold*",
                    *(cell(cols[n].get(f"{op}_cold"), floor.get(op)) for n in names),
                ]
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)))
    if "store" in cols:
        print("  * cold: the store's interval cache emptied before each query (RocksDB warm)")
    print(
        "  first touch: each query on a store (a SQLite connection) opened for it; ratios "
        "to the floor's warm p50"
    )
    print("\nloading (each contender's own bulk path) and memory (peak RSS of its process):")
    for peer, result in results.items():
        if "error" in result:
            print(f"  {peer}: failed: {result['error']}")
            continue
        line = f"  {peer}: load {result['load_s']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB"
        transact = result.get("transact")
        if transact:
            line += (
                f"; transact {transact['datoms_per_s']:,.0f} datoms/s in batches of "
                f"~{transact['batch_datoms']:,.0f} datoms ({transact['datoms']:,} datoms; "
                f"{transact['cpu_datoms_per_s']:,.0f} per CPU-second of the writing thread); "
                f"open {result['open_us'] / 1000:.1f} ms"
            )
        print(line)
    found = report["checks"]
    if found["answers_differ_from_floor"]:
        print("\nANSWERS DIFFER from the floor's:", ", ".join(found["answers_differ_from_floor"]))
    else:
        print("\nevery contender gave the floor's answers")
    for name, target in found.get("store_targets", {}).items():
        mark = "ok " if target["met"] else "MISSED"
        print(f"  [{mark}] {name}: {target['value']:,.2f} {target['unit']}")


if __name__ == "__main__":
    main()
