"""Acknowledgements while the worst read runs: no query may stall the daemon.

A real daemon (its own process) holds a generated world. The floor is the latency of
acknowledging one event (``POST /v1/events``: validated and durably queued) with the daemon
otherwise idle; the same acknowledgements are then timed while clients keep the heaviest
reads running: the fan-out GraphQL query an adversarial run used (ten search hits, four
levels of ``relationships { target }``: 18 s of a frozen event loop before reads were
metered) and the largest REST lineage. The target: p99 within 2x of idle.

    .venv/bin/python bench/read_cost_bench.py [--size 5000] [--acks 300] [--readers 2]
        [--read-processes 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from e2e_bench import start_simulator

from mds.testing import DaemonProcess
from simulator.world import World

ROOT = Path(__file__).resolve().parents[1]

#: four levels of every relationship under ten search hits
FAN_OUT = (
    '{ search(query: "*", limit: 10) { entity { name '
    + "relationships { target { name " * 4
    + "}} " * 4
    + "} } }"
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def acknowledgements(http: httpx.AsyncClient, count: int, user_ids: list[str]) -> list[float]:
    """Seconds to acknowledge each of ``count`` single events, one after another."""
    took = []
    for index in range(count):
        event = {"event_type": "user_updated", "user_id": user_ids[index % len(user_ids)]}
        started = time.perf_counter()
        answer = await http.post("/v1/events", content=json.dumps(event))
        took.append(time.perf_counter() - started)
        answer.raise_for_status()
        await asyncio.sleep(0.005)
    return took


def describe(answer: httpx.Response) -> str:
    """The status and, for a refusal, its code: ``200``, ``200 QUERY_TOO_LARGE``, ``422 too_costly``."""
    try:
        body = answer.json()
    except ValueError:
        return f"{answer.status_code} {answer.text[:80]!r}"
    errors = body.get("errors") or ([body["error"]] if "error" in body else [])
    if not errors:
        return str(answer.status_code)
    code = errors[0].get("extensions", {}).get("code") or errors[0].get("code")
    return f"{answer.status_code} {code}"


async def heavy_reads(http: httpx.AsyncClient, root: str, stop: asyncio.Event) -> dict[str, Any]:
    """The worst reads, back to back until ``stop``: how long each took and how it ended."""
    outcomes: dict[str, int] = {}
    seconds: list[float] = []
    while not stop.is_set():
        for request in (
            http.post("/v1/graphql", content=json.dumps({"query": FAN_OUT})),
            http.get("/v1/lineage", params={"id": root, "direction": "downstream"}),
        ):
            started = time.perf_counter()
            answer = await request
            seconds.append(time.perf_counter() - started)
            outcome = describe(answer)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"outcomes": outcomes, "seconds_max": max(seconds, default=0.0)}


async def measure(socket: Path, acks: int, readers: int, world: World) -> dict[str, Any]:
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    users = sorted(world.truth()["collections"]["users"])
    datasets = sorted(world.truth()["collections"]["datasets"])
    async with httpx.AsyncClient(transport=transport, base_url="http://mds", timeout=120) as http:
        idle = await acknowledgements(http, acks, users)
        stop = asyncio.Event()
        root = f"aip://dataset/datasets/{datasets[0]}"
        loads = [asyncio.create_task(heavy_reads(http, root, stop)) for _ in range(readers)]
        await asyncio.sleep(0.5)  # the reads are under way
        loaded = await acknowledgements(http, acks, users)
        stop.set()
        reads = await asyncio.gather(*loads)
    return {"idle": idle, "loaded": loaded, "reads": reads}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=5000, help="entities in the world")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--acks", type=int, default=300, help="acknowledgements timed per phase")
    parser.add_argument("--readers", type=int, default=2, help="clients running heavy reads")
    parser.add_argument(
        "--read-visits", type=int, default=None, help="[api] read_visits (default: the default)"
    )
    parser.add_argument(
        "--read-processes",
        type=int,
        default=None,
        help="[api] read_processes (default: the default; 0 reads on the daemon's threads)",
    )
    args = parser.parse_args()

    world = World.generate(size=args.size, seed=args.seed)
    body = "\n".join(json.dumps(e) for e in world.initial_events()).encode()
    settings = {"read_visits": args.read_visits, "read_processes": args.read_processes}
    api = {"api": {k: v for k, v in settings.items() if v is not None}}
    simulator, base = start_simulator(args.size, args.seed)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            DaemonProcess(Path(tmp), base, enrichment_interval=5.0, extra=api) as daemon,
        ):
            daemon.call("ingest", body)
            daemon.call("wait_idle", 3600)
            run = asyncio.run(measure(daemon.socket, args.acks, args.readers, world))
            status = daemon.call("status")
    finally:
        simulator.terminate()

    idle_p50, idle_p99 = percentile(run["idle"], 0.5), percentile(run["idle"], 0.99)
    busy_p50, busy_p99 = percentile(run["loaded"], 0.5), percentile(run["loaded"], 0.99)
    result = {
        "entities": status["entities"],
        "ack_ms_idle": {"p50": idle_p50 * 1000, "p99": idle_p99 * 1000},
        "ack_ms_under_heavy_reads": {"p50": busy_p50 * 1000, "p99": busy_p99 * 1000},
        "ratio_p99": busy_p99 / idle_p99,
        "ack_ms_max_under_heavy_reads": max(run["loaded"]) * 1000,
        "ack_ms_mean_idle": statistics.mean(run["idle"]) * 1000,
        "heavy_reads": run["reads"],
    }
    print(f"{'acknowledgement':<28} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'idle (the floor)':<28} {idle_p50 * 1000:>8.2f} {idle_p99 * 1000:>8.2f}")
    print(f"{'while the worst reads run':<28} {busy_p50 * 1000:>8.2f} {busy_p99 * 1000:>8.2f}")
    print(f"p99 ratio to idle: {result['ratio_p99']:.2f} (target <= 2)")
    for index, reads in enumerate(run["reads"]):
        print(f"reader {index}: {reads['outcomes']}, slowest {reads['seconds_max']:.2f}s")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "read_cost.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
