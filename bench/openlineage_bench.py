"""OpenLineage intake: events/s durable through ``POST /api/v1/lineage`` beside the thin-event
path in the same run, and how soon an acknowledged run is merged and can be read.

A real daemon (its sources at a simulator in its own process) on its Unix socket. Loads
come from ``--clients`` keep-alive connections, each posting one event per request as the
OpenLineage HTTP transport does, on a bare asyncio HTTP/1.1 client (an httpx request
costs the load generator more CPU than the daemon's answer, on the same cores):

1. first touch: the first ``--first`` events of each door right after the daemon starts;
2. warm intake, thin (``POST /v1/events``, one event a request) and OpenLineage, in
   alternating rounds; each door's median round, and their ratio;
3. the batch door, ``mds ingest`` of a JSON-lines body: the same ``--events`` thin vs
   OpenLineage events in one request each;
4. acknowledged -> queryable: probe runs are posted (a ``START``), then ``GET
   /v1/entity`` of the run polled until it answers; p50/p95 of the time from the 201 to
   that answer, with the daemon otherwise idle and while OpenLineage events stream in at
   ``--rate`` events/s.

The OpenLineage events are START/COMPLETE pairs of distinct runs of 50 jobs over 200
datasets, with schema and ownership facets, as a scheduler's integration sends them; the
thin events name distinct entities of a world as large, so each event of either kind is a
write of its own.
Between phases the daemon is let go idle, so each phase's merging and hydrating is its own.
Each phase also reports the daemon's CPU time per event until it is idle again (read from
``/proc``): on cores shared with other work the rates move with the load, the CPU an event
costs much less.

    .venv/bin/python bench/openlineage_bench.py [--events 5000] [--clients 16] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from e2e_bench import start_simulator

from mds.testing import DaemonProcess
from simulator.world import World

ROOT = Path(__file__).resolve().parents[1]
LINEAGE, EVENTS = "/api/v1/lineage", "/v1/events"
SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/airflow"


class Connection:
    """One keep-alive HTTP/1.1 connection to the daemon's socket: a request, its answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, socket: Path) -> Connection:
        return cls(*await asyncio.open_unix_connection(str(socket)))

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {target} HTTP/1.1\r\nhost: mds\r\ncontent-length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"content-type: application/json\r\n\r\n" + body)
        status_line, _, headers = (await self.reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def facet(**fields: Any) -> dict[str, Any]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/x.json",
        **fields,
    }


def lineage_pairs(n: int, rng: random.Random) -> Iterator[tuple[str, bytes, bytes]]:
    """(run id, its START, its COMPLETE) of ``n`` distinct runs."""
    fields = [{"name": f"col_{i}", "type": "VARCHAR", "description": None} for i in range(8)]
    for _ in range(n):
        run = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        job = rng.randrange(50)
        reads, writes = rng.sample(range(200), 3), rng.randrange(200)
        owners = [{"name": f"user:owner{job % 20}@example.com", "type": "MAINTAINER"}]
        pair = []
        for kind, minute in (("START", 0), ("COMPLETE", 7)):
            event = {
                "eventType": kind,
                "eventTime": f"2025-03-01T{job % 24:02d}:{minute:02d}:{rng.randrange(60):02d}Z",
                "producer": PRODUCER,
                "schemaURL": SPEC,
                "run": {"runId": run, "facets": {}},
                "job": {
                    "namespace": "airflow",
                    "name": f"dag_{job}.task",
                    "facets": {"ownership": facet(owners=owners)},
                },
                "inputs": [
                    {"namespace": "postgres://db:5432", "name": f"public.t{d}", "facets": {}}
                    for d in reads
                ],
                "outputs": [
                    {
                        "namespace": "postgres://db:5432",
                        "name": f"public.t{writes}",
                        "facets": {"schema": facet(fields=fields)},
                    }
                ],
            }
            pair.append(json.dumps(event).encode())
        yield run, pair[0], pair[1]


def lineage_bodies(n: int, rng: random.Random) -> list[bytes]:
    """``n`` events: START and COMPLETE of ``n // 2`` runs."""
    return [body for _, start, end in lineage_pairs(n // 2, rng) for body in (start, end)]


def thin_bodies(world: World, n: int) -> list[bytes]:
    """``n`` thin events of the world's entities (without ``event_id``: none is a repeat;
    distinct entities while the world has ``n``, or their hydrations would coalesce)."""
    thin = [e for e in world.initial_events() if "event_type" in e]
    return [json.dumps(thin[i % len(thin)]).encode() for i in range(n)]


async def post_all(socket: Path, target: str, bodies: Sequence[bytes], clients: int) -> float:
    """Seconds for ``clients`` connections to post every body, one a request, each answer
    checked; the clock starts once every connection is open."""
    connections = [await Connection.open(socket) for _ in range(clients)]
    expected = 201 if target == LINEAGE else 200
    queue = iter(bodies)

    async def run(connection: Connection) -> None:
        for body in queue:
            status, answer = await connection.request("POST", target, body)
            if status != expected:
                raise RuntimeError(f"{target}: {status} {answer[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return elapsed


async def queryable(
    socket: Path, probes: int, rate: float, rng: random.Random
) -> tuple[list[float], float]:
    """(seconds from each probe run's 201 to its first 200 from ``GET /v1/entity``, the rate
    the background stream reached) while OpenLineage events stream in at ``rate`` (0:
    none)."""
    background = (body for _, *pair in lineage_pairs(10**9, rng) for body in pair)
    stream = await Connection.open(socket)
    stopping = asyncio.Event()
    sent = 0

    async def feed() -> None:
        nonlocal sent
        started = time.perf_counter()
        for body in background:
            if stopping.is_set() or not rate:
                return
            await stream.request("POST", LINEAGE, body)
            sent += 1
            ahead = sent / rate - (time.perf_counter() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)

    async def probe(run: str, start: bytes, poster: Connection, reader: Connection) -> float:
        status, _ = await poster.request("POST", LINEAGE, start)
        assert status == 201
        acknowledged = time.perf_counter()
        target = f"/v1/entity?id=aip://pipeline-run/openlineage/{run}"
        while (await reader.request("GET", target))[0] != 200:
            await asyncio.sleep(0.005)
        return time.perf_counter() - acknowledged

    feeding = asyncio.create_task(feed())
    poster, reader = await Connection.open(socket), await Connection.open(socket)
    began = time.perf_counter()
    seconds = []
    for run, start, _ in lineage_pairs(probes, rng):
        seconds.append(await probe(run, start, poster, reader))
        await asyncio.sleep(0.02)
    reached = sent / (time.perf_counter() - began)
    stopping.set()
    await feeding
    for connection in (stream, poster, reader):
        connection.close()
    return seconds, reached


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate_of(n: int, seconds: float) -> float:
    return n / seconds if seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="events per warm round")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds of each door")
    parser.add_argument("--first", type=int, default=1000, help="first-touch events per door")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="background events/s while probing"
    )
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument(
        "--size",
        type=int,
        default=0,
        help="simulator world, for the thin events (default: as many entities as --events, "
        "so each thin event, like each OpenLineage one, is a write of its own)",
    )
    args = parser.parse_args()

    rng = random.Random(19)
    size = args.size or args.events
    thin = thin_bodies(World.generate(size=size, seed=1), args.events)
    simulator, base = start_simulator(size, 1)
    result: dict[str, Any] = {"clients": args.clients, "events_per_round": args.events}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            daemon = DaemonProcess(Path(tmp), base, enrichment_interval=5.0).start()
            try:
                result |= measure(daemon, thin, args, rng)
            finally:
                daemon.stop()
    finally:
        simulator.terminate()
    report(result)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "openlineage.json").write_text(json.dumps(result, indent=2))


def measure(
    daemon: DaemonProcess, thin: list[bytes], args: argparse.Namespace, rng: random.Random
) -> dict[str, Any]:
    socket = daemon.socket
    pid = daemon.process.pid
    #: door -> daemon CPU ms per event of each warm round and batch, until idle
    cpu: dict[str, dict[str, list[float]]] = {"warm": {}, "batch": {}}

    def idle() -> None:
        assert daemon.call("wait_idle", 600)["idle"], daemon.log()[-2000:]

    def costed(phase: str, door: str, n: int, used: float) -> None:
        cpu[phase].setdefault(door, []).append(1000 * (cpu_seconds(pid) - used) / n)

    def posted(target: str, bodies: Sequence[bytes], phase: str = "") -> float:
        used = cpu_seconds(pid)
        seconds = asyncio.run(post_all(socket, target, bodies, args.clients))
        idle()
        if phase:
            costed(phase, "thin" if target == EVENTS else "openlineage", len(bodies), used)
        return rate_of(len(bodies), seconds)

    first = {
        "openlineage": posted(LINEAGE, lineage_bodies(args.first, rng)),
        "thin": posted(EVENTS, thin[: args.first]),
    }
    warm: dict[str, list[float]] = {"thin": [], "openlineage": []}
    for _ in range(args.rounds):
        warm["thin"].append(posted(EVENTS, thin, "warm"))
        warm["openlineage"].append(posted(LINEAGE, lineage_bodies(args.events, rng), "warm"))
    median = {door: statistics.median(rates) for door, rates in warm.items()}

    batch = {}
    for door, bodies in (("thin", thin), ("openlineage", lineage_bodies(args.events, rng))):
        used, started = cpu_seconds(pid), time.perf_counter()
        answer = daemon.call("ingest", b"\n".join(bodies), name="bench.jsonl")
        batch[door] = rate_of(len(bodies), time.perf_counter() - started)
        assert answer["accepted"] == len(bodies), answer
        idle()
        costed("batch", door, len(bodies), used)

    latency = {}
    for label, rate in (("idle", 0.0), ("streaming", args.rate)):
        seconds, reached = asyncio.run(queryable(socket, args.probes, rate, rng))
        idle()
        latency[label] = {
            "p50": round(percentile(seconds, 0.5) * 1000, 1),
            "p95": round(percentile(seconds, 0.95) * 1000, 1),
            "max": round(max(seconds) * 1000, 1),
            "probes": len(seconds),
            "background_events_per_second": round(reached),
        }
    return {
        "first_touch_events_per_second": {k: round(v) for k, v in first.items()},
        "warm_events_per_second": {k: [round(r) for r in v] for k, v in warm.items()},
        "warm_median_events_per_second": {k: round(v) for k, v in median.items()},
        "thin_over_openlineage": round(median["thin"] / median["openlineage"], 2),
        "ingest_batch_events_per_second": {k: round(v) for k, v in batch.items()},
        "ingest_thin_over_openlineage": round(batch["thin"] / batch["openlineage"], 2),
        "queryable_after_ack_ms": latency,
        "daemon_cpu_ms_per_event": {
            phase: {door: round(statistics.median(ms), 2) for door, ms in doors.items()}
            for phase, doors in cpu.items()
        },
    }


def report(result: dict[str, Any]) -> None:
    med = result["warm_median_events_per_second"]
    print(f"{'door':<34} {'first touch/s':>14} {'warm/s (median)':>16}")
    for door, label in (
        ("thin", "POST /v1/events (thin)"),
        ("openlineage", "POST /api/v1/lineage"),
    ):
        print(f"{label:<34} {result['first_touch_events_per_second'][door]:>14} {med[door]:>16}")
    print(f"thin / OpenLineage, warm: {result['thin_over_openlineage']}x (target <= 2)")
    batch = result["ingest_batch_events_per_second"]
    print(
        f"mds ingest (one JSON-lines body): thin {batch['thin']}/s, OpenLineage "
        f"{batch['openlineage']}/s, ratio {result['ingest_thin_over_openlineage']}x"
    )
    cpu = result["daemon_cpu_ms_per_event"]
    print(
        "daemon CPU ms per event, until idle: one a request thin "
        f"{cpu['warm']['thin']}, OpenLineage {cpu['warm']['openlineage']}; one body thin "
        f"{cpu['batch']['thin']}, OpenLineage {cpu['batch']['openlineage']}"
    )
    for label, q in result["queryable_after_ack_ms"].items():
        print(
            f"acknowledged -> GET answers the run ({label}, stream at "
            f"{q['background_events_per_second']} events/s): p50 {q['p50']} ms, "
            f"p95 {q['p95']} ms, max {q['max']} ms over {q['probes']} probes (target 1000 ms)"
        )


if __name__ == "__main__":
    sys.exit(main())
