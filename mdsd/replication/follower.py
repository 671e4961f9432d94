"""A replica's side of replication: the primary's transactions, read from Kafka, applied in
order into the replica's own fact store.

The store is the record of what was applied: a message whose transaction the store holds
already is dropped (a repeat of the publisher's, or of this reader's after a crash), one
that would leave a gap stops the replica with the reason. Where in the topic to start is
kept beside it (``replica.json``) only to spare a restart reading the topic from its
beginning: written after what it counts is in the store, it can only lag behind the store,
never run ahead of it, so a kill -9 at any moment repeats messages and skips none.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from mds.wire.moments import iso, iso_epoch
from mdsd.base.files import write_json
from mdsd.intake.buses.kafka import connection_options
from mdsd.replication.message import decode
from mdsd.replication.settings import ReplicaConfig
from store import Attribute, ReplayGap, TxReport

log = logging.getLogger(__name__)

STATE_FILE = "replica.json"
#: how often the place in the topic is written down (a restart re-reads at most this much)
RECORD_EVERY_SECONDS = 1.0
#: bytes a fetch from the broker may bring back
FETCH_BYTES = 32 << 20
#: how long the broker may hold a fetch that finds nothing new
FETCH_WAIT_MS = 100
#: transactions applied between two turns of the event loop (reads keep being answered)
APPLY_SLICE = 64


class Replaying(Protocol):
    """The replica's fact store, as the follower writes it."""

    @property
    def last_tx(self) -> int: ...

    def replay(self, report: TxReport, attributes: list[Attribute]) -> bool: ...

    def instant_of(self, tx: int) -> Any: ...


class ForeignLog(RuntimeError):
    """The topic's transactions are not this replica's past: another primary's, or one
    restored from a backup, which numbers its transactions again (docs/replication.md)."""


class Follower:
    """Applies ``config.topic`` to ``store`` from where it left off, and hands each applied
    transaction to ``on_commit`` (the search indexer, the change feed)."""

    def __init__(
        self,
        store: Replaying,
        config: ReplicaConfig,
        data_dir: Path,
        on_commit: Callable[[TxReport], None],
    ) -> None:
        self.store = store
        self.config = config
        self.on_commit = on_commit
        self.state_path = data_dir / STATE_FILE
        self.offsets: dict[int, int] = self._read_state()
        self.applied = 0
        #: messages in the topic after the last one read (from the broker's high watermark)
        self.behind_messages: int | None = None
        #: when the primary committed the transaction applied last
        self.applied_at: float | None = None
        self.last_error: str | None = None
        self._recorded_at = 0.0

    def _read_state(self) -> dict[int, int]:
        try:
            saved = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return {}
        if saved.get("topic") != self.config.topic:
            return {}  # another topic's places mean nothing here: read this one from the start
        return {int(p): int(o) for p, o in saved["offsets"].items()}

    def _record(self) -> None:
        offsets = {str(p): o for p, o in sorted(self.offsets.items())}
        write_json(self.state_path, {"topic": self.config.topic, "offsets": offsets})
        self._recorded_at = time.monotonic()

    @property
    def caught_up(self) -> bool:
        """Everything the topic held when last asked is applied."""
        return self.behind_messages == 0

    async def run(self) -> None:
        """Follow the topic until cancelled; a broker error or a gap ends it (its supervisor
        starts it again, and it goes on from the store's last transaction)."""
        consumer = AIOKafkaConsumer(
            **connection_options(self.config),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.config.batch,
            # a transaction of a bulk load is tens of kB: the default 1 MB per fetch would
            # hold a few dozen, and the replica would wait on round trips, not apply
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=FETCH_BYTES,
            # a broker that answers an empty fetch only when this is out, not when a message
            # arrives (Tansu), would add up to this much to the lag
            fetch_max_wait_ms=FETCH_WAIT_MS,
        )
        try:
            await consumer.start()
            partitions = await self._assign(consumer)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=self.config.batch)
                for partition, messages in batches.items():
                    await self._apply(partition.partition, messages)
                await self._measure(consumer, partitions)
                if self.offsets and time.monotonic() - self._recorded_at >= RECORD_EVERY_SECONDS:
                    await asyncio.to_thread(self._record)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            try:
                if self.offsets:
                    self._record()
            finally:
                await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the topic, each from its recorded place or its beginning;
        waits for the topic while the primary has not made it yet."""
        while True:
            await consumer.topics()  # refreshes the cluster's metadata
            numbers = consumer.partitions_for_topic(self.config.topic)
            if numbers:
                break
            self.last_error = f"topic {self.config.topic!r} does not exist yet"
            await asyncio.sleep(1.0)
        self.last_error = None
        partitions = [TopicPartition(self.config.topic, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        for partition in partitions:
            if partition.partition in self.offsets:
                consumer.seek(partition, self.offsets[partition.partition])
            else:
                await consumer.seek_to_beginning(partition)
        return partitions

    async def _apply(self, partition: int, messages: list[Any]) -> None:
        for number, message in enumerate(messages, 1):
            report, attributes = decode(message.value)
            if report.tx <= self.store.last_tx:
                self._check_same(report)
            elif self._replay(report, attributes):
                self.applied += 1
                self.applied_at = report.at.timestamp()
                self.on_commit(report)
            self.offsets[partition] = message.offset + 1
            if number % APPLY_SLICE == 0:
                await asyncio.sleep(0)

    def _replay(self, report: TxReport, attributes: list[Attribute]) -> bool:
        try:
            return self.store.replay(report, attributes)
        except ReplayGap:
            raise ReplayGap(
                f"the topic {self.config.topic!r} goes on at transaction {report.tx}, but this "
                f"replica ends at {self.store.last_tx}: the ones between are no longer in it "
                "(retention). Start the replica again from a newer backup of the primary "
                "(mdsd replica --from-backup DIR)"
            ) from None

    def _check_same(self, report: TxReport) -> None:
        """A transaction the store has: the same one, or the topic is another log's."""
        ours = self.store.instant_of(report.tx)
        if ours is not None and ours != report.at:
            raise ForeignLog(
                f"transaction {report.tx} in {self.config.topic!r} was committed at "
                f"{iso(report.at)}, this replica's at {iso(ours)}: the topic follows another "
                "primary's log (a restored primary needs a new topic, and its replicas a new "
                "start from its backup: docs/replication.md)"
            )

    async def _measure(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        ends = {partition: consumer.highwater(partition) for partition in partitions}
        if None in ends.values():  # known from fetches that brought messages; else asked
            ends = await consumer.end_offsets(partitions)
        behind = 0
        for partition, end in ends.items():
            behind += max(0, end - await consumer.position(partition))
        self.behind_messages = behind
        self.last_error = None

    def status(self) -> dict[str, Any]:
        """For ``mds status``: how far the replica got, and how far behind the primary."""
        behind_seconds = None
        if self.behind_messages == 0:
            behind_seconds = 0.0
        elif self.applied_at is not None:
            behind_seconds = round(max(0.0, time.time() - self.applied_at), 3)
        return {
            "topic": self.config.topic,
            "primary": self.config.primary_name,
            "applied_tx": self.store.last_tx,
            "applied_since_start": self.applied,
            "last_applied_committed_at": iso_epoch(self.applied_at),
            "behind_messages": self.behind_messages,
            "behind_seconds": behind_seconds,
            "last_error": self.last_error,
        }
