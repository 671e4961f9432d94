"""Replication: how fast a replica applies the primary's transactions, and how far behind
it runs while the primary ingests.

**Apply** (always): the same transactions written three ways, in one run:

- ``primary``: ``FactStore.transact`` of the ops, as the daemon's writer commits them (the
  peer: a replica cannot be asked to outrun its primary);
- ``replay``: the published messages decoded and ``FactStore.replay``-ed into an empty
  store, in process (the floor of applying: no broker);
- ``publisher``: the primary's ``mdsd.replication.publisher.Publisher`` sending that log to
  a Tansu topic (encoding and broker acknowledgements included);
- ``follower``: ``mdsd.replication.follower.Follower``, the replica's own reader, taking
  the same messages from the topic into an empty store (broker fetches included).

**Lag** (``--lag SECONDS``): a primary with ``[replication]`` and ``mdsd replica`` as real
processes on a simulated platform; thin events are sent to the primary at ``--rate``
events/s, and every transaction's lag is the moment the replica's change stream announces
it applied, less the primary's commit instant (which the replica keeps as the
transaction's own).

    .venv/bin/python bench/replica_bench.py [--entities 20000] [--batch 20] [--lag 30 --rate 1000]

Targets (issue 25): apply >= 100k datoms/s and >= 0.8x the primary's transact; lag p99
<= 1 s at 1,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _peers.dataset import generate  # noqa: E402
from _peers.store_peer import SCHEMA, entity_ops  # noqa: E402

from mdsd.replication.follower import Follower  # noqa: E402
from mdsd.replication.message import decode, encode  # noqa: E402
from mdsd.replication.publisher import Publisher  # noqa: E402
from mdsd.replication.settings import ReplicaConfig, ReplicationConfig  # noqa: E402
from store import FactStore  # noqa: E402
from tests.buses.brokers import KafkaBroker  # noqa: E402

TOPIC = "bench.transactions"


def primary_log(folder: Path, entities: int, batch: int) -> tuple[FactStore, dict[str, Any]]:
    """A primary's store written from generated entities, ``batch`` per transaction."""
    data = generate(entities)
    xids = [e.xid for e in data.entities]
    store = FactStore(folder / "primary")
    store.install(SCHEMA)
    spent, datoms = 0.0, 0
    for lo in range(0, len(data.entities), batch):
        ops = [op for e in data.entities[lo : lo + batch] for op in entity_ops(e, xids)]
        started = time.perf_counter()
        report = store.transact(ops, {"origin": "hydration", "batch": lo // batch})
        spent += time.perf_counter() - started
        assert report is not None
        datoms += len(report.datoms)
    return store, {"datoms": datoms, "seconds": spent, "datoms_per_s": datoms / spent}


def messages_of(store: FactStore) -> list[bytes]:
    return [encode(report, store.attribute, store.xid_of) for report in store.log()]


def replay(folder: Path, messages: list[bytes], datoms: int) -> dict[str, Any]:
    with FactStore(folder / "replayed") as copy:
        started = time.perf_counter()
        for raw in messages:
            report, attributes = decode(raw)
            copy.replay(report, attributes)
        spent = time.perf_counter() - started
    return {"seconds": spent, "datoms_per_s": datoms / spent}


async def publish_and_follow(
    broker: KafkaBroker, folder: Path, primary: FactStore, datoms: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The primary's log published by the daemon's own ``Publisher``, then applied by a
    ``Follower`` into an empty store: each timed."""
    await broker.create_topic(TOPIC, 1)
    last_tx = primary.last_tx
    published = await _until(
        Publisher(
            primary, ReplicationConfig(broker.bootstrap, topic=TOPIC, idempotent=False), folder
        ),
        lambda publisher: publisher.published >= last_tx,
    )
    config = ReplicaConfig(bootstrap_servers=broker.bootstrap, topic=TOPIC)
    with FactStore(folder / "followed") as store:
        followed = await _until(
            Follower(store, config, folder, lambda report: None),
            lambda follower: store.last_tx >= last_tx,
        )
    return (
        {"seconds": published, "datoms_per_s": datoms / published},
        {"seconds": followed, "datoms_per_s": datoms / followed},
    )


async def _until(job: Any, done: Any) -> float:
    """Seconds ``job.run()`` takes until ``done(job)``."""
    started = time.perf_counter()
    task = asyncio.create_task(job.run())
    while not done(job):
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    spent = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return spent


def measure_apply(entities: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="replica-bench-") as tmp:
        folder = Path(tmp)
        store, primary = primary_log(folder, entities, batch)
        with store:
            messages = messages_of(store)
            last_tx = store.last_tx
            datoms = primary["datoms"]
            replayed = replay(folder, messages, datoms)
            broker = KafkaBroker(folder)  # it checks itself with asyncio.run: not in a loop
            try:
                published, followed = asyncio.run(publish_and_follow(broker, folder, store, datoms))
            finally:
                broker.stop()
    return {
        "transactions": last_tx,
        "datoms": datoms,
        "datoms_per_tx": datoms / last_tx,
        "message_bytes": sum(map(len, messages)) / len(messages),
        "primary": primary,
        "replay": replayed,
        "publisher": published,
        "follower": followed,
    }


def measure_lag(seconds: float, rate: int, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="replica-lag-") as tmp:
        broker = KafkaBroker(Path(tmp))
        try:
            return asyncio.run(_measure_lag(broker, Path(tmp), seconds, rate, size))
        finally:
            broker.stop()


async def _measure_lag(
    broker: KafkaBroker, folder: Path, seconds: float, rate: int, size: int
) -> dict[str, Any]:
    """Lag of each transaction the replica applies while the primary takes ``rate``
    events/s for ``seconds``."""
    from mds.client import Client
    from mds.testing import DaemonProcess
    from simulator.runner import SimulatorThread
    from simulator.world import World

    await broker.create_topic(TOPIC, 1)
    connection = {"bootstrap_servers": broker.bootstrap, "topic": TOPIC}
    with SimulatorThread(World.generate(size=size, seed=3)) as simulator:
        primary = DaemonProcess(
            folder / "primary", simulator.base_url,
            extra={"replication": {**connection, "idempotent": False}},
        )  # fmt: skip
        replica = DaemonProcess(
            folder / "replica", simulator.base_url, command=["replica"],
            extra={"replica": connection},
        )  # fmt: skip
        try:
            primary.start()
            replica.start()
            initial = [json.dumps(e) for e in simulator.world.initial_events()]
            async with Client(primary.socket) as client:
                await client.ingest("\n".join(initial).encode())
                await client.wait_idle(600.0)
            return await _lags(primary, replica, simulator, seconds, rate, Client)
        finally:
            replica.stop()
            primary.stop()


async def _lags(
    primary: Any, replica: Any, simulator: Any, seconds: float, rate: int, client_type: Any
) -> dict[str, Any]:
    lags: list[float] = []
    stop = asyncio.Event()

    async def listen() -> None:
        async with client_type(replica.socket) as client:
            async for notice in client.changes():
                at = datetime.fromisoformat(notice["at"].replace("Z", "+00:00"))
                lags.append(datetime.now(UTC).timestamp() - at.timestamp())
                if stop.is_set():
                    return

    backlog = {"unpublished": 0, "unapplied": 0}

    async def watch() -> None:
        """Where a lag builds up: transactions the primary has not published yet, and
        messages the replica has not applied yet (the most of each, sampled each 0.5 s)."""
        async with client_type(primary.socket) as ours, client_type(replica.socket) as theirs:
            while not stop.is_set():
                published = (await ours.status())["replication"]
                applying = (await theirs.status())["replica"]
                backlog["unpublished"] = max(backlog["unpublished"], published["behind"])
                unapplied = applying["behind_messages"] or 0
                backlog["unapplied"] = max(backlog["unapplied"], unapplied)
                await asyncio.sleep(0.5)

    listener = asyncio.create_task(listen())
    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    sent = 0
    async with client_type(primary.socket) as client:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            tick = time.monotonic()
            events = simulator.mutate(rate // 10)
            await client.ingest("\n".join(json.dumps(e) for e in events).encode())
            sent += len(events)
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
        elapsed = time.monotonic() - started
        await client.wait_idle(600.0)
        last_tx = (await client.status())["last_tx"]
    async with client_type(replica.socket) as client:
        while (await client.status())["replica"]["applied_tx"] < last_tx:
            await asyncio.sleep(0.1)
    stop.set()
    listener.cancel()
    await asyncio.gather(listener, watcher, return_exceptions=True)
    ordered = sorted(lags)
    return {
        "events_sent": sent,
        "events_per_s": sent / elapsed,
        "transactions": len(lags),
        "lag_p50_s": statistics.median(ordered),
        "lag_p99_s": ordered[int(len(ordered) * 0.99) - 1] if len(ordered) > 1 else ordered[0],
        "lag_max_s": ordered[-1],
        "most_unpublished": backlog["unpublished"],
        "most_unapplied": backlog["unapplied"],
    }


def report(apply: dict[str, Any], lag: dict[str, Any] | None) -> None:
    primary, replayed, followed = apply["primary"], apply["replay"], apply["follower"]
    print(
        f"apply: {apply['transactions']:,} transactions, {apply['datoms']:,} datoms "
        f"(~{apply['datoms_per_tx']:.0f} per transaction, ~{apply['message_bytes']:,.0f} bytes "
        f"per message), load {os.getloadavg()[0]:.1f}"
    )
    for name, result in (
        ("primary transact", primary),
        ("replay", replayed),
        ("publisher", apply["publisher"]),
        ("follower", followed),
    ):
        print(f"  {name:<17} {result['datoms_per_s']:>11,.0f} datoms/s ({result['seconds']:.2f} s)")
    ratio = followed["datoms_per_s"] / primary["datoms_per_s"]
    print(
        f"  follower / primary {ratio:.2f}x (target >= 0.8x); follower "
        f"{followed['datoms_per_s']:,.0f} datoms/s (target >= 100,000): "
        f"{'met' if ratio >= 0.8 and followed['datoms_per_s'] >= 100_000 else 'NOT met'}"
    )
    if lag is not None:
        print(
            f"lag: {lag['events_sent']:,} events at {lag['events_per_s']:,.0f}/s, "
            f"{lag['transactions']:,} transactions: p50 {lag['lag_p50_s'] * 1000:.0f} ms, "
            f"p99 {lag['lag_p99_s'] * 1000:.0f} ms, max {lag['lag_max_s'] * 1000:.0f} ms "
            f"(target p99 <= 1,000 ms: {'met' if lag['lag_p99_s'] <= 1 else 'NOT met'}); at "
            f"most {lag['most_unpublished']:,} transactions not yet published, "
            f"{lag['most_unapplied']:,} messages not yet applied"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=20, help="entities per transaction")
    parser.add_argument("--lag", type=float, default=0.0, help="seconds of the lag run (0: off)")
    parser.add_argument("--rate", type=int, default=1000, help="events/s into the primary")
    parser.add_argument("--size", type=int, default=2000, help="the lag run's world size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    apply = measure_apply(args.entities, args.batch)
    lag = measure_lag(args.lag, args.rate, args.size) if args.lag else None
    if args.json:
        print(json.dumps({"apply": apply, "lag": lag}, indent=2))
    else:
        report(apply, lag)


if __name__ == "__main__":
    main()
