"""Memory after a spike: the daemon's RSS before, at and after a burst of big reads.

A daemon hydrates a simulated world (RSS read before and at the end: the ingest's own
spike), answers one query of each kind (so what its caches hold is there before the
spike), settles, and its RSS is read (idle). Then a spike: fan-out GraphQL queries
(search hits, each followed three relationship hops deep) and full-text searches, several
at once. RSS is read at the spike's end and again once the daemon has been idle long
enough to hand freed memory back (``[daemon] memory_trim_idle_seconds``, 2 s here). With
``--no-trim`` that is switched off, to show the difference.

    .venv/bin/python bench/memory_bench.py [--size 5000] [--rounds 3] [--concurrency 4] [--limit 40] [--no-trim]

The ratio that matters is after / idle: a daemon that keeps what a spike took stays near
spike / idle instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from e2e_bench import start_simulator

from mds.client import Client
from mds.testing import DaemonProcess
from simulator.world import World

#: a search whose hits are each followed three relationship hops deep
FAN_OUT = """{ search(query: "%s", limit: %d) { entity { id name
  relationships { target { id name description
    relationships { target { id name description
      relationships { target { id name description } } } } } } } } }"""
WORDS = ("model", "dataset", "feature", "pipeline", "run", "user", "team", "test")


def rss_mb(pid: int) -> float:
    """The resident set of process ``pid``, in MB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def spike(daemon: DaemonProcess, rounds: int, concurrency: int, limit: int) -> None:
    """``rounds`` waves of ``concurrency`` fan-out queries (``limit`` hits each) and
    searches at once."""
    async with Client(daemon.socket, timeout=600) as client:
        for round_ in range(rounds):
            words = [WORDS[(round_ * concurrency + i) % len(WORDS)] for i in range(concurrency)]
            await asyncio.gather(
                *(client.graphql(FAN_OUT % (word, limit)) for word in words),
                *(client.search(word, limit=10 * limit) for word in words),
            )


def settled_rss(pid: int, seconds: float) -> float:
    """The lowest RSS seen over ``seconds`` of idleness (sampled every 0.25 s)."""
    deadline = time.monotonic() + seconds
    lowest = rss_mb(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        lowest = min(lowest, rss_mb(pid))
    return lowest


def run(
    size: int,
    rounds: int,
    concurrency: int,
    limit: int,
    settle: float,
    daemon_keys: dict[str, float | int],
) -> dict[str, float | int]:
    world = World.generate(size=size, seed=1)
    body = "\n".join(json.dumps(e) for e in world.initial_events()).encode()
    simulator, base = start_simulator(size, 1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extra = {"daemon": daemon_keys}
            with DaemonProcess(Path(tmp), base, enrichment_interval=5.0, extra=extra) as daemon:
                assert daemon.process is not None
                pid = daemon.process.pid
                empty = rss_mb(pid)
                daemon.call("ingest", body)
                daemon.call("wait_idle", 3600)
                ingested = rss_mb(pid)
                asyncio.run(spike(daemon, 1, 1, 5))  # caches warm: what stays is the spike's
                idle = settled_rss(pid, settle)
                started = time.perf_counter()
                asyncio.run(spike(daemon, rounds, concurrency, limit))
                seconds = time.perf_counter() - started
                peak = rss_mb(pid)
                after = settled_rss(pid, settle)
                trims = [line for line in daemon.log().splitlines() if "heap trimmed" in line]
    finally:
        simulator.terminate()
    return {
        "empty_mb": round(empty, 1),
        "ingest_end_mb": round(ingested, 1),
        "idle_mb": round(idle, 1),
        "spike_mb": round(peak, 1),
        "after_mb": round(after, 1),
        "spike_seconds": round(seconds, 1),
        "spike_over_idle": round(peak / idle, 2),
        "after_over_idle": round(after / idle, 2),
        "trims": len(trims),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=5000, help="entities in the world")
    parser.add_argument("--rounds", type=int, default=3, help="waves of queries")
    parser.add_argument("--concurrency", type=int, default=4, help="queries per wave")
    parser.add_argument("--limit", type=int, default=40, help="search hits per query")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds idle before reading")
    parser.add_argument("--no-trim", action="store_true", help="never hand memory back")
    parser.add_argument("--cache-entities", type=int, default=100_000)
    parser.add_argument("--block-cache-mb", type=int, default=256)
    args = parser.parse_args()
    keys = {
        "memory_trim_idle_seconds": 0.0 if args.no_trim else 2.0,
        "cache_entities": args.cache_entities,
        "block_cache_mb": args.block_cache_mb,
    }
    result = run(args.size, args.rounds, args.concurrency, args.limit, args.settle, keys)
    print(f"{'idle MB':>8} {'spike MB':>9} {'after MB':>9} {'after/idle':>11} {'spike/idle':>11}")
    print(
        f"{result['idle_mb']:>8} {result['spike_mb']:>9} {result['after_mb']:>9}"
        f" {result['after_over_idle']:>11} {result['spike_over_idle']:>11}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
