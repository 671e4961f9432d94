"""End-to-end intake: events/s through the real daemon, hydrating from the simulator.

The simulator and the daemon each run in their own process over loopback, chaos off. The
peer is the floor of the same work: plain httpx GETs of the same units at the same
concurrency, with no validation, journal, normalization, facts or indexing.

    .venv/bin/python bench/e2e_bench.py [--size 5000] [--default-limits] [--stages]

With ``--default-limits`` the daemon's config names only each source's ``base_url``, as a
user's minimal config does, so the default per-source rate limit paces the backfill. The
run then also reports its second peer: the rate floor, the time the busiest source's
requests need at that rate. A ratio near 1 means no source waited on another's limit.

With ``--stages`` py-spy samples the daemon's event loop during the run and the report
adds the share of its time per stage (write, search indexing, enrichment, intake, ...):
the loop is the serial stage, so that split says where throughput goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
from _procs import cpu_seconds
from _stages import LoopSampler

from mds.testing import DaemonProcess
from mdsd.connectors.policy import SourcePolicy
from mdsd.connectors.transport import SourceTransport
from simulator.records import EVENT_ID_FIELD
from simulator.world import World

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(size: int, seed: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(port),
            "--size",
            str(size),
            "--seed",
            str(seed),
            "--rate",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/_stats", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("simulator did not start")


def cpu_by_part(daemon_pid: int, workers: list[int], simulator_pid: int) -> dict[str, float]:
    """Where the machine's CPU goes: the daemon's event loop (its main thread), the rest of
    the daemon (RocksDB, tantivy and SQLite threads), the fetch workers, the simulator."""
    loop = cpu_seconds(daemon_pid, daemon_pid)
    return {
        "daemon event loop": loop,
        "daemon other threads": cpu_seconds(daemon_pid) - loop,
        "fetch workers": sum(cpu_seconds(pid) for pid in workers),
        "simulator": cpu_seconds(simulator_pid),
    }


#: event id field -> the collection its entity is served under
PATHS = {field: collection for collection, field in EVENT_ID_FIELD.items()}


async def floor(base: str, events: list[dict[str, str]], concurrency: int) -> float:
    """Seconds for bare GETs of each event's entity: the HTTP work alone."""
    urls = []
    for event in events:
        field = next((k for k in PATHS if k in event), None)
        if field is None:  # an OpenLineage event: it carries its content, nothing to GET
            continue
        urls.append(f"{base}/api/v1/{PATHS[field]}/{event[field]}")
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(transport=SourceTransport(limits=limits)) as http:

        async def get(url: str) -> None:
            async with gate:
                await http.get(url)

        started = time.perf_counter()
        await asyncio.gather(*(get(u) for u in urls))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=5000, help="entities in the world")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stages",
        action="store_true",
        help="sample the daemon's event loop with py-spy and report its time per stage",
    )
    parser.add_argument(
        "--default-limits",
        action="store_true",
        help="sources at their default rate limits instead of unthrottled",
    )
    args = parser.parse_args()

    world = World.generate(size=args.size, seed=args.seed)
    events = list(world.initial_events())
    body = "\n".join(json.dumps(e) for e in events).encode()
    simulator, base = start_simulator(args.size, args.seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            daemon = DaemonProcess(
                Path(tmp), base, enrichment_interval=5.0, default_limits=args.default_limits
            ).start()
            try:
                assert daemon.process is not None
                workers = [p["pid"] for p in daemon.call("status")["hydration"]["processes"]]
                parts = (daemon.process.pid, workers, simulator.pid)
                cpu_before = cpu_by_part(*parts)
                sampler = LoopSampler(daemon.process.pid) if args.stages else nullcontext()
                with sampler:
                    started = time.perf_counter()
                    accepted = daemon.call("ingest", body)["accepted"]
                    acknowledged = time.perf_counter() - started
                    idle = daemon.call("wait_idle", 3600)
                    elapsed = time.perf_counter() - started
                cpu_after = cpu_by_part(*parts)
                status = daemon.call("status")
            finally:
                daemon.stop()
        floor_seconds = asyncio.run(floor(base, events, concurrency=16))
    finally:
        simulator.terminate()

    stages = status["hydration"]["seconds"]
    total_stage = sum(stages.values()) or 1.0
    rate = accepted / elapsed
    floor_rate = len(events) / floor_seconds
    result = {
        "events": accepted,
        "entities": status["entities"],
        "idle": idle["idle"],
        "acknowledge_seconds": round(acknowledged, 3),
        "seconds": round(elapsed, 2),
        "events_per_second": round(rate),
        "floor_gets_per_second": round(floor_rate),
        "ratio_to_floor": round(floor_rate / rate, 2),
        "stage_share": {k: round(v / total_stage, 3) for k, v in stages.items()},
        "cpu_ms_per_event": {
            part: round((cpu_after[part] - cpu_before[part]) / accepted * 1000, 3)
            for part in cpu_after
        },
        "cores_busy": round((sum(cpu_after.values()) - sum(cpu_before.values())) / elapsed, 2),
    }
    print(f"{'events':>10} {'seconds':>8} {'events/s':>9} {'bare GETs/s':>12} {'ratio':>6}")
    print(
        f"{accepted:>10} {elapsed:>8.2f} {rate:>9.0f} {floor_rate:>12.0f} {floor_rate / rate:>6.2f}"
    )
    print(
        f"acknowledged (durably queued) in {acknowledged:.3f}s: {accepted / acknowledged:.0f} events/s"
    )
    print(
        "hydrator wall time, fetch vs write (a fetch includes its wait for the loop):",
        result["stage_share"],
    )
    print(
        f"CPU ms per event ({result['cores_busy']:.2f} of {os.cpu_count()} cores busy):",
        result["cpu_ms_per_event"],
    )
    if isinstance(sampler, LoopSampler):
        result["loop_stage_share"] = sampler.result or sampler.error
        print("event loop time per stage (share of its samples):", result["loop_stage_share"])
    if args.default_limits:
        floor_s = rate_floor_seconds(status["sources"])
        result["rate_floor_seconds"] = round(floor_s, 2)
        result["ratio_to_rate_floor"] = round(elapsed / floor_s, 2)
        print(
            f"rate floor (busiest source's requests at the default rate): {floor_s:.2f}s; "
            f"ratio {elapsed / floor_s:.2f}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "e2e_default_limits.json" if args.default_limits else "e2e.json"
    (out / name).write_text(json.dumps(result, indent=2))


def rate_floor_seconds(sources: dict[str, dict[str, Any]]) -> float:
    """The least time the busiest source's requests take through its default token bucket."""
    policy = SourcePolicy(base_url="http://floor")
    busiest = max(int(stats["requests"]) for stats in sources.values())
    return max(busiest - policy.burst, 0) / policy.rate_per_second


if __name__ == "__main__":
    main()
