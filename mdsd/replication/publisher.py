"""The outbox: every committed transaction published to Kafka, in order, none lost.

The fact log is the outbox. The publisher reads it from the transaction after the last
one the broker acknowledged, sends them in order under one key (one partition, so one
order), and only then records how far it got (``replication.json`` in the data dir). A
crash between a commit and its publication therefore loses nothing: the restarted
publisher sends from its record, which at worst repeats transactions the broker already
had. Consumers drop a repeat by its transaction id (docs/replication.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from mds.wire.moments import iso_epoch
from mdsd.base.files import write_json
from mdsd.intake.buses.kafka import connection_options
from mdsd.replication.message import encode
from mdsd.replication.settings import ReplicationConfig
from store import FactStore

log = logging.getLogger(__name__)

STATE_FILE = "replication.json"
#: how often, while behind, how far publication got is written down: a crash repeats at
#: most this long's transactions (consumers drop repeats), and a busy daemon does not wait
#: on an fsync per batch
RECORD_EVERY_SECONDS = 1.0
#: the most bytes of messages sent to the broker in one record batch
BATCH_BYTES = 512 << 10
#: the largest transaction the producer sends (the broker's own limit applies after
#: compression: message.max.bytes, 1 MB by default)
MAX_MESSAGE_BYTES = 64 << 20
#: every message has this key: Kafka keeps one key's messages in one partition, in order
KEY = b"mds"


class Publisher:
    """Publishes the fact log to ``config.topic`` from where it left off; ``wake`` after
    each commit."""

    def __init__(self, store: FactStore, config: ReplicationConfig, data_dir: Path) -> None:
        self.store = store
        self.config = config
        self.state_path = data_dir / STATE_FILE
        self.published = self._recorded = self._read_state()
        self._recorded_at = 0.0
        self._more = asyncio.Event()
        self._more.set()  # whatever the log holds beyond the record, at start
        self.last_error: str | None = None
        self.last_published_at: float | None = None

    def _read_state(self) -> int:
        try:
            return int(json.loads(self.state_path.read_text())["published_tx"])
        except FileNotFoundError:
            return 0

    def _write_state(self) -> None:
        published = self.published
        write_json(self.state_path, {"published_tx": published})
        self._recorded, self._recorded_at = published, time.monotonic()

    def wake(self) -> None:
        """A transaction committed: publish it soon."""
        self._more.set()

    async def run(self) -> None:
        """Publish until cancelled; a broker error ends it (its supervisor starts it again,
        and it goes on from the record)."""
        producer = AIOKafkaProducer(
            **connection_options(self.config),
            acks="all",
            enable_idempotence=self.config.idempotent,
            linger_ms=5,
            # aiokafka's 16 kB batches held a few transactions each, and a full one waits
            # for its round trip: a busy primary published ~200 transactions/s and fell
            # seconds behind; brokers take record batches up to 1 MB by default
            max_batch_size=BATCH_BYTES,
            # JSON shrinks several times: a broker's 1 MB limit on a record batch then
            # holds a bulk transaction of several MB, which a producer must not refuse
            compression_type="gzip",
            max_request_size=MAX_MESSAGE_BYTES,
        )
        await producer.start()
        try:
            while True:
                await self._more.wait()
                self._more.clear()
                await self._publish_pending(producer)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            await producer.stop()

    async def _publish_pending(self, producer: AIOKafkaProducer) -> None:
        while self.published < self.store.last_tx:
            end = min(self.store.last_tx, self.published + self.config.batch)
            sent = []
            for report in self.store.log(self.published + 1, end + 1):
                message = encode(report, self.store.attribute, self.store.xid_of)
                sent.append(await producer.send(self.config.topic, message, key=KEY))
            await asyncio.gather(*sent)  # each acknowledged by the broker (acks=all)
            self.published = end
            self.last_published_at = time.time()
            self.last_error = None
            if time.monotonic() - self._recorded_at >= RECORD_EVERY_SECONDS:
                await asyncio.to_thread(self._write_state)
        if self._recorded < self.published:  # caught up: the record says so too
            await asyncio.to_thread(self._write_state)

    def status(self) -> dict[str, Any]:
        """For ``mds status``: how far publication got, and what stopped it last."""
        return {
            "topic": self.config.topic,
            "published_tx": self.published,
            "behind": self.store.last_tx - self.published,
            "last_published_at": iso_epoch(self.last_published_at),
            "last_error": self.last_error,
        }
