"""``[replication]`` against a real Kafka-protocol broker: every transaction the daemon
commits reaches the topic, in order, a kill -9 between a commit and its publication
included, and a store that replays the topic answers every read as the daemon's own.

Tansu has no idempotent producer, so these daemons publish with ``idempotent = false``:
what a retried send may repeat, the consumer drops by transaction id, as docs/replication.md
tells every consumer to.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import jsonschema
import pytest

from mds.testing import DaemonProcess
from mdsd.replication.message import decode
from simulator.runner import SimulatorThread
from simulator.world import World
from store import FactStore, TxReport
from tests.buses.brokers import KafkaBroker
from tests.buses.scenario import until_published

pytestmark = pytest.mark.slow

TOPIC = "mds.transactions"
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "replication.schema.json"


def published(broker: KafkaBroker, expected_last: int, timeout: float = 60.0) -> list[bytes]:
    """Every message of the topic, read until the last transaction is among them."""
    from aiokafka import AIOKafkaConsumer

    async def read() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            TOPIC, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        messages: list[bytes] = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                messages += [m.value for batch in batches.values() for m in batch if m.value]
                if any(decode(m)[0].tx == expected_last for m in messages[-50:]):
                    return messages
            raise AssertionError(f"transaction {expected_last} never published")
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_every_transaction_is_published_once_in_order_across_a_kill(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    asyncio.run(kafka.create_topic(TOPIC, 1))
    extra = {
        "replication": {"bootstrap_servers": kafka.bootstrap, "topic": TOPIC, "idempotent": False}
    }
    with SimulatorThread(World.generate(size=150, seed=8)) as simulator:
        daemon = DaemonProcess(tmp_path, simulator.base_url, extra=extra).start()
        initial = [json.dumps(e) for e in simulator.world.initial_events()]
        half = len(initial) // 2
        daemon.call("ingest", "\n".join(initial[:half]).encode())
        assert daemon.call("wait_idle", 120.0)["idle"]
        daemon.call("ingest", "\n".join(initial[half:]).encode())
        time.sleep(0.3)  # commits under way, some not yet published
        daemon.kill()
        daemon.start()
        assert daemon.call("wait_idle", 180.0)["idle"]
        status = daemon.call("status")
        last_tx = status["last_tx"]
        until_published(daemon, last_tx)
        assert daemon.call("status")["replication"]["behind"] == 0
        daemon.stop()

    messages = published(kafka, last_tx)
    schema = json.loads(SCHEMA.read_text())
    for raw in messages:
        jsonschema.validate(json.loads(raw), schema)  # the documented format
    reports: dict[int, TxReport] = {}
    order: list[int] = []
    for raw in messages:
        report, _ = decode(raw)
        if report.tx in reports:  # a repeat after the kill: the same transaction again
            assert report == reports[report.tx]
            continue
        reports[report.tx] = report
        order.append(report.tx)
    assert order == list(range(1, last_tx + 1)), "every transaction, in order, none missing"

    with FactStore(tmp_path / "data" / "facts") as primary, FactStore(tmp_path / "copy") as copy:
        for raw in messages:
            report, attributes = decode(raw)
            copy.replay(report, attributes)
        assert copy.last_tx == primary.last_tx
        for moment in (primary.last_tx, last_tx // 2, 3):
            ours, theirs = primary.as_of(moment), copy.as_of(moment)
            for e, xid in primary.db().entities_with("db/xid"):
                assert copy.lookup_xid(xid) == e
                assert theirs.entity(e) == ours.entity(e), f"{xid} as of tx {moment}"
